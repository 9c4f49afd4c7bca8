// What the benchmarks share: an in-memory Temporal dev server, the Amazon Pay simulator with a
// fresh merchant key, our client signed with it, and one payment worker. Outside vitest, so it
// does not use test/support/stack.ts (which reads vitest's provided server address).
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { AmazonPayClient } from '../amazon-pay';
import { startDevServer, type DevServer } from '../scripts/dev-server';
import { generateMerchantKey } from '../scripts/merchant-key';
import { ensureTemporalCli } from '../scripts/provision';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../simulator';
import { SimulatorAdmin } from '../simulator/admin-client';
import { createPaymentWorker } from '../worker/worker';
import { generateCodecKey, parseCodecKeys } from '../temporal/codec';
import { paymentDataConverter } from '../temporal/data-converter';

export const STORE_ID = 'amzn1.application-oa2-client.00000000000000000000000000000000';
const quiet = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => console.error(m) };

export interface BenchStack extends AsyncDisposable {
  dev: DevServer;
  simulator: RunningSimulator;
  admin: SimulatorAdmin;
  amazonPay: AmazonPayClient;
  temporal: Client;
  taskQueue: string;
}

export async function startBenchStack(simulatorOptions: SimulatorOptions = {}): Promise<BenchStack> {
  Runtime.install({ logger: quiet });
  const cleanup: Array<() => Promise<unknown>> = [];
  const dispose = async () => {
    for (const fn of cleanup) await fn().catch(() => undefined);
  };
  try {
    const dev = await startDevServer({ cliPath: await ensureTemporalCli(), headless: true, logLevel: 'error' });
    cleanup.unshift(() => dev.stop());
    const key = generateMerchantKey();
    const simulator = await startSimulator({ ...simulatorOptions, publicKeys: { [key.publicKeyId]: key.publicKeyPem } });
    cleanup.unshift(() => simulator.close());
    const amazonPay = new AmazonPayClient({ publicKeyId: key.publicKeyId, privateKey: key.privateKeyPem, region: 'na', sandbox: true, baseUrl: simulator.url });

    const connection = await Connection.connect({ address: dev.address });
    cleanup.unshift(() => connection.close());
    // Encrypted like production, so the numbers include the codec; a key for this run only.
    const dataConverter = paymentDataConverter(parseCodecKeys(generateCodecKey('bench')));
    const temporal = new Client({ connection, namespace: dev.namespace, dataConverter });
    const native = await NativeConnection.connect({ address: dev.address });
    cleanup.unshift(() => native.close());
    const taskQueue = `bench-${randomUUID()}`;
    const worker = await createPaymentWorker({ connection: native, namespace: dev.namespace, taskQueue, amazonPay, temporal, dataConverter, shutdownGraceTime: '2s' });
    const running = worker.run();
    cleanup.unshift(async () => {
      worker.shutdown();
      await running;
    });
    return { dev, simulator, admin: new SimulatorAdmin(simulator.url), amazonPay, temporal, taskQueue, [Symbol.asyncDispose]: dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}

export function percentiles(xs: number[]): { median: number; p90: number; p99: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { median: q(0.5), p90: q(0.9), p99: q(0.99), min: s[0]!, max: s[s.length - 1]! };
}
