// A worker process dies (SIGKILL) after Amazon processed a money-moving request but before the
// worker recorded the answer. The next worker retries with the same idempotency key, Amazon replays
// its first answer, and money moves exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotencyKeyFor } from '../../amazon-pay';
import { startTestStack, type TestStack } from '../support/stack';
import { captureUpdate, closeUpdate, completeUpdate } from '../../workflows/checkout-messages';
import type { OperationName } from '../../simulator/admin-client';
import { buyerPays, countOf, finalAmount, openCheckout, paidCheckout } from './helpers';
import { recordHistory } from './record';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ worker: false });
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
});

/** Hands the workflow to the next worker now, not after the stopped worker's sticky-queue timeout (10 s). */
async function handOver(workflowId: string): Promise<void> {
  await stack.temporal.workflowService.resetStickyTaskQueue({ namespace: stack.namespace, execution: { workflowId } });
}

/** Holds Amazon's answer to `operation`, runs `send`, and kills the worker once Amazon has processed the request. */
async function killWorkerMidRequest<T>(
  workflowId: string,
  operation: OperationName,
  send: () => Promise<T>,
): Promise<T> {
  const proc = await stack.worker.spawnProcess();
  const before = await countOf(stack, operation);
  await stack.admin.setFaults({ holdResponses: { operation, ms: 60_000 } });
  const answer = send();
  answer.catch(() => undefined);
  const deadline = Date.now() + 20_000;
  while ((await countOf(stack, operation)) === before) {
    if (Date.now() > deadline) throw new Error(`${operation} never reached the simulator`);
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill();
  await proc.exited;
  await handOver(workflowId);
  await stack.worker.start();
  return await answer;
}

describe('worker killed mid-payment', () => {
  it('capture: exactly one capture, the retry reused the idempotency key', async () => {
    await stack.worker.start();
    const { handle, checkoutSessionId, outcome } = await paidCheckout(stack, finalAmount('75.00', 'Authorize'));
    await stack.worker.stop();
    await handOver(handle.workflowId);
    if (!outcome.completed) throw new Error('not completed');

    const charge = await killWorkerMidRequest(handle.workflowId, 'captureCharge', () =>
      handle.executeUpdate(captureUpdate, { args: [{}] }),
    );
    expect(charge).toMatchObject({ state: 'Captured' });

    const money = await stack.admin.moneyMovements({ chargePermissionId: outcome.chargePermissionId });
    expect(money.movements.filter((m) => m.kind === 'capture')).toHaveLength(1);
    expect(money.totals).toMatchObject({ captured: '75.00', outstandingAuthorization: '0.00' });
    const counts = await stack.admin.requestCounts();
    expect(counts.byIdempotencyKey[idempotencyKeyFor(`checkout/${checkoutSessionId}/capture/1`)]).toBe(2);

    await handle.executeUpdate(closeUpdate, { args: [{}] });
    await handle.result();
    await stack.worker.stop();
    await recordHistory(handle, 'capture-after-worker-crash');
  });

  it('complete with AuthorizeWithCapture: one authorization, one capture', async () => {
    await stack.worker.start();
    const { handle, checkoutSessionId } = await openCheckout(stack);
    await buyerPays(stack, handle, finalAmount('31.00', 'AuthorizeWithCapture'), 'happy');
    await stack.worker.stop();
    await handOver(handle.workflowId);

    const outcome = await killWorkerMidRequest(handle.workflowId, 'completeCheckoutSession', () =>
      handle.executeUpdate(completeUpdate),
    );
    expect(outcome).toMatchObject({ completed: true, status: 'Captured' });

    const money = await stack.admin.moneyMovements({ checkoutSessionId });
    expect(money.movements.map((m) => m.kind).sort()).toEqual(['authorization', 'capture']);
    expect(money.totals).toMatchObject({ authorized: '31.00', captured: '31.00' });
    // Complete is on the buyer's bounded budget: the next worker retries with the same key, or, if it
    // came up after the budget, the workflow reads the session instead. Never a Complete under a new key.
    const counts = await stack.admin.requestCounts();
    expect([1, 2]).toContain(counts.byIdempotencyKey[idempotencyKeyFor(`checkout/${checkoutSessionId}/complete/1`)]);
    expect(counts.byIdempotencyKey[idempotencyKeyFor(`checkout/${checkoutSessionId}/complete/2`)]).toBeUndefined();

    await handle.executeUpdate(closeUpdate, { args: [{}] });
    await handle.result();
  });
});
