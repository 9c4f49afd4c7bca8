// API process entrypoint (`npm run start:api`): the storefront API, the buyer return handler and
// the IPN endpoint. It needs Temporal and the button-signing key, never a connection to Amazon Pay.
import { serve } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { amazonPayClientFromCredentials } from '../amazon-pay';
import {
  amazonPayCredentials,
  apiKeys,
  codecServerToken,
  ConfigError,
  connectTemporal,
  logLevelOf,
  metricsAddress,
  parseEnv,
  readAll,
  requirePayloadCodecKeys,
  temporalConnection,
} from '../config';
import { createLogger } from '../observability/logger';
import { createApiMetrics, startMetricsServer, type MetricsServer } from '../observability/metrics';
import { paymentDataConverter } from '../temporal/data-converter';
import { createApiFromEnv } from './compose';
import { requestIdClientInterceptors } from '../temporal/request-id';

const logger = createLogger({ component: 'api', level: logLevelOf() });
try {
  const env = parseEnv();
  const { keys, credentials, storeId, temporalAt, codecKeys, codecToken } = readAll({
    keys: () => {
      const keys = apiKeys(env);
      if (keys.length === 0)
        throw new ConfigError(['API_KEYS or API_KEYS_FILE: at least one storefront API key is required']);
      return keys;
    },
    credentials: () => amazonPayCredentials(env),
    // The button payload and server-side sessions carry it; without it every checkout would fail.
    storeId: () =>
      env.AMAZON_PAY_STORE_ID ??
      missing('AMAZON_PAY_STORE_ID: required (the client id of your Amazon Pay store, from Seller Central)'),
    temporalAt: () => temporalConnection(),
    codecKeys: () => requirePayloadCodecKeys(env),
    codecToken: () => codecServerToken(env),
  });
  const dataConverter = paymentDataConverter(codecKeys);
  const connection = await connectTemporal(temporalAt, () => Connection.connect(temporalAt.options));
  const temporal = new Client({
    connection,
    namespace: temporalAt.namespace,
    dataConverter,
    interceptors: requestIdClientInterceptors,
  });
  const metricsAt = metricsAddress(env, env.API_METRICS_PORT);
  const metrics = metricsAt ? createApiMetrics() : undefined;
  let metricsServer: MetricsServer | undefined;
  if (metricsAt && metrics) {
    metricsServer = await startMetricsServer({
      host: metricsAt.host,
      port: metricsAt.port,
      path: '/metrics',
      registry: metrics.registry,
    });
    logger.info({ url: metricsServer.url }, `api: metrics on ${metricsServer.url}`);
  }
  const app = createApiFromEnv(env, {
    ...(metrics ? { metrics } : {}),
    temporal,
    buttonSigner: amazonPayClientFromCredentials(credentials),
    apiKeys: keys,
    storeId,
    logger,
    ...(codecToken ? { codecServer: { codec: dataConverter.payloadCodecs[0], token: codecToken } } : {}),
  });
  if (!codecToken)
    logger.info('api: codec endpoint not served (set CODEC_SERVER_TOKEN or CODEC_SERVER_TOKEN_FILE to serve /codec)');
  const server = serve({ fetch: app.fetch, hostname: env.API_HOST, port: env.API_PORT }, (info) =>
    logger.info(
      {
        url: `http://${info.address}:${info.port}`,
        docs: `http://${info.address}:${info.port}/docs`,
        temporal: temporalAt.options.address,
        namespace: temporalAt.namespace,
        temporalSettings: temporalAt.source,
      },
      `api: listening on http://${info.address}:${info.port} (API reference: /docs), Temporal ${temporalAt.options.address} (namespace ${temporalAt.namespace}, from ${temporalAt.source})`,
    ),
  );
  server.once('error', (err) => {
    logger.fatal({ err }, `api: cannot listen on ${env.API_HOST}:${env.API_PORT}: ${err.message}`);
    void connection.close().finally(() => process.exit(1));
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // Stop accepting connections, let in-flight requests finish, then close Temporal.
    server.close(() => void Promise.all([metricsServer?.close(), connection.close()]).finally(() => process.exit(0)));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (err) {
  if (err instanceof ConfigError) logger.fatal({ problems: err.problems }, err.message);
  else logger.fatal({ err }, 'api: cannot start');
  process.exit(1);
}

function missing(problem: string): never {
  throw new ConfigError([problem]);
}
