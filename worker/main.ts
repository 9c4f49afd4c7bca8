// Worker process entrypoint (`npm run start:worker`). Production runs it as its own, independently
// scaled process; `npm start` composes it with the rest. SIGINT/SIGTERM drain it (the Runtime's
// shutdown signals): polling stops, in-flight activities get WORKER_SHUTDOWN_GRACE_TIME_MS, then
// they are cancelled and the process exits. WORKFLOW_BUNDLE_PATH loads a prebuilt bundle.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { amazonPayClientFromCredentials } from '../amazon-pay';
import {
  amazonPayCredentials,
  ConfigError,
  connectTemporal,
  inboxOptions,
  logLevelOf,
  metricsAddress,
  parseEnv,
  readAll,
  requirePayloadCodecKeys,
  temporalConnection,
  webhookEndpoints,
  workerTuning,
} from '../config';
import { createLogger } from '../observability/logger';
import { amazonPayCallMetrics } from '../observability/metrics';
import { paymentDataConverter } from '../temporal/data-converter';
import { installWorkerRuntime } from './runtime';
import { createPaymentWorker } from './worker';
import { loadPrebuiltBundle } from './bundle';
import { requestIdClientInterceptors } from '../temporal/request-id';

const logger = createLogger({ component: 'worker', level: logLevelOf() });
try {
  const env = parseEnv();
  // Before the first connection: the SDK, workflow and activity lines all go to our logger.
  const metrics = metricsAddress(env, env.WORKER_METRICS_PORT);
  installWorkerRuntime({ logger, ...(metrics ? { metricsBindAddress: metrics.bindAddress } : {}) });
  if (metrics)
    logger.info(
      { url: `http://${metrics.bindAddress}/metrics` },
      `worker: metrics on http://${metrics.bindAddress}/metrics`,
    );
  const { credentials, temporalAt, codecKeys, endpoints, bundle } = readAll({
    credentials: () => amazonPayCredentials(env),
    temporalAt: () => temporalConnection(),
    codecKeys: () => requirePayloadCodecKeys(env),
    endpoints: () => webhookEndpoints(env),
    bundle: () => (env.WORKFLOW_BUNDLE_PATH ? loadPrebuiltBundle(env.WORKFLOW_BUNDLE_PATH) : undefined),
  });
  if (bundle) {
    const { codePath, manifest, stale } = bundle;
    if (stale)
      logger.warn(
        { codePath, builtAt: manifest.builtAt },
        'worker: the workflow bundle is older than the workflow sources next to it',
      );
    else logger.info({ codePath, builtAt: manifest.builtAt }, `worker: workflows from the prebuilt bundle ${codePath}`);
  }
  const dataConverter = paymentDataConverter(codecKeys);
  const connection = await connectTemporal(temporalAt, () => NativeConnection.connect(temporalAt.options));
  const clientConnection = await connectTemporal(temporalAt, () => Connection.connect(temporalAt.options));
  const temporal = new Client({
    connection: clientConnection,
    namespace: temporalAt.namespace,
    dataConverter,
    interceptors: requestIdClientInterceptors,
  });
  const worker = await createPaymentWorker({
    connection,
    namespace: temporalAt.namespace,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    amazonPay: amazonPayClientFromCredentials(credentials, {
      onCall: amazonPayCallMetrics(Runtime.instance().metricMeter),
    }),
    temporal,
    dataConverter,
    webhooks: {
      endpoints,
      retryScheduleMs: env.WEBHOOK_RETRY_SCHEDULE.map((s) => s * 1000),
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
    },
    tuning: workerTuning(env),
    inboxOptions: inboxOptions(env),
    ...(bundle ? { workflowBundle: { codePath: bundle.codePath } } : {}),
    shutdownGraceTime: env.WORKER_SHUTDOWN_GRACE_TIME_MS,
    ...(env.WORKER_SHUTDOWN_FORCE_TIME_MS ? { shutdownForceTime: env.WORKER_SHUTDOWN_FORCE_TIME_MS } : {}),
  });
  const where = {
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    address: temporalAt.options.address,
    namespace: temporalAt.namespace,
    temporalSettings: temporalAt.source,
  };
  logger.info(
    { ...where, encryptingKeyId: dataConverter.payloadCodecs[0].encryptingKeyId },
    `worker: polling task queue "${where.taskQueue}" on ${where.address} (namespace ${where.namespace}, from ${where.temporalSettings})`,
  );
  await worker.run();
  await clientConnection.close();
  await connection.close();
  logger.info('worker: stopped');
  // An Amazon call given up by the drain may still hold a socket open; its retry runs elsewhere.
  process.exit(0);
} catch (err) {
  if (err instanceof ConfigError) logger.fatal({ problems: err.problems }, err.message);
  else logger.fatal({ err }, 'worker: cannot start or stopped with an error');
  process.exit(1);
}
