import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { temporal } from '@temporalio/proto';
import { startTestStack, type TestStack } from '../support/stack';
import { captureUpdate, closeUpdate, refundUpdate } from '../../workflows/checkout-messages';
import { countOf, finalAmount, paidCheckout, updateFailure, usd, waitForStatus, type CheckoutHandle } from './helpers';
import { recordHistory } from './record';

// Operations that reach one checkout at the same moment (two operators, a retried request racing
// the original, close during a refund) are serialized by the workflow: nothing runs twice.
let stack: TestStack;

beforeAll(async () => {
  // Refunds stay RefundInitiated long enough to close the order while one is pending.
  stack = await startTestStack({ simulator: { delays: { refundMs: 2_000 } } });
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
});

describe('concurrent operations on one checkout', () => {
  it('refunds sent at once each get their own refund and idempotency key', async () => {
    const { handle, outcome } = await paidCheckout(stack, finalAmount('100.00', 'AuthorizeWithCapture'));
    if (!outcome.completed) throw new Error('not completed');
    const before = await countOf(stack, 'createRefund');
    const refunds = await Promise.all(
      ['1.00', '2.00', '3.00', '3.00'].map((amount, i) =>
        handle.executeUpdate(refundUpdate, { args: [{ amount: usd(amount), requestId: `refund-${i}` }] }),
      ),
    );
    expect(new Set(refunds.map((r) => r.refundId)).size).toBe(4);
    expect(new Set(refunds.map((r) => r.number))).toEqual(new Set([1, 2, 3, 4]));
    expect((await countOf(stack, 'createRefund')) - before).toBe(4);
    const status = await waitForStatus(
      handle,
      (s) => s.refunds.length === 4 && s.refunds.every((r) => r.state === 'Refunded'),
      { timeoutMs: 30_000 },
    );
    expect(status.refunds).toHaveLength(4);
    expect((await stack.admin.moneyMovements({ chargePermissionId: outcome.chargePermissionId })).totals).toMatchObject(
      { captured: '100.00', refunded: '9.00' },
    );
    await handle.executeUpdate(closeUpdate, { args: [{}] });
    await recordHistory(handle, 'concurrent-refunds');
  });

  it('two captures sent at once: one captures, the other is refused, Amazon sees one capture', async () => {
    const { handle, outcome } = await paidCheckout(stack, finalAmount('50.00', 'Authorize'));
    if (!outcome.completed) throw new Error('not completed');
    const before = await countOf(stack, 'captureCharge');
    const results = await Promise.allSettled([
      handle.executeUpdate(captureUpdate, { args: [{}] }),
      handle.executeUpdate(captureUpdate, { args: [{}] }),
    ]);
    const captured = results.filter((r) => r.status === 'fulfilled');
    expect(captured).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((await updateFailure(Promise.reject(refused.reason))).type).toBe('InvalidChargeStatus');
    expect((await countOf(stack, 'captureCharge')) - before).toBe(1);
    expect((await stack.admin.moneyMovements({ chargePermissionId: outcome.chargePermissionId })).totals).toMatchObject(
      { captured: '50.00' },
    );
    await handle.executeUpdate(closeUpdate, { args: [{}] });
  });

  it('a capture repeated with the same requestId, at once or after its answer, gets the first answer; Amazon sees one capture', async () => {
    const { handle, outcome } = await paidCheckout(stack, finalAmount('50.00', 'Authorize'));
    if (!outcome.completed) throw new Error('not completed');
    const before = await countOf(stack, 'captureCharge');
    // No updateId (as the API sends it): a retry after a lost answer, or after continue-as-new,
    // must be answered by the workflow's own record, not refused because the charge is Captured.
    const req = { amount: usd('20.00'), requestId: 'capture-key-1' };
    const [first, racing] = await Promise.all([
      handle.executeUpdate(captureUpdate, { args: [req] }),
      handle.executeUpdate(captureUpdate, { args: [req] }),
    ]);
    expect(first).toMatchObject({ state: 'Captured', capturedAmount: usd('20.00') });
    expect(racing).toEqual(first);
    expect(await handle.executeUpdate(captureUpdate, { args: [req] })).toEqual(first);
    expect(await handle.executeUpdate(captureUpdate, { args: [{ requestId: 'capture-key-1' }] })).toEqual(first);
    expect(
      (
        await updateFailure(
          handle.executeUpdate(captureUpdate, { args: [{ amount: usd('21.00'), requestId: 'capture-key-1' }] }),
        )
      ).type,
    ).toBe('idempotency_key_reused');
    // A new key is a new capture: refused, the charge is captured.
    expect(
      (await updateFailure(handle.executeUpdate(captureUpdate, { args: [{ requestId: 'capture-key-2' }] }))).type,
    ).toBe('InvalidChargeStatus');
    expect((await countOf(stack, 'captureCharge')) - before).toBe(1);
    expect((await stack.admin.moneyMovements({ chargePermissionId: outcome.chargePermissionId })).totals).toMatchObject(
      { captured: '20.00' },
    );
    await handle.executeUpdate(closeUpdate, { args: [{}] });
  });

  it('a refund repeated with the same requestId returns the first refund, without Temporal update ids; another amount is refused', async () => {
    const { handle, outcome } = await paidCheckout(stack, finalAmount('40.00', 'AuthorizeWithCapture'));
    if (!outcome.completed) throw new Error('not completed');
    const before = await countOf(stack, 'createRefund');
    // No updateId: this is what a retry looks like after continue-as-new, where Temporal no longer
    // remembers the first update; the workflow's own record must answer it.
    const first = await handle.executeUpdate(refundUpdate, {
      args: [{ amount: usd('15.00'), requestId: 'storefront-key-1' }],
    });
    const again = await handle.executeUpdate(refundUpdate, {
      args: [{ amount: usd('15.00'), requestId: 'storefront-key-1' }],
    });
    expect(again.refundId).toBe(first.refundId);
    expect(
      (
        await updateFailure(
          handle.executeUpdate(refundUpdate, { args: [{ amount: usd('16.00'), requestId: 'storefront-key-1' }] }),
        )
      ).type,
    ).toBe('idempotency_key_reused');
    expect((await countOf(stack, 'createRefund')) - before).toBe(1);
    const status = await waitForStatus(handle, (s) => s.refunds[0]?.state === 'Refunded', { timeoutMs: 30_000 });
    expect(status.refunds).toHaveLength(1);
    await handle.executeUpdate(closeUpdate, { args: [{}] });
  });

  it('close waits for a pending refund to settle and refuses new refunds meanwhile', async () => {
    const { handle, outcome } = await paidCheckout(stack, finalAmount('60.00', 'AuthorizeWithCapture'));
    if (!outcome.completed) throw new Error('not completed');
    const pending = await handle.executeUpdate(refundUpdate, {
      args: [{ amount: usd('10.00'), requestId: 'refund-1' }],
    });
    expect(pending.state).toBe('RefundInitiated');
    // Close answers at once while the refund is pending; the order finishes it once the refund settled.
    expect(await handle.executeUpdate(closeUpdate, { args: [{}] })).toMatchObject({ status: 'Closing', final: false });
    const before = await countOf(stack, 'createRefund');
    expect(
      (
        await updateFailure(
          handle.executeUpdate(refundUpdate, { args: [{ amount: usd('5.00'), requestId: 'refund-2' }] }),
        )
      ).type,
    ).toBe('InvalidChargePermissionStatus');
    expect(await countOf(stack, 'createRefund')).toBe(before);
    const closed = await handle.result();
    expect(closed).toMatchObject({ status: 'Closed', final: true });
    expect(closed.refunds.map((r) => r.state)).toEqual(['Refunded']);
    expect((await stack.admin.moneyMovements({ chargePermissionId: outcome.chargePermissionId })).totals).toMatchObject(
      { refunded: '10.00' },
    );
    await recordHistory(handle, 'close-during-refund');
  });
});

const EventType = temporal.api.enums.v1.EventType;

/** The checkout's history events, with the activity type of each scheduled activity. */
async function eventsOf(handle: CheckoutHandle) {
  const history = await handle.fetchHistory();
  return (history.events ?? []).map((e) => ({
    id: Number(e.eventId),
    type: e.eventType,
    activity: e.activityTaskScheduledEventAttributes?.activityType?.name ?? null,
    scheduledId: Number(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? 0),
  }));
}

describe('notifications and updates share one lock', () => {
  it("an IPN arriving while an update is at Amazon is read only after the update's call answered", async () => {
    const { handle, outcome } = await paidCheckout(stack, finalAmount('30.00', 'AuthorizeWithCapture'));
    if (!outcome.completed) throw new Error('not completed');
    // Amazon creates the refund (and sends its IPN) at once; its answer to us waits for the gate.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const original = stack.amazonPay.createRefund.bind(stack.amazonPay);
    stack.amazonPay.createRefund = async (...args) => {
      const answer = await original(...args);
      await gate;
      return answer;
    };
    try {
      const refund = handle.executeUpdate(refundUpdate, { args: [{ amount: usd('4.00'), requestId: 'refund-1' }] });
      // Wait until the refund's IPN is in the history and a workflow task has handled it.
      const deadline = Date.now() + 25_000;
      for (;;) {
        const events = await eventsOf(handle);
        const scheduled = events.find((e) => e.activity === 'createRefund');
        const signal =
          scheduled &&
          events.find((e) => e.type === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED && e.id > scheduled.id);
        if (signal && events.some((e) => e.type === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED && e.id > signal.id))
          break;
        if (Date.now() > deadline) throw new Error('the refund IPN never reached the checkout');
        await new Promise((r) => setTimeout(r, 100));
      }
      open();
      await refund;
    } finally {
      open();
      stack.amazonPay.createRefund = original;
    }
    await waitForStatus(handle, (s) => s.refunds[0]?.state === 'Refunded', { timeoutMs: 30_000 });
    const events = await eventsOf(handle);
    const createRefund = events.find((e) => e.activity === 'createRefund')!;
    const answered = events.find(
      (e) => e.type === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED && e.scheduledId === createRefund.id,
    )!;
    const firstRead = events.find((e) => e.activity === 'getRefund')!;
    // Before, the loop read (and adopted) the refund from its IPN while the update was still at Amazon.
    expect(firstRead.id).toBeGreaterThan(answered.id);
    await handle.executeUpdate(closeUpdate, { args: [{}] });
    await handle.result();
  });
});
