// What the subscription benchmarks (P4 per cycle, P5) share: Temporal's Java time-skipping test
// server (cycles are months apart; `elapse` moves Temporal's clock and the simulator's together,
// like test/support/time-skipping.ts), the Amazon Pay simulator in this process with its IPNs
// posted to our API's endpoint, a merchant webhook receiver, and the payment worker as its own
// process (worker/main.ts, as production runs it), so its RSS and Prometheus metrics are the
// worker's alone. Sign-ups go straight through the checkout workflow, as the tests' helper does.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { createServer as createHttpServer, type Server } from 'node:http';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime } from '@temporalio/worker';
import { Webhook } from 'standardwebhooks';
import { AmazonPayClient } from '../amazon-pay';
import { generateMerchantKey } from '../scripts/merchant-key';
import { ensureTimeSkippingServer } from '../scripts/provision';
import { startSimulator, type RunningSimulator } from '../simulator';
import { SimulatorAdmin } from '../simulator/admin-client';
import { generateCodecKey, parseCodecKeys } from '../temporal/codec';
import { paymentDataConverter } from '../temporal/data-converter';
import { openClock } from '../test/support/clock';
import { checkoutWorkflowId, completeUpdate, reviewUpdate, setFinalAmountUpdate } from '../workflows/checkout-messages';
import { searchAttributeTypes } from '../workflows/search-attributes';
import { subscriptionWorkflowId } from '../workflows/subscription-messages';
import { startStorefront, type Storefront } from './storefront';
import { STORE_ID } from './support';

const ELAPSE_STEP_MS = 6 * 3_600_000;
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const quiet = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (m: string) => console.error(m),
};

/** Verified merchant events by type and by subscription (`data.subscriptionId`). */
export interface EventReceiver {
  url: string;
  secret: string;
  byType: Map<string, number>;
  /** subscriptionId -> type -> count */
  bySubscription: Map<string, Map<string, number>>;
  verifyFailures: number;
  close(): Promise<void>;
}

export interface WorkerProcess {
  pid: number;
  /** VmRSS of the worker process, bytes (Linux /proc). */
  rssBytes(): Promise<number>;
  /** Workflows in the worker's sticky cache now (Core's `temporal_sticky_cache_size` gauge). */
  cachedWorkflows(): Promise<number | null>;
  /** The SDK's default maxCachedWorkflows for this node (the worker sets none): from the V8 heap limit. */
  cacheSize: number;
  /** The last lines it logged (for errors). */
  tail(): string;
}

export interface SubscriptionStack extends AsyncDisposable {
  env: TestWorkflowEnvironment;
  /** Encrypted like the worker; not the time-skipping client (its result() skips time freely). */
  temporal: Client;
  taskQueue: string;
  simulator: RunningSimulator;
  admin: SimulatorAdmin;
  amazonPay: AmazonPayClient;
  storefront: Storefront;
  receiver: EventReceiver;
  worker: WorkerProcess;
  serverVersion: string;
  /** Advances the simulator's clock and Temporal's together (timers due in that span fire). */
  elapse(ms: number): Promise<void>;
  /** Temporal's current time. */
  now(): Promise<number>;
  /** A recurring checkout (monthly unless told) whose first cycle is charged at checkout (AuthorizeWithCapture). */
  subscribe(
    n: number,
    options?: { amount?: string; unit?: 'Day' | 'Month' },
  ): Promise<{ chargePermissionId: string; subscriptionId: string }>;
}

async function startReceiver(): Promise<EventReceiver> {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const verifier = new Webhook(secret);
  const r: EventReceiver = {
    url: '',
    secret,
    byType: new Map(),
    bySubscription: new Map(),
    verifyFailures: 0,
    close: async () => undefined,
  };
  const server: Server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const event = verifier.verify(
          Buffer.concat(chunks).toString('utf8'),
          req.headers as Record<string, string>,
        ) as { type: string; data: { subscriptionId?: string | null } };
        r.byType.set(event.type, (r.byType.get(event.type) ?? 0) + 1);
        const sub = event.data.subscriptionId;
        if (sub) {
          const m = r.bySubscription.get(sub) ?? new Map<string, number>();
          m.set(event.type, (m.get(event.type) ?? 0) + 1);
          r.bySubscription.set(sub, m);
        }
        res.writeHead(204).end();
      } catch {
        r.verifyFailures++;
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`;
  r.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return r;
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });

/** The SDK's default (worker-options.js, reuseV8Context): 600 workflows per GiB of heap above 200 MiB. */
const defaultCacheSize = () =>
  Math.max(Math.floor((Math.max(v8.getHeapStatistics().heap_size_limit / 2 ** 20 - 200, 0) * 600) / 1024), 10);

async function spawnWorker(env: Record<string, string>): Promise<WorkerProcess & { stop(): Promise<void> }> {
  const metricsPort = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...env,
      WORKER_METRICS_PORT: String(metricsPort),
      METRICS_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    },
  });
  let tail = '';
  let ready = false;
  const exited = new Promise((resolve) => child.on('exit', resolve));
  // Never outlives the benchmark, however it ends.
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      // Keeps reading (a full pipe would block the worker); only the end is kept.
      tail = (tail + chunk.toString()).slice(-8000);
      if (!ready && tail.includes('worker: polling')) {
        ready = true;
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(() => reject(new Error(`worker process exited before polling:\n${tail}`)));
  });
  return {
    pid: child.pid!,
    cacheSize: defaultCacheSize(),
    tail: () => tail,
    async rssBytes() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    },
    async cachedWorkflows() {
      const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then(
        (r) => r.text(),
        () => '',
      );
      const line = text.split('\n').find((l) => /^temporal_sticky_cache_size[{ ]/.test(l));
      return line ? Number(line.trim().split(/\s+/).at(-1)) : null;
    },
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function startSubscriptionStack(): Promise<SubscriptionStack> {
  // Once per process: the dev-server benchmarks of the same run may have installed it already.
  try {
    Runtime.install({ logger: quiet });
  } catch {
    // already installed
  }
  const cleanup: Array<() => Promise<unknown>> = [];
  const dispose = async () => {
    for (const fn of cleanup) await fn().catch(() => undefined);
  };
  try {
    const codecKeys = generateCodecKey('bench');
    const dataConverter = paymentDataConverter(parseCodecKeys(codecKeys));
    const env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: await ensureTimeSkippingServer() } },
      client: { dataConverter },
    });
    cleanup.unshift(() => env.teardown());
    const namespace = env.namespace ?? 'default';
    await env.connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        Object.entries(searchAttributeTypes).map(([name, type]) => [
          name,
          type === 'Datetime'
            ? proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME
            : proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        ]),
      ),
    });
    const clock = await openClock(env);
    cleanup.unshift(() => clock.close());
    // Its own connection, pinging like the clock's: the Java server drops a connection that pings
    // every 30 s (the SDK's default) after a few minutes, failing the calls in flight.
    const connection = await Connection.connect({
      address: env.address,
      channelArgs: { 'grpc.keepalive_time_ms': 10 * 60_000, 'grpc.keepalive_permit_without_calls': 0 },
    });
    cleanup.unshift(() => connection.close());
    const temporal = new Client({ connection, namespace, dataConverter });
    const serverVersion = await env.connection.workflowService.getSystemInfo({}).then(
      (r) => `Java time-skipping test server ${r.serverVersion || '(version unknown)'}`,
      () => 'Java time-skipping test server',
    );

    const key = generateMerchantKey();
    const simulator = await startSimulator({ publicKeys: { [key.publicKeyId]: key.publicKeyPem } });
    cleanup.unshift(() => simulator.close());
    const admin = new SimulatorAdmin(simulator.url);
    const amazonPay = new AmazonPayClient({
      publicKeyId: key.publicKeyId,
      privateKey: key.privateKeyPem,
      region: 'na',
      sandbox: true,
      baseUrl: simulator.url,
    });
    const taskQueue = `bench-subscriptions-${randomUUID()}`;
    const storefront = await startStorefront({ temporal, taskQueue, amazonPay, admin });
    cleanup.unshift(async () => storefront[Symbol.asyncDispose]());
    simulator.configureIpn({ url: storefront.ipnUrl });
    const receiver = await startReceiver();
    cleanup.unshift(() => receiver.close());

    const worker = await spawnWorker({
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      AMAZON_PAY_PUBLIC_KEY_ID: key.publicKeyId,
      AMAZON_PAY_PRIVATE_KEY: key.privateKeyPem,
      AMAZON_PAY_REGION: 'na',
      AMAZON_PAY_SANDBOX: 'true',
      AMAZON_PAY_BASE_URL: simulator.url,
      PAYLOAD_CODEC_KEYS: codecKeys,
      PAYLOAD_CODEC_KEYS_FILE: '',
      WEBHOOK_ENDPOINTS: JSON.stringify([{ id: 'bench', url: receiver.url, secrets: [receiver.secret] }]),
      WEBHOOK_RETRY_SCHEDULE: '1,5',
      WEBHOOK_TIMEOUT_MS: '5000',
    });
    cleanup.unshift(() => worker.stop());

    const subscribe: SubscriptionStack['subscribe'] = async (n, { amount = '10.00', unit = 'Month' } = {}) => {
      const session = await amazonPay.createCheckoutSession(
        {
          storeId: STORE_ID,
          webCheckoutDetails: { checkoutReviewReturnUrl: 'https://shop.example/review' },
          chargePermissionType: 'Recurring',
          recurringMetadata: { frequency: { unit, value: '1' }, amount: { amount, currencyCode: 'USD' } },
        },
        { idempotencyKey: randomUUID().replace(/-/g, '') },
      );
      const checkoutSessionId = session.checkoutSessionId;
      await admin.signIn(checkoutSessionId);
      // start + update: the Java test server lacks ExecuteMultiOperation (update-with-start).
      const checkout = await temporal.workflow.start('checkoutWorkflow', {
        workflowId: checkoutWorkflowId(checkoutSessionId),
        taskQueue,
        args: [{ checkoutSessionId }],
      });
      await checkout.executeUpdate(reviewUpdate);
      const { amazonPayRedirectUrl } = await checkout.executeUpdate(setFinalAmountUpdate, {
        args: [
          {
            chargeAmount: { amount, currencyCode: 'USD' },
            paymentIntent: 'AuthorizeWithCapture',
            canHandlePendingAuthorization: false,
            merchantReferenceId: `bench-sub-${n}`,
            checkoutResultReturnUrl: 'https://shop.example/result',
          },
        ],
      });
      await admin.pay(amazonPayRedirectUrl, 'happy');
      const outcome = await checkout.executeUpdate(completeUpdate);
      if (!outcome.completed || !outcome.chargePermissionId)
        throw new Error(`sign-up ${n} not completed: ${JSON.stringify(outcome).slice(0, 300)}`);
      return {
        chargePermissionId: outcome.chargePermissionId,
        subscriptionId: subscriptionWorkflowId(outcome.chargePermissionId),
      };
    };

    return {
      env,
      temporal,
      taskQueue,
      simulator,
      admin,
      amazonPay,
      storefront,
      receiver,
      worker,
      serverVersion,
      // In steps of at most 6 h: a month in one sleep, with thousands of timers due, has stalled the
      // Java test server (the sleep never answered, nothing running).
      elapse: async (ms) => {
        for (let left = ms; left > 0; left -= ELAPSE_STEP_MS) {
          const step = Math.min(left, ELAPSE_STEP_MS);
          await admin.advanceClock(step);
          await clock.sleep(step);
        }
      },
      now: () => env.currentTimeMs(),
      subscribe,
      [Symbol.asyncDispose]: dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}
