/**
 * The README's first command (`npm start`): the whole service on its embedded default.
 *
 * - Temporal: a dev server with SQLite persistence in $DATA_DIR (state survives a restart) and the
 *   Web UI on :8233, unless a Temporal profile or TEMPORAL_ADDRESS names an existing cluster.
 * - Amazon Pay: the local simulator with a merchant key generated into $DATA_DIR, unless Amazon Pay
 *   credentials are configured (then the real sandbox or live API).
 * - Payload encryption: the keys in PAYLOAD_CODEC_KEYS(_FILE), or a development key generated once
 *   into $DATA_DIR/payload-codec-keys; the codec endpoint ($API/codec) with the operator credential
 *   in CODEC_SERVER_TOKEN(_FILE) or generated into $DATA_DIR/codec-server-token, and the embedded
 *   Web UI pointed at it, so it shows decrypted payloads.
 * - The worker and the HTTP API, composed in this process (production runs worker/main.ts and
 *   api/main.ts as separate processes).
 *
 * Ctrl-C shuts down in order: stop accepting HTTP, drain the worker, stop the simulator, stop the
 * dev server. Nothing is left running.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { amazonPayClientFromCredentials } from '../amazon-pay';
import {
  amazonPayCredentials,
  apiKeys,
  codecServerToken,
  ConfigError,
  logLevelOf,
  metricsAddress,
  parseEnv,
  payloadCodecKeys,
  temporalConnection,
  type TemporalConnectionOptions,
  webhookEndpoints,
  workerTuning,
  type AmazonPayCredentials,
} from '../config';
import { createLogger } from '../observability/logger';
import { amazonPayCallMetrics, createApiMetrics, startMetricsServer } from '../observability/metrics';
import { generateCodecKey } from '../temporal/codec';
import { paymentDataConverter } from '../temporal/data-converter';
import { installWorkerRuntime } from '../worker/runtime';
import { createPaymentWorker } from '../worker/worker';
import { createApiFromEnv } from '../api/compose';
import { startDevServer, type DevServer } from './dev-server';
import { generateMerchantKey, type MerchantKeyPair } from './merchant-key';
import { ensureTemporalCli, ProvisioningError } from './provision';
import { requestIdClientInterceptors } from '../temporal/request-id';

// What this command is doing and its URLs are its own plain lines; what the parts it runs report
// (worker, SDK, workflows, activities, API requests, IPNs) are JSON lines of the one logger, at
// warn unless LOG_LEVEL says otherwise, so a new user sees progress and problems, not every request.
const log = (line: string) => console.log(`[start] ${line}`);
const logger = createLogger({ level: logLevelOf(process.env, 'warn') });
const stack: Array<{ name: string; stop: () => Promise<unknown> }> = [];
let shuttingDown = false;

async function shutdown(code: number) {
  if (shuttingDown) return;
  shuttingDown = true;
  log('shutting down');
  for (const { name, stop } of stack.reverse()) {
    try {
      await stop();
      log(`  stopped ${name}`);
    } catch (err) {
      log(`  ${name}: ${(err as Error).message}`);
    }
  }
  process.exit(code);
}

try {
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  const env = parseEnv();
  const workerMetrics = metricsAddress(env, env.WORKER_METRICS_PORT);
  // Signals are ours: the Temporal runtime must not shut the worker down before HTTP stops.
  installWorkerRuntime({
    logger: logger.child({ component: 'worker' }),
    shutdownSignals: [],
    ...(workerMetrics ? { metricsBindAddress: workerMetrics.bindAddress } : {}),
  });
  const dataDir = resolve(env.DATA_DIR);
  mkdirSync(dataDir, { recursive: true });

  // Payload encryption: buyer data never reaches Temporal in clear, not even on a laptop.
  const keysFromEnv = payloadCodecKeys(env);
  const codecKeys =
    keysFromEnv.length > 0
      ? keysFromEnv
      : payloadCodecKeys({ ...env, PAYLOAD_CODEC_KEYS_FILE: loadOrCreateCodecKeyFile(dataDir) });
  const dataConverter = paymentDataConverter(codecKeys);
  const codecToken = codecServerToken(env) ?? loadOrCreateSecret(dataDir, 'codec-server-token', 'codec_dev_');
  const apiUrl = `http://${env.API_HOST}:${env.API_PORT}`;
  // The Web UI takes only a URL for its codec server: the credential rides in the path.
  const uiCodecEndpoint = `${apiUrl}/codec/${codecToken}`;

  // Temporal: the profile or TEMPORAL_* variables when they name a server (as for the temporal CLI),
  // otherwise a dev server of our own.
  const temporalAt = temporalConnection();
  const namespace = temporalAt.namespace;
  let connectionOptions: TemporalConnectionOptions = temporalAt.options;
  let uiUrl: string | undefined;
  if (!temporalAt.addressConfigured) {
    const cliPath = await ensureTemporalCli((l) => log(l));
    log(`starting the Temporal dev server (${cliPath}), data in ${join(dataDir, 'temporal.db')}`);
    const server: DevServer = await startDevServer({
      cliPath,
      port: env.TEMPORAL_PORT,
      uiPort: env.TEMPORAL_UI_PORT,
      uiCodecEndpoint,
      dbFile: join(dataDir, 'temporal.db'),
      namespace,
      logLevel: 'error',
    });
    stack.push({ name: 'Temporal dev server', stop: () => server.stop() });
    connectionOptions = { address: server.address };
    uiUrl = server.uiUrl;
  }
  const address = connectionOptions.address;

  // Amazon Pay: real credentials, or the simulator with a key of our own.
  let credentials: AmazonPayCredentials;
  let simulator: import('../simulator').RunningSimulator | undefined;
  if (env.AMAZON_PAY_PUBLIC_KEY_ID) {
    credentials = amazonPayCredentials(env);
  } else {
    const { startSimulator } = await import('../simulator');
    const key = loadOrCreateMerchantKey(dataDir);
    const sim = await startSimulator({
      port: env.SIMULATOR_PORT,
      publicKeys: { [key.publicKeyId]: key.publicKeyPem },
    });
    simulator = sim;
    stack.push({ name: 'Amazon Pay simulator', stop: () => sim.close() });
    credentials = {
      publicKeyId: key.publicKeyId,
      privateKey: key.privateKeyPem,
      region: env.AMAZON_PAY_REGION,
      sandbox: true,
      algorithm: env.AMAZON_PAY_ALGORITHM,
      baseUrl: sim.url,
      storeId: env.AMAZON_PAY_STORE_ID ?? 'amzn1.application-oa2-client.5e1a7e5e1a7e5e1a7e5e1a7e5e1a7e5e',
      timeoutMs: env.AMAZON_PAY_TIMEOUT_MS,
    };
  }
  const amazonPay = amazonPayClientFromCredentials(credentials, {
    onCall: amazonPayCallMetrics(Runtime.instance().metricMeter),
  });

  // Worker
  const clientConnection = await Connection.connect(connectionOptions);
  stack.push({ name: 'Temporal client connection', stop: () => clientConnection.close() });
  const temporal = new Client({
    connection: clientConnection,
    namespace,
    dataConverter,
    interceptors: requestIdClientInterceptors,
  });
  const nativeConnection = await NativeConnection.connect(connectionOptions);
  stack.push({ name: 'worker connection', stop: () => nativeConnection.close() });
  // Merchant events go where WEBHOOK_ENDPOINTS says; unset, to the demo storefront (with the simulator).
  const demoRuns = simulator !== undefined && env.DEMO_PORT !== 0;
  let endpoints = webhookEndpoints(env);
  const demoWebhookSecret =
    demoRuns && endpoints.length === 0
      ? loadOrCreateSecret(dataDir, 'demo-webhook-secret', 'whsec_', 'base64')
      : undefined;
  if (demoWebhookSecret)
    endpoints = [
      { id: 'demo-storefront', url: `http://${env.API_HOST}:${env.DEMO_PORT}/webhooks`, secrets: [demoWebhookSecret] },
    ];
  log('bundling workflows and starting the worker');
  const worker = await createPaymentWorker({
    connection: nativeConnection,
    namespace,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    amazonPay,
    temporal,
    dataConverter,
    webhooks: {
      endpoints,
      retryScheduleMs: env.WEBHOOK_RETRY_SCHEDULE.map((s) => s * 1000),
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
    },
    tuning: workerTuning(env),
  });
  const running = worker.run();
  running.catch((err: unknown) => {
    logger.error({ component: 'worker', err }, 'the worker stopped with an error');
    void shutdown(1);
  });
  stack.push({
    name: 'worker (drained)',
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  });

  // HTTP API
  let keys = apiKeys(env);
  if (keys.length === 0) {
    keys = [loadOrCreateSecret(dataDir, 'api-key', 'sk_dev_')];
  }
  // The simulator signs IPNs with its own certificate, served from its own host: trust that host
  // (and only it) when we run it; real deployments keep the sns.<region>.amazonaws.com pattern.
  const ipnEnv = simulator
    ? { ...env, IPN_CERT_HOST_PATTERN: `^${new URL(simulator.url).hostname.replace(/\./g, '\\.')}$` }
    : env;
  // The Web UI we started may sit on another port than the default origins name.
  const uiOrigin = uiUrl ? [new URL(uiUrl).origin] : [];
  const apiEnv = {
    ...ipnEnv,
    CODEC_SERVER_CORS_ORIGINS: [...new Set([...env.CODEC_SERVER_CORS_ORIGINS, ...uiOrigin])],
  };
  const apiMetricsAt = metricsAddress(env, env.API_METRICS_PORT);
  const apiMetrics = apiMetricsAt ? createApiMetrics() : undefined;
  let apiMetricsUrl: string | undefined;
  if (apiMetricsAt && apiMetrics) {
    const metricsServer = await startMetricsServer({
      host: apiMetricsAt.host,
      port: apiMetricsAt.port,
      path: '/metrics',
      registry: apiMetrics.registry,
    });
    stack.push({ name: 'API metrics', stop: () => metricsServer.close() });
    apiMetricsUrl = metricsServer.url;
  }
  const app = createApiFromEnv(apiEnv, {
    ...(apiMetrics ? { metrics: apiMetrics } : {}),
    temporal,
    buttonSigner: amazonPay,
    apiKeys: keys,
    storeId: credentials.storeId,
    codecServer: { codec: dataConverter.payloadCodecs[0], token: codecToken },
    logger: logger.child({ component: 'api' }),
  });
  const server: ServerType = await new Promise((res, rej) => {
    const s = serve({ fetch: app.fetch, hostname: env.API_HOST, port: env.API_PORT }, () => res(s));
    // EADDRINUSE and friends: fail through shutdown, which stops what already runs (the dev server).
    s.once('error', rej);
  });
  // First in the shutdown order: stop accepting HTTP before the worker drains.
  stack.push({ name: 'HTTP API', stop: () => new Promise<void>((res) => server.close(() => res())) });
  simulator?.configureIpn({ url: `${apiUrl}${env.IPN_PATH}` });

  // A demo shop to click through a checkout, only against the simulator (it is not the product).
  let demoUrl: string | undefined;
  if (simulator && demoRuns) {
    const { startDemoStorefront } = await import('../demo/storefront');
    const demo = await startDemoStorefront({
      apiUrl,
      apiKey: keys[0]!,
      port: env.DEMO_PORT,
      hostname: env.API_HOST,
      amazonPayScriptUrl: `${simulator.url}/checkout.js`,
      temporalUiUrl: uiUrl ?? null,
      temporalNamespace: namespace,
      ...(demoWebhookSecret ? { webhookSecret: demoWebhookSecret } : {}),
    });
    demoUrl = demo.url;
    stack.push({ name: 'demo storefront', stop: () => demo.close() });
  }

  console.log(`
  Amazon Pay on Temporal is running.

    Temporal Web UI     ${uiUrl ?? `(attached to ${address}; use your cluster's UI)`}
    Temporal frontend   ${address}  (temporal workflow list --address ${address})
    HTTP API            ${apiUrl}   health: ${apiUrl}/health   OpenAPI: ${apiUrl}/openapi.json
    API reference       ${apiUrl}/docs   (try the endpoints with the API key below)
    Metrics             ${apiMetricsUrl || workerMetrics ? [apiMetricsUrl && `API ${apiMetricsUrl}`, workerMetrics && `worker http://${workerMetrics.bindAddress}/metrics`].filter(Boolean).join('   ') : 'off (set API_METRICS_PORT and WORKER_METRICS_PORT)'}
    API key             ${keys[0]}${env.API_KEYS || env.API_KEYS_FILE ? '' : `   (generated, stored in ${join(dataDir, 'api-key')})`}
    IPN endpoint        ${apiUrl}${env.IPN_PATH}
    Payload encryption  key "${dataConverter.payloadCodecs[0].encryptingKeyId}"${keysFromEnv.length > 0 ? '' : ` (development key, generated, stored in ${join(dataDir, 'payload-codec-keys')})`}
    Codec endpoint      ${apiUrl}/codec   token ${codecToken}${env.CODEC_SERVER_TOKEN || env.CODEC_SERVER_TOKEN_FILE ? '' : ` (generated, stored in ${join(dataDir, 'codec-server-token')})`}
                        temporal workflow show -w <id> --address ${address} --codec-endpoint ${apiUrl}/codec --codec-auth "Bearer <token>"
                        ${uiUrl ? 'the Web UI above already decodes through it' : `Web UI: Settings > Codec Server > ${apiUrl}/codec/<token>`}
${demoUrl ? `    Demo storefront     ${demoUrl}   (a demo shop: buy something, then watch it in the Web UI)\n` : ''}    Merchant events     ${endpoints.length === 0 ? 'recorded, sent nowhere (set WEBHOOK_ENDPOINTS)' : endpoints.map((e) => e.url).join(', ')}${demoWebhookSecret ? ' (the demo storefront verifies them)' : ''}
    Amazon Pay          ${simulator ? `simulator at ${simulator.url} (admin: ${simulator.url}/__admin)` : (credentials.baseUrl ?? `the real API (${credentials.region}, ${credentials.publicKeyId.toUpperCase().startsWith('LIVE') || !credentials.sandbox ? 'live' : 'sandbox'})`)}

  Ctrl-C stops everything.
`);
} catch (err) {
  if (err instanceof ConfigError || err instanceof ProvisioningError) console.error(`\n${err.message}\n`);
  else if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
    console.error(
      `\n${(err as Error).message}: another process holds this port; stop it or set the port variable (see .env.example)\n`,
    );
  else console.error(err);
  await shutdown(1);
}

function loadOrCreateMerchantKey(dataDir: string): MerchantKeyPair {
  const file = join(dataDir, 'simulator-merchant-key.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const key = generateMerchantKey();
  writeFileSync(file, JSON.stringify(key, null, 2), { mode: 0o600 });
  return key;
}

/** A development encryption key, generated once into the data folder (never the repository). */
function loadOrCreateCodecKeyFile(dataDir: string): string {
  const file = join(dataDir, 'payload-codec-keys');
  if (!existsSync(file)) {
    const id = `dev-${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`;
    writeFileSync(
      file,
      `# Development payload encryption key of npm start. First line encrypts; older lines decrypt.\n${generateCodecKey(id)}\n`,
      { mode: 0o600 },
    );
  }
  return file;
}

/** A development secret (API key, codec credential), generated once into the data folder. */
function loadOrCreateSecret(
  dataDir: string,
  name: string,
  prefix: string,
  encoding: 'base64url' | 'base64' = 'base64url',
): string {
  const file = join(dataDir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = `${prefix}${randomBytes(24).toString(encoding)}`;
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
