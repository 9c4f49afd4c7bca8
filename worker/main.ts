// Worker process entrypoint (`npm run start:worker`). Production runs it as its own, independently
// scaled process; `npm start` composes it with the rest. SIGINT/SIGTERM drain it: polling stops,
// in-flight activities get the grace time, then the process exits.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { amazonPayClientFromCredentials } from '../amazon-pay';
import { amazonPayCredentials, ConfigError, parseEnv, readAll, requirePayloadCodecKeys, temporalConnectionOptions, webhookEndpoints } from '../config';
import { paymentDataConverter } from '../temporal/data-converter';
import { createPaymentWorker } from './worker';

try {
  const env = parseEnv();
  const { credentials, connectionOptions, codecKeys, endpoints } = readAll({
    credentials: () => amazonPayCredentials(env),
    connectionOptions: () => temporalConnectionOptions(env),
    codecKeys: () => requirePayloadCodecKeys(env),
    endpoints: () => webhookEndpoints(env),
  });
  const dataConverter = paymentDataConverter(codecKeys);
  const connection = await NativeConnection.connect(connectionOptions);
  const clientConnection = await Connection.connect(connectionOptions);
  const temporal = new Client({ connection: clientConnection, namespace: env.TEMPORAL_NAMESPACE, dataConverter });
  const worker = await createPaymentWorker({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    amazonPay: amazonPayClientFromCredentials(credentials),
    temporal,
    dataConverter,
    webhooks: { endpoints, retryScheduleMs: env.WEBHOOK_RETRY_SCHEDULE.map((s) => s * 1000), timeoutMs: env.WEBHOOK_TIMEOUT_MS },
  });
  console.log(
    `worker: polling task queue "${env.TEMPORAL_TASK_QUEUE}" on ${connectionOptions.address} (namespace ${env.TEMPORAL_NAMESPACE}); payloads encrypted with key "${dataConverter.payloadCodecs[0].encryptingKeyId}"`,
  );
  await worker.run();
  await clientConnection.close();
  await connection.close();
  console.log('worker: stopped');
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
}
