# One image for the worker and the API (and the simulator profile); the command picks the role.
# TypeScript runs through tsx; the one build output is the workflow bundle, made here from the
# same sources (worker/bundle.ts refuses a bundle from another SDK version), so the worker starts
# without webpack.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=dev
COPY amazon-pay ./amazon-pay
COPY activities ./activities
COPY api ./api
COPY config ./config
COPY observability ./observability
COPY simulator ./simulator
COPY temporal ./temporal
COPY workflows ./workflows
COPY worker ./worker
COPY tsconfig.json ./
COPY scripts/build-workflows.ts ./scripts/
RUN node --import tsx scripts/build-workflows.ts --out dist/workflows
ENV WORKFLOW_BUNDLE_PATH=/app/dist/workflows/workflow-bundle.js
USER node
CMD ["node", "--import", "tsx", "worker/main.ts"]
