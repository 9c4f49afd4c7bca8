// A worker process dies (SIGKILL) while a billing cycle's Create Charge is at Amazon: Amazon has
// charged, the worker never recorded it. The next worker retries the same attempt under the same
// idempotency key, Amazon replays its answer, and the cycle is charged exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idempotencyKeyFor } from '../../amazon-pay';
import { startTimeSkippingStack, type TimeSkippingStack } from '../support/time-skipping';
import { countOf } from '../checkout/helpers';
import { statusOfSubscription, subscribe, until } from './helpers';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let stack: TimeSkippingStack;
beforeAll(async () => {
  // No workflow cache: the time-skipping server never hands a sticky task of a stopped or killed
  // worker over to the next one (and holds its clock meanwhile), so every task goes to the shared queue.
  stack = await startTimeSkippingStack({ workerTuning: { maxCachedWorkflows: 0 } });
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
});

describe('worker killed mid-cycle', () => {
  it('the cycle is charged once: the retry reused the attempt key and Amazon replayed its answer', async () => {
    const { subscription, chargePermissionId } = await subscribe(stack, { unit: 'Week', value: 1, amount: '7.00' });
    await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    // From here the subscription runs on a worker process we can kill (its start-up steps done first).
    await stack.worker.stop();
    const proc = await stack.worker.spawnProcess();
    const run = stack.temporal.workflow.getHandle(subscription.workflowId, (await subscription.describe()).runId);
    const before = await countOf(stack, 'createCharge');
    await stack.admin.setFaults({ holdResponses: { operation: 'createCharge', ms: 10_000 } });

    // Not awaited: once a worker died with an activity on it, the Java test server never releases
    // that activity's lock on its clock, so this sleep would only end at teardown. The cycle is due
    // (and the clock there) well before the sleep's end.
    const week = stack.elapse(7 * DAY + HOUR);
    week.catch(() => undefined);
    await until(async () => (await countOf(stack, 'createCharge')) > before, 'Create Charge at Amazon', 60_000);
    // Amazon has processed the charge and holds its answer: the worker dies before it hears it.
    proc.kill();
    await proc.exited;
    await stack.worker.start();

    // A paid cycle continues as new; describe needs no worker (a query would replay on one, slowly).
    await until(async () => (await run.describe()).status.name === 'CONTINUED_AS_NEW', 'cycle 1 recorded', 120_000);
    const paid = await statusOfSubscription(subscription);
    expect(paid.status).toBe('active');
    expect(paid.cycles.find((c) => c.n === 1)).toMatchObject({ state: 'Paid', attempts: 1 });
    const captures = (await stack.admin.moneyMovements({ chargePermissionId })).movements.filter(
      (m) => m.kind === 'capture',
    );
    expect(captures.map((m) => m.amount)).toEqual(['7.00', '7.00']); // the checkout's and cycle 1's, once
    const counts = await stack.admin.requestCounts();
    expect(
      counts.byIdempotencyKey[idempotencyKeyFor(`subscription/${chargePermissionId}/cycle/1/attempt/1`)],
    ).toBeGreaterThanOrEqual(2);
  }, 240_000);
});
