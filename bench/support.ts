// What the benchmarks share: an in-memory Temporal dev server, the Amazon Pay simulator with a
// fresh merchant key, our client signed with it, and one payment worker. Outside vitest, so it
// does not use test/support/stack.ts (which reads vitest's provided server address).
//
// With `baselines`, two more workers run in the same process on their own task queues: the bare
// workflows of bench/bare (Temporal's floor, default data converter) and the test owner P3 routes
// IPNs to (encrypted like the inbox that signals it).
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client, Connection, type WorkflowClientInterceptor } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { AmazonPayClient } from '../amazon-pay';
import { createNotificationActivities } from '../activities/notifications';
import { startDevServer, type DevServer } from '../scripts/dev-server';
import { generateMerchantKey } from '../scripts/merchant-key';
import { ensureTemporalCli } from '../scripts/provision';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../simulator';
import { SimulatorAdmin } from '../simulator/admin-client';
import { createPaymentWorker } from '../worker/worker';
import { generateCodecKey, parseCodecKeys } from '../temporal/codec';
import { paymentDataConverter } from '../temporal/data-converter';
import { bareActivities } from './bare/activities';

export const STORE_ID = 'amzn1.application-oa2-client.00000000000000000000000000000000';
const quiet = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (m: string) => console.error(m),
};

/** Client calls that leave no trace in a history, by kind and name (queries are billable). */
export type ClientCalls = Record<string, number>;

export interface BenchStack extends AsyncDisposable {
  dev: DevServer;
  cliPath: string;
  simulator: RunningSimulator;
  admin: SimulatorAdmin;
  amazonPay: AmazonPayClient;
  /** The client the API and the worker's activities use (encrypted); its calls are counted in `calls`. */
  temporal: Client;
  calls: ClientCalls;
  /** Encrypted too, for the benchmark's own looks (queries, histories): not counted. */
  observer: Client;
  taskQueue: string;
  /** For extra workers in the same run (P7's worker with webhook endpoints). */
  native: NativeConnection;
  dataConverter: ReturnType<typeof paymentDataConverter>;
  /** Registers a worker started by a benchmark: it runs until the stack is disposed. */
  adopt(worker: Worker): void;
  /** Only with `baselines`. */
  baselines?: {
    /** Default data converter: the floor has no codec. */
    plain: Client;
    bareTaskQueue: string;
    ownerTaskQueue: string;
  };
}

export interface BenchStackOptions {
  baselines?: boolean;
}

function countingInterceptor(calls: ClientCalls): WorkflowClientInterceptor {
  const count = (key: string) => (calls[key] = (calls[key] ?? 0) + 1);
  return {
    query: (input, next) => (count(`query ${input.queryType}`), next(input)),
    describe: (input, next) => (count('describe'), next(input)),
  };
}

export async function startBenchStack(
  simulatorOptions: SimulatorOptions = {},
  options: BenchStackOptions = {},
): Promise<BenchStack> {
  Runtime.install({ logger: quiet });
  const cleanup: Array<() => Promise<unknown>> = [];
  const dispose = async () => {
    for (const fn of cleanup) await fn().catch(() => undefined);
  };
  try {
    const cliPath = await ensureTemporalCli();
    const dev = await startDevServer({ cliPath, headless: true, logLevel: 'error' });
    cleanup.unshift(() => dev.stop());
    const key = generateMerchantKey();
    const simulator = await startSimulator({
      ...simulatorOptions,
      publicKeys: { [key.publicKeyId]: key.publicKeyPem },
    });
    cleanup.unshift(() => simulator.close());
    const amazonPay = new AmazonPayClient({
      publicKeyId: key.publicKeyId,
      privateKey: key.privateKeyPem,
      region: 'na',
      sandbox: true,
      baseUrl: simulator.url,
    });

    const connection = await Connection.connect({ address: dev.address });
    cleanup.unshift(() => connection.close());
    // Encrypted like production, so the numbers include the codec; a key for this run only.
    const dataConverter = paymentDataConverter(parseCodecKeys(generateCodecKey('bench')));
    const calls: ClientCalls = {};
    const temporal = new Client({
      connection,
      namespace: dev.namespace,
      dataConverter,
      interceptors: { workflow: [countingInterceptor(calls)] },
    });
    const observer = new Client({ connection, namespace: dev.namespace, dataConverter });
    const native = await NativeConnection.connect({ address: dev.address });
    cleanup.unshift(() => native.close());
    const taskQueue = `bench-${randomUUID()}`;
    const workers: Worker[] = [
      await createPaymentWorker({
        connection: native,
        namespace: dev.namespace,
        taskQueue,
        amazonPay,
        temporal,
        dataConverter,
        shutdownGraceTime: '2s',
      }),
    ];

    let baselines: BenchStack['baselines'];
    if (options.baselines) {
      const workflowBundle = await bundleWorkflowCode({
        workflowsPath: fileURLToPath(new URL('./bare/workflows.ts', import.meta.url)),
        logger: quiet,
      });
      const plain = new Client({ connection, namespace: dev.namespace });
      baselines = { plain, bareTaskQueue: `bench-bare-${randomUUID()}`, ownerTaskQueue: `bench-owner-${randomUUID()}` };
      workers.push(
        await Worker.create({
          connection: native,
          namespace: dev.namespace,
          taskQueue: baselines.bareTaskQueue,
          workflowBundle,
          activities: bareActivities,
          shutdownGraceTime: '1s',
        }),
        await Worker.create({
          connection: native,
          namespace: dev.namespace,
          taskQueue: baselines.ownerTaskQueue,
          dataConverter,
          workflowBundle,
          // The test owner registers with the real inbox, which runs on the payment worker.
          activities: createNotificationActivities({ temporal: observer, notificationTaskQueue: taskQueue }),
          shutdownGraceTime: '1s',
        }),
      );
    }
    const adopt = (worker: Worker) => {
      const running = worker.run();
      cleanup.unshift(async () => {
        worker.shutdown();
        await running;
      });
    };
    workers.forEach(adopt);
    return {
      dev,
      cliPath,
      simulator,
      admin: new SimulatorAdmin(simulator.url),
      amazonPay,
      temporal,
      calls,
      observer,
      taskQueue,
      native,
      dataConverter,
      adopt,
      baselines,
      [Symbol.asyncDispose]: dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}

export function percentiles(xs: number[]): {
  median: number;
  p90: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
} {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { median: q(0.5), p90: q(0.9), p95: q(0.95), p99: q(0.99), min: s[0]!, max: s[s.length - 1]! };
}

/** Runs `count` jobs, `concurrency` at a time (closed loop: each worker starts the next when one ends). */
export async function pool(
  count: number,
  concurrency: number,
  job: (n: number) => Promise<void>,
): Promise<{ seconds: number; failures: string[] }> {
  let next = 0;
  const failures: string[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const n = next++;
        try {
          await job(n);
        } catch (err) {
          failures.push(`${n}: ${(err as Error).message}`);
        }
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, failures };
}

/** Polls `fn` until `ok` holds (a condition, not a fixed sleep); throws after `timeoutMs`. */
export async function until<T>(
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
