import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AmazonPayError } from '../../amazon-pay';
import { startTestStack, type TestStack } from '../support/stack';
import { chargeUpdate, statusQuery } from '../../workflows/checkout-messages';
import { UNANSWERED_RESENDS } from '../../workflows/checkout/unanswered';
import { type CheckoutHandle, finalAmount, paidCheckout, statusOf, updateFailure, usd } from './helpers';
import { recordHistory } from './record';

// A Create Charge that never got an answer is given up to an operator (workflows/checkout/unanswered.ts).
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
});

const timeout = () =>
  new AmazonPayError({ status: 0, reasonCode: 'Timeout', message: 'answer lost in transit', retryable: false });

/**
 * Amazon never answers Create Charge, however often it is sent (the way test/checkout/timers.test.ts
 * makes it not answer): with `executed`, Amazon does act on it (once: the resends carry the same key)
 * and only the answer is lost; otherwise the request never reaches Amazon. IPNs are lost meanwhile,
 * so nothing but an operator can tell the workflow.
 */
async function unanswered<T>(executed: boolean, fn: () => Promise<T>): Promise<T> {
  const original = stack.amazonPay.createCharge.bind(stack.amazonPay);
  stack.amazonPay.createCharge = async (...args) => {
    if (executed) await original(...args);
    throw timeout();
  };
  stack.simulator.configureIpn({ lossRate: 1 });
  try {
    return await fn();
  } finally {
    stack.amazonPay.createCharge = original;
    stack.simulator.configureIpn({ lossRate: 0 });
  }
}

/** A Confirm checkout whose charge (captureNow false) the storefront sent, then retried until it was given up. */
async function givenUpCharge(executed: boolean, amount = '30.00') {
  const { handle, outcome } = await paidCheckout(stack, finalAmount(amount, 'Confirm'));
  if (!outcome.completed) throw new Error('not completed');
  const send = () => handle.executeUpdate(chargeUpdate, { args: [{ requestId: 'ship-1' }] });
  const failures = await unanswered(executed, async () => {
    const seen: Array<string | undefined> = [];
    // The first call, then one resend per retry of the same request; the last resend gives it up.
    for (let i = 0; i <= UNANSWERED_RESENDS; i++) seen.push((await updateFailure(send())).type);
    return seen;
  });
  expect(failures.at(-1)).toBe('UnresolvedAmazonPayCall');
  return { handle, outcome };
}

/** The charge the simulator holds on a charge permission (its admin API: what Seller Central would show). */
async function chargesAtAmazon(chargePermissionId: string): Promise<Array<{ chargeId: string }>> {
  const charges = (await stack.admin.objects()).charges as Array<{ chargeId: string; chargePermissionId: string }>;
  return charges.filter((c) => c.chargePermissionId === chargePermissionId);
}

describe('an Amazon Pay call given up to an operator', () => {
  it('a charge never answered is given up: refused with UnresolvedAmazonPayCall, in the memo', async () => {
    const { handle, outcome } = await givenUpCharge(true);
    expect(await chargesAtAmazon(outcome.chargePermissionId)).toHaveLength(1);
    const described = await handle.describe();
    expect(described.memo?.unresolvedAmazonPayCall).toMatchObject({ operation: 'createCharge', requestId: 'ship-1' });
    expect(await statusOf(handle as CheckoutHandle)).toMatchObject({
      status: 'Confirmed',
      charge: null,
      lastReasonCode: 'UnresolvedAmazonPayCall',
    });
    await handle.terminate('test done');
    await recordHistory(handle, 'charge-given-up');
  });
});

void statusQuery;
void usd;
