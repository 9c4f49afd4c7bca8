import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AmazonPayError } from '../../amazon-pay';
import { startTestStack, type TestStack } from '../support/stack';
import {
  chargeUpdate,
  closeUpdate,
  refundUpdate,
  type ChargeInput,
  type RefundInput,
} from '../../workflows/checkout-messages';
import { countOf, finalAmount, paidCheckout, updateFailure, usd, waitForStatus } from './helpers';
import { recordHistory } from './record';

// A Create Refund / Create Charge whose answer never reached us may still have moved money at
// Amazon. The checkout never replaces such a call by another one: it sends it again, as it was,
// first, or learns the object from its IPN; nothing is done twice and nothing goes untracked.
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ simulator: { delays: { refundMs: 300 } } });
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
});

/** Amazon does the work, but the answer is lost on the way back (no retry: it looks final to us). */
function loseNextAnswer<K extends 'createRefund' | 'createCharge'>(operation: K): () => void {
  const client = stack.amazonPay as unknown as Record<K, (...args: unknown[]) => Promise<unknown>>;
  const original = client[operation].bind(stack.amazonPay);
  let lost = false;
  client[operation] = async (...args: unknown[]) => {
    const answer = await original(...args);
    if (lost) return answer;
    lost = true;
    throw new AmazonPayError({ status: 0, reasonCode: 'Timeout', message: 'answer lost in transit', retryable: false });
  };
  return () => {
    client[operation] = original;
  };
}

/** Only the workflow's own resends can tell it what happened: every IPN is lost meanwhile. */
async function withoutIpns(fn: () => Promise<void>): Promise<void> {
  stack.simulator.configureIpn({ lossRate: 1 });
  try {
    await fn();
  } finally {
    stack.simulator.configureIpn({ lossRate: 0 });
  }
}

/** The refunds the simulator holds for a charge. */
async function refundsAtAmazon(chargeId: string): Promise<Array<{ refundId: string }>> {
  const refunds = (await stack.admin.objects()).refunds as Array<{ refundId: string; chargeId: string }>;
  return refunds.filter((r) => r.chargeId === chargeId);
}

/** Sends an update whose Amazon call happens but whose answer is lost; returns its failure. */
async function answerLost(operation: 'createRefund' | 'createCharge', send: () => Promise<unknown>) {
  const restore = loseNextAnswer(operation);
  try {
    return await updateFailure(send());
  } finally {
    restore();
  }
}

describe('calls whose answer was lost', () => {
  it('a refund without an answer is sent again, as it was, before the next refund: Amazon refunds each once', async () => {
    // Only the resend can tell the workflow.
    await withoutIpns(async () => {
      const { handle, outcome } = await paidCheckout(stack, finalAmount('80.00', 'AuthorizeWithCapture'));
      if (!outcome.completed) throw new Error('not completed');
      expect(
        await answerLost('createRefund', () =>
          handle.executeUpdate(refundUpdate, { args: [{ amount: usd('5.00'), requestId: 'refund-1' }] }),
        ),
      ).toMatchObject({ type: 'AmazonPayUnavailable' });
      const before = await countOf(stack, 'createRefund');
      const next = await handle.executeUpdate(refundUpdate, { args: [{ amount: usd('7.00'), requestId: 'refund-2' }] });
      expect(next).toMatchObject({ number: 2, amount: usd('7.00') });
      expect((await countOf(stack, 'createRefund')) - before).toBe(2); // the resend, then the new one
      const status = await waitForStatus(handle, (s) => s.refunds.length === 2);
      expect(status.refunds.map((r) => r.amount.amount)).toEqual(['5.00', '7.00']);
      // At Amazon: exactly these two refunds of the charge (the resend was replayed, not repeated).
      const atAmazon = await refundsAtAmazon(outcome.chargeId!);
      expect(atAmazon.map((r) => r.refundId).sort()).toEqual(status.refunds.map((r) => r.refundId).sort());
      await handle.terminate('test done'); // the refunds settle by polling (IPNs are lost here)
      await recordHistory(handle, 'refund-answer-lost');
    });
  });

  it("the same refund sent again with its key is that call's retry: it gets the first refund, Amazon refunds once", async () => {
    await withoutIpns(async () => {
      const { handle, outcome } = await paidCheckout(stack, finalAmount('60.00', 'AuthorizeWithCapture'));
      if (!outcome.completed) throw new Error('not completed');
      await answerLost('createRefund', () =>
        handle.executeUpdate(refundUpdate, { args: [{ amount: usd('6.00'), requestId: 'refund-1' }] }),
      );
      const retried = await handle.executeUpdate(refundUpdate, {
        args: [{ amount: usd('6.00'), requestId: 'refund-1' }],
      });
      expect(retried).toMatchObject({ number: 1, amount: usd('6.00') });
      const atAmazon = (await refundsAtAmazon(outcome.chargeId!)).map((r) => r.refundId);
      expect(atAmazon).toEqual([retried.refundId]);
      await handle.terminate('test done');
    });
  });

  it("a second refund of the same amount under another key is a second refund, also after the first one's answer was lost", async () => {
    // Before, a keyless refund of the amount of one settled late was taken for its retry and swallowed.
    await withoutIpns(async () => {
      const { handle, outcome } = await paidCheckout(stack, finalAmount('60.00', 'AuthorizeWithCapture'));
      if (!outcome.completed) throw new Error('not completed');
      await answerLost('createRefund', () =>
        handle.executeUpdate(refundUpdate, { args: [{ amount: usd('6.00'), requestId: 'refund-1' }] }),
      );
      const first = await handle.executeUpdate(refundUpdate, {
        args: [{ amount: usd('6.00'), requestId: 'refund-1' }],
      });
      const second = await handle.executeUpdate(refundUpdate, {
        args: [{ amount: usd('6.00'), requestId: 'refund-2' }],
      });
      expect(second).toMatchObject({ number: 2, amount: usd('6.00') });
      expect(second.refundId).not.toBe(first.refundId);
      expect((await refundsAtAmazon(outcome.chargeId!)).map((r) => r.refundId).sort()).toEqual(
        [first.refundId, second.refundId].sort(),
      );
      await handle.terminate('test done');
    });
  });

  it('a refund or charge without a key is refused before anything is sent (idempotency_key_required)', async () => {
    const { handle, outcome } = await paidCheckout(stack, finalAmount('30.00', 'AuthorizeWithCapture'));
    if (!outcome.completed) throw new Error('not completed');
    const before = await countOf(stack, 'createRefund');
    // The type says requestId is required; an older client (or a hand-written call) may still omit it.
    const keyless = { amount: usd('3.00') } as unknown as RefundInput;
    expect(await updateFailure(handle.executeUpdate(refundUpdate, { args: [keyless] }))).toMatchObject({
      type: 'idempotency_key_required',
    });
    expect(await countOf(stack, 'createRefund')).toBe(before);
    const confirm = await paidCheckout(stack, finalAmount('30.00', 'Confirm'));
    const charges = await countOf(stack, 'createCharge');
    expect(
      await updateFailure(confirm.handle.executeUpdate(chargeUpdate, { args: [{} as ChargeInput] })),
    ).toMatchObject({ type: 'idempotency_key_required' });
    expect(await countOf(stack, 'createCharge')).toBe(charges);
    await Promise.all([handle.terminate('test done'), confirm.handle.terminate('test done')]);
  });

  it('a refund without an answer is adopted from its IPN, without another request', async () => {
    const { handle, outcome } = await paidCheckout(stack, finalAmount('40.00', 'AuthorizeWithCapture'));
    if (!outcome.completed) throw new Error('not completed');
    await answerLost('createRefund', () =>
      handle.executeUpdate(refundUpdate, { args: [{ amount: usd('4.00'), requestId: 'refund-1' }] }),
    );
    const status = await waitForStatus(handle, (s) => s.refunds[0]?.state === 'Refunded');
    expect(status.refunds).toEqual([expect.objectContaining({ number: 1, amount: usd('4.00'), state: 'Refunded' })]);
    // The storefront retries the same refund with its key: it is that refund, not a second one.
    const before = await countOf(stack, 'createRefund');
    expect(
      (await handle.executeUpdate(refundUpdate, { args: [{ amount: usd('4.00'), requestId: 'refund-1' }] })).refundId,
    ).toBe(status.refunds[0]!.refundId);
    expect(await countOf(stack, 'createRefund')).toBe(before);
    await handle.executeUpdate(closeUpdate, { args: [{}] });
    expect((await handle.result()).refunds).toHaveLength(1);
    expect((await stack.admin.moneyMovements({ chargePermissionId: outcome.chargePermissionId })).totals).toMatchObject(
      { refunded: '4.00' },
    );
  });

  it('a Confirm charge without an answer is resolved before the order closes: the captured charge is recorded, never lost', async () => {
    await withoutIpns(async () => {
      const { handle, outcome } = await paidCheckout(stack, finalAmount('22.00', 'Confirm'));
      if (!outcome.completed) throw new Error('not completed');
      await answerLost('createCharge', () =>
        handle.executeUpdate(chargeUpdate, { args: [{ captureNow: true, requestId: 'ship-1' }] }),
      );
      const before = await countOf(stack, 'createCharge');
      await handle.executeUpdate(closeUpdate, { args: [{}] });
      const closed = await handle.result();
      expect(closed).toMatchObject({
        status: 'Closed',
        final: true,
        charge: { state: 'Captured', chargeAmount: usd('22.00') },
      });
      expect((await countOf(stack, 'createCharge')) - before).toBe(1); // the resend, same key: replayed
      expect(
        (await stack.admin.moneyMovements({ chargePermissionId: outcome.chargePermissionId })).totals,
      ).toMatchObject({ captured: '22.00' });
      await recordHistory(handle, 'confirm-charge-answer-lost');
    });
  });
});
