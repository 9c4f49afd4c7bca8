// The worker as production runs it (issue 13): workflows from a bundle built ahead of time by
// `npm run build:workflows` (the Docker image's step), and a SIGTERM drain bounded by
// WORKER_SHUTDOWN_GRACE_TIME_MS that never moves money twice.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotencyKeyFor } from '../../amazon-pay';
import { BUNDLE_FILE, MANIFEST_FILE } from '../../worker/bundle';
import { captureUpdate, closeUpdate } from '../../workflows/checkout-messages';
import { countOf, finalAmount, paidCheckout } from '../checkout/helpers';
import { startTestStack, type TestStack, type WorkerProcess } from '../support/stack';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
let stack: TestStack;
let dir: string;

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
  dir = mkdtempSync(join(tmpdir(), 'workflow-bundle-'));
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
  rmSync(dir, { recursive: true, force: true });
});

function buildBundle(out: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/build-workflows.ts', '--out', out], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })));
}

/** A copy of the built bundle whose manifest says something else. */
function bundleWithManifest(name: string, change: Record<string, string>): string {
  const copy = join(dir, name);
  cpSync(join(dir, 'built'), copy, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(copy, MANIFEST_FILE), 'utf8')) as Record<string, string>;
  writeFileSync(join(copy, MANIFEST_FILE), JSON.stringify({ ...manifest, ...change }));
  return join(copy, BUNDLE_FILE);
}

/** Hands the workflow to the next worker now, not after the stopped worker's sticky-queue timeout. */
async function handOver(workflowId: string): Promise<void> {
  await stack.temporal.workflowService.resetStickyTaskQueue({ namespace: stack.namespace, execution: { workflowId } });
}

async function untilAmazonReceived(operation: string, before: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await countOf(stack, operation)) === before) {
    if (Date.now() > deadline) throw new Error(`${operation} never reached the simulator`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a prebuilt workflow bundle', () => {
  it('npm run build:workflows writes a bundle the worker process runs the payment workflows from', async () => {
    const built = await buildBundle(join(dir, 'built'));
    expect(built.code, built.output).toBe(0);
    expect(built.output).toContain(join(dir, 'built', BUNDLE_FILE));

    const proc = await stack.worker.spawnProcess({ env: { WORKFLOW_BUNDLE_PATH: join(dir, 'built', BUNDLE_FILE) } });
    try {
      expect(proc.output()).toContain('workflows from the prebuilt bundle');
      const { outcome } = await paidCheckout(stack, finalAmount('20.00', 'AuthorizeWithCapture'));
      expect(outcome).toMatchObject({ completed: true, chargeState: 'Captured' });
    } finally {
      proc.terminate();
      expect(await proc.exited).toBe(0);
    }
  });

  it('is refused when another SDK version built it, and reported when the workflow sources changed since', async () => {
    const otherSdk = bundleWithManifest('other-sdk', { sdkVersion: '0.0.1' });
    await expect(stack.worker.spawnProcess({ env: { WORKFLOW_BUNDLE_PATH: otherSdk } })).rejects.toThrow(
      /built with @temporalio\/workflow 0\.0\.1, this worker has 1\.\d+\.\d+ \(rebuild it with `npm run build:workflows`\)/,
    );
    await expect(
      stack.worker.spawnProcess({ env: { WORKFLOW_BUNDLE_PATH: join(dir, 'missing', BUNDLE_FILE) } }),
    ).rejects.toThrow(/WORKFLOW_BUNDLE_PATH: .* does not exist/);

    const stale = bundleWithManifest('stale', { sourceHash: 'f'.repeat(64) });
    const proc = await stack.worker.spawnProcess({ env: { WORKFLOW_BUNDLE_PATH: stale } });
    proc.terminate();
    expect(await proc.exited).toBe(0);
    expect(proc.output()).toContain('the workflow bundle is older than the workflow sources next to it');
  });
});

describe('SIGTERM drains the worker', () => {
  /** A completed Authorize checkout whose capture is held at Amazon while `proc` handles it. */
  async function captureHeldAtAmazon(proc: () => Promise<WorkerProcess>, holdMs: number) {
    await stack.worker.start();
    const { handle, checkoutSessionId, outcome } = await paidCheckout(stack, finalAmount('42.00', 'Authorize'));
    if (!outcome.completed) throw new Error('not completed');
    await stack.worker.stop();
    await handOver(handle.workflowId);
    const worker = await proc();
    const before = await countOf(stack, 'captureCharge');
    await stack.admin.setFaults({ holdResponses: { operation: 'captureCharge', ms: holdMs, count: 1 } });
    const capture = handle.executeUpdate(captureUpdate, { args: [{}] });
    capture.catch(() => undefined);
    await untilAmazonReceived('captureCharge', before);
    worker.terminate();
    const code = await worker.exited;
    await handOver(handle.workflowId);
    await stack.worker.start();
    const charge = await capture;
    const captureKey = idempotencyKeyFor(`checkout/${checkoutSessionId}/capture/1`);
    const sends = (await stack.admin.requestCounts()).byIdempotencyKey[captureKey];
    const money = await stack.admin.moneyMovements({ chargePermissionId: outcome.chargePermissionId });
    await handle.executeUpdate(closeUpdate, { args: [{}] });
    await stack.worker.stop();
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    const scheduled = events.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'captureCharge',
    );
    const captureStart = events.find(
      (e) => scheduled && Number(e.activityTaskStartedEventAttributes?.scheduledEventId) === Number(scheduled.eventId),
    )?.activityTaskStartedEventAttributes;
    return { code, charge, sends, money, captureStart };
  }

  it('within the grace time: the stopping worker records Amazon’s answer, nothing is sent again', async () => {
    const r = await captureHeldAtAmazon(() => stack.worker.spawnProcess(), 1_500);
    expect(r.code).toBe(0);
    expect(r.charge).toMatchObject({ state: 'Captured' });
    expect(r.sends).toBe(1);
    expect(r.money.movements.filter((m) => m.kind === 'capture')).toHaveLength(1);
  });

  it('past WORKER_SHUTDOWN_GRACE_TIME_MS: the call is given up, retried elsewhere with the same key, captured once', async () => {
    const r = await captureHeldAtAmazon(
      // The client would otherwise wait a minute for the held answer: only the drain ends the call.
      () =>
        stack.worker.spawnProcess({ env: { WORKER_SHUTDOWN_GRACE_TIME_MS: '300', AMAZON_PAY_TIMEOUT_MS: '60000' } }),
      60_000,
    );
    expect(r.code).toBe(0);
    expect(r.charge).toMatchObject({ state: 'Captured' });
    expect(r.sends).toBe(2);
    expect(r.money.movements.filter((m) => m.kind === 'capture')).toHaveLength(1);
    // The second attempt ran because the drain gave the first up, not because Amazon's answer timed out.
    expect(r.captureStart?.attempt).toBe(2);
    expect(r.captureStart?.lastFailure).toMatchObject({ applicationFailureInfo: { type: 'WorkerShutdown' } });
  });
});
