/**
 * A complete, disposable stack for integration tests: the Amazon Pay simulator on a free port,
 * our Amazon Pay client signed with a freshly registered key, a worker on a task queue of its own,
 * and our HTTP API (as a Hono app for app.request(), and on a real port so the simulator can
 * deliver IPNs to it). Use it with `await using stack = await startTestStack()`.
 *
 * Every worker and client of the stack encrypts payloads with the test-only key (./codec.ts), so
 * every integration test runs encrypted like production.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { serve, type ServerType } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Hono } from 'hono';
import { AmazonPayClient } from '../../amazon-pay';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../simulator';
import { SimulatorAdmin } from '../../simulator/admin-client';
import { createApp } from '../../api/app';
import { bundleWorkflows, createPaymentWorker } from '../../worker/worker';
import type { WebhookEndpointConfig, WorkerTuning } from '../../config';
import { generateMerchantKey, type TestKeyPair } from './keys';
import { TEST_CODEC_KEYS, testDataConverter } from './codec';
import { installTestRuntime, testLogFile, testLogger } from './logs';
import { temporalLogger } from '../../observability/logger';
import { requestIdClientInterceptors } from '../../temporal/request-id';
import { amazonPayCallMetrics, createApiMetrics, type ApiMetrics } from '../../observability/metrics';

export { testCodec, testDataConverter } from './codec';

export const IPN_PATH = '/amazon-pay/ipn';
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundled once per test file (each file runs in its own fork). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  // Replay (Worker.runReplayHistories) uses the Runtime too: it logs into this file's log as well.
  installTestRuntime();
  bundle ??= bundleWorkflows(temporalLogger(testLogger()));
  return bundle;
}

export interface StackWorker {
  /** Stops the in-process worker (drains it). */
  stop(): Promise<void>;
  /** Starts a new in-process worker on the same task queue. */
  start(): Promise<void>;
  /** Runs worker/main.ts as a child process on the same task queue (SIGKILL, SIGTERM, prebuilt bundle tests). */
  spawnProcess(options?: { env?: Record<string, string> }): Promise<WorkerProcess>;
}

export interface WorkerProcess {
  pid: number;
  /** SIGKILL: no graceful shutdown, in-flight activities are lost mid-request. */
  kill(): void;
  /** SIGTERM: the worker drains (worker/main.ts). */
  terminate(): void;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Everything it printed so far. */
  output(): string;
}

export interface TestStack extends AsyncDisposable {
  temporal: Client;
  namespace: string;
  taskQueue: string;
  simulator: RunningSimulator;
  admin: SimulatorAdmin;
  amazonPay: AmazonPayClient;
  merchantKey: TestKeyPair;
  app: Hono;
  /** The API's metrics (serve them with startMetricsServer to scrape). */
  apiMetrics: ApiMetrics;
  apiKey: string;
  apiUrl: string;
  ipnPath: string;
  worker: StackWorker;
}

export interface TestStackOptions {
  simulator?: SimulatorOptions;
  /** Start the in-process worker (default true). */
  worker?: boolean;
  /** Deliver the simulator's IPNs to our API (default true). */
  ipn?: boolean;
  /** Use this Temporal client/connection instead of the dev server (time-skipping stack); the client must use testDataConverter. */
  temporal?: {
    client: Client;
    nativeConnection: NativeConnection;
    namespace: string;
    address: string;
    /** The API's client, when it must differ from the tests' (the time-skipping stack: see there). */
    apiClient?: Client;
  };
  /** Merchant webhook endpoints of the worker (in-process and spawned). */
  webhooks?: { endpoints: WebhookEndpointConfig[]; retryScheduleMs: number[]; timeoutMs: number };
  /** The in-process and spawned workers' tuning (e.g. maxCachedWorkflows 0: no sticky queue to hand over). */
  workerTuning?: WorkerTuning;
  /** The merchant account's Amazon region (default na; the simulator serves them all). */
  region?: 'na' | 'eu' | 'jp';
}

export async function startTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  // The worker and the API log into this file's log (test/support/logs.ts), not the console.
  installTestRuntime();
  const cleanups: Array<() => Promise<void>> = [];
  const dispose = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        console.warn('test stack cleanup failed', err);
      }
    }
  };
  try {
    const namespace = options.temporal?.namespace ?? inject('temporalNamespace');
    let temporal: Client;
    let nativeConnection: NativeConnection;
    if (options.temporal) {
      temporal = options.temporal.client;
      nativeConnection = options.temporal.nativeConnection;
    } else {
      const address = inject('temporalAddress');
      const connection = await Connection.connect({ address });
      cleanups.push(() => connection.close());
      temporal = new Client({
        connection,
        namespace,
        dataConverter: testDataConverter,
        interceptors: requestIdClientInterceptors,
      });
      nativeConnection = await NativeConnection.connect({ address });
      cleanups.push(() => nativeConnection.close());
    }
    const taskQueue = `test-${randomUUID()}`;

    const merchantKey = generateMerchantKey();
    const simulator = await startSimulator({
      ...options.simulator,
      publicKeys: { ...options.simulator?.publicKeys, [merchantKey.publicKeyId]: merchantKey.publicKeyPem },
    });
    cleanups.push(() => simulator.close());
    const admin = new SimulatorAdmin(simulator.url);
    const amazonPay = new AmazonPayClient({
      publicKeyId: merchantKey.publicKeyId,
      privateKey: merchantKey.privateKeyPem,
      region: options.region ?? 'na',
      sandbox: true,
      baseUrl: simulator.url,
      timeoutMs: 10_000,
      // Counted like the worker process counts them (a no-op unless the Runtime exports metrics).
      onCall: amazonPayCallMetrics(Runtime.instance().metricMeter),
    });

    const apiKey = `test-key-${randomUUID()}`;
    const apiMetrics = createApiMetrics({ processMetrics: false });
    const app = createApp({
      logger: testLogger().child({ component: 'api' }),
      metrics: apiMetrics,
      checkout: {
        temporal: options.temporal?.apiClient ?? temporal,
        taskQueue,
        apiKeys: [apiKey],
        buttonSigner: amazonPay,
        storeId: 'amzn1.application-oa2-client.00000000000000000000000000000000',
        bodyLimitBytes: 64 * 1024,
        createSessionWorkflowType: 'createCheckoutSessionWorkflow',
      },
      ipn: {
        temporal,
        taskQueue,
        path: IPN_PATH,
        certHostPattern: /^127\.0\.0\.1$/,
        confirmSubscriptions: true,
        bodyLimitBytes: 64 * 1024,
      },
    });
    const server: ServerType = await new Promise((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
    });
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const addr = server.address();
    const apiUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    if (options.ipn !== false) simulator.configureIpn({ url: `${apiUrl}${IPN_PATH}` });

    let current: { worker: Worker; running: Promise<void> } | undefined;
    const start = async () => {
      if (current) return;
      const worker = await createPaymentWorker({
        connection: nativeConnection,
        namespace,
        taskQueue,
        amazonPay,
        temporal,
        dataConverter: testDataConverter,
        workflowBundle: await workflowBundle(),
        shutdownGraceTime: '2s',
        ...(options.webhooks ? { webhooks: options.webhooks } : {}),
        ...(options.workerTuning ? { tuning: options.workerTuning } : {}),
      });
      current = { worker, running: worker.run() };
    };
    const stop = async () => {
      if (!current) return;
      const { worker, running } = current;
      current = undefined;
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    };
    const children: WorkerProcess[] = [];
    const spawnProcess = async (spawnOptions: { env?: Record<string, string> } = {}): Promise<WorkerProcess> => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: options.temporal?.address ?? inject('temporalAddress'),
          TEMPORAL_NAMESPACE: namespace,
          TEMPORAL_TASK_QUEUE: taskQueue,
          AMAZON_PAY_PUBLIC_KEY_ID: merchantKey.publicKeyId,
          AMAZON_PAY_PRIVATE_KEY: merchantKey.privateKeyPem,
          AMAZON_PAY_REGION: options.region ?? 'na',
          ...(options.workerTuning?.maxCachedWorkflows !== undefined
            ? { WORKER_MAX_CACHED_WORKFLOWS: String(options.workerTuning.maxCachedWorkflows) }
            : {}),
          AMAZON_PAY_SANDBOX: 'true',
          AMAZON_PAY_BASE_URL: simulator.url,
          PAYLOAD_CODEC_KEYS: TEST_CODEC_KEYS,
          PAYLOAD_CODEC_KEYS_FILE: '',
          ...(options.webhooks
            ? {
                WEBHOOK_ENDPOINTS: JSON.stringify(options.webhooks.endpoints),
                WEBHOOK_RETRY_SCHEDULE: options.webhooks.retryScheduleMs
                  .map((ms) => Math.max(1, Math.round(ms / 1000)))
                  .join(','),
                WEBHOOK_TIMEOUT_MS: String(options.webhooks.timeoutMs),
              }
            : {}),
          // Its "worker: polling" line is what we wait for.
          LOG_LEVEL: 'info',
          ...spawnOptions.env,
        },
      });
      let output = '';
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        // Stays attached: output() is everything the process printed.
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('worker: polling')) resolve();
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        void exited.then(() => reject(new Error(`worker process exited before polling:\n${output}`)));
      });
      // Its whole output, for a failing test: next to this file's log, named by its pid.
      const log = createWriteStream(testLogFile().replace(/\.log$/, `.worker-${child.pid}.log`));
      log.write(output);
      child.stdout.pipe(log);
      child.stderr.pipe(log);
      const handle: WorkerProcess = {
        pid: child.pid!,
        kill: () => child.kill('SIGKILL'),
        terminate: () => child.kill('SIGTERM'),
        exited,
        output: () => output,
      };
      children.push(handle);
      return handle;
    };
    cleanups.push(async () => {
      for (const c of children) {
        c.kill();
        await c.exited;
      }
    });
    cleanups.push(stop);
    if (options.worker !== false) await start();

    return {
      temporal,
      namespace,
      taskQueue,
      simulator,
      admin,
      amazonPay,
      merchantKey,
      app,
      apiMetrics,
      apiKey,
      apiUrl,
      ipnPath: IPN_PATH,
      worker: { start, stop, spawnProcess },
      [Symbol.asyncDispose]: dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}
