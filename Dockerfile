# One image for the worker and the API (and the simulator profile); the command picks the role.
# TypeScript runs through tsx: there is no separate build output to keep in sync.
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
USER node
CMD ["node", "--import", "tsx", "worker/main.ts"]
