// `npm run build:workflows [-- --out DIR]`: bundles the workflows ahead of time (default
// dist/workflows/) for WORKFLOW_BUNDLE_PATH=DIR/workflow-bundle.js; the Docker image runs it.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { logLevelOf } from '../config';
import { createLogger, temporalLogger } from '../observability/logger';
import { buildWorkflowBundle } from '../worker/bundle';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'dist/workflows' } } });
const logger = createLogger({ component: 'build', level: logLevelOf() });
const codePath = await buildWorkflowBundle(resolve(values.out), temporalLogger(logger));
console.log(`workflow bundle: ${codePath}\nrun the worker with WORKFLOW_BUNDLE_PATH=${codePath}`);
