import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack';
import { refundUpdate, type CheckoutStatus, type RefundSummary } from '../../workflows/checkout-messages';
import { eventsQuery } from '../../workflows/events/messages';
import { UNANSWERED_RESENDS } from '../../workflows/checkout/unanswered';
import { OperatorAttention } from '../../workflows/search-attributes';
import {
  type CheckoutHandle,
  countOf,
  finalAmount,
  paidCheckout,
  statusOf,
  updateFailure,
  usd,
  waitForStatus,
} from './helpers';
import { attentionOf, resolve, storefront, unanswered } from './operator-resolution-helpers';

// The refund side of resolveAmazonPayCall (workflows/checkout/resolution.ts): a Create Refund that
// never got an answer is given up to an operator (workflows/checkout/unanswered.ts), who records
// what Seller Central shows. The charge side is operator-resolution.test.ts.
let stack: TestStack;
/** Refunds settle at Amazon only when a test moves the simulator's clock (amazonSettlesRefunds). */
const REFUND_SETTLES_MS = 10 * 60_000;

beforeAll(async () => {
  stack = await startTestStack({ simulator: { delays: { refundMs: REFUND_SETTLES_MS } } });
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
});

/** Captured in full: refunds may total 57.50 (50.00 + min(15 %, 75.00)). */
const CAPTURED = '50.00';

async function capturedCheckout() {
  const { handle, checkoutSessionId, outcome } = await paidCheckout(
    stack,
    finalAmount(CAPTURED, 'AuthorizeWithCapture'),
  );
  if (!outcome.completed || !outcome.chargeId) throw new Error('not completed');
  return { handle, checkoutSessionId, chargeId: outcome.chargeId, chargePermissionId: outcome.chargePermissionId };
}

/** The storefront sends a refund, then retries it (same key) until it is given up. */
async function giveUpRefund(handle: CheckoutHandle, executed: boolean, amount: string, requestId: string) {
  const send = () => handle.executeUpdate(refundUpdate, { args: [{ amount: usd(amount), requestId }] });
  const failures = await unanswered(stack, 'createRefund', executed, async () => {
    const seen: Array<string | undefined> = [];
    // The first call, then one resend per retry of the same request; the last resend gives it up.
    for (let i = 0; i <= UNANSWERED_RESENDS; i++) seen.push((await updateFailure(send())).type);
    return seen;
  });
  expect(failures).toEqual([
    ...Array<string>(UNANSWERED_RESENDS).fill('AmazonPayUnavailable'),
    'UnresolvedAmazonPayCall',
  ]);
}

interface RefundAtAmazon {
  refundId: string;
  chargeId: string;
  refundAmount: { amount: string; currencyCode: string };
}

/** The refunds the simulator holds on a charge (its admin API: what Seller Central would show). */
async function refundsAtAmazon(chargeId: string): Promise<RefundAtAmazon[]> {
  const refunds = (await stack.admin.objects()).refunds as RefundAtAmazon[];
  return refunds.filter((r) => r.chargeId === chargeId);
}

/** Money Amazon has refunded on a charge permission (a refund moves money once it is Refunded). */
async function refundMovements(chargePermissionId: string) {
  const { movements } = await stack.admin.moneyMovements({ chargePermissionId });
  return movements.filter((m) => m.kind === 'refund').map((m) => ({ refundId: m.refundId, amount: m.amount }));
}

/** Amazon settles every refund pending on its clock (RefundInitiated -> Refunded, with an IPN). */
async function amazonSettlesRefunds(handle: CheckoutHandle): Promise<CheckoutStatus> {
  await stack.admin.advanceClock(REFUND_SETTLES_MS);
  return waitForStatus(handle, (s) => s.refunds.every((r) => r.state === 'Refunded'));
}

const refundsPath = (checkoutSessionId: string) => `/v1/checkouts/${checkoutSessionId}/refunds`;
/** The storefront's refund request; with `key`, that Idempotency-Key (a retry), else a new one. */
const refundRequest = (checkoutSessionId: string, amount: string, key?: string) =>
  storefront(stack, 'POST', refundsPath(checkoutSessionId), { amount: usd(amount) }, key);

const unchanged = (s: CheckoutStatus): Partial<CheckoutStatus> => {
  const { updatedAt: _updatedAt, ...rest } = s;
  return rest;
};

describe('a refund given up to an operator', () => {
  it('executed, with the refund id Amazon has: the checkout records it, the retry with the original key gets it, and the rest can be refunded', async () => {
    const { handle, checkoutSessionId, chargeId, chargePermissionId } = await capturedCheckout();
    await giveUpRefund(handle, true, '20.00', 'refund-1');
    // Amazon refunded (once: the resends carried the same key); only the answer was lost.
    const atAmazon = await refundsAtAmazon(chargeId);
    expect(atAmazon).toEqual([expect.objectContaining({ refundAmount: usd('20.00') })]);
    const refundId = atAmazon[0]!.refundId;
    expect(await statusOf(handle)).toMatchObject({
      status: 'Captured',
      refunds: [],
      lastReasonCode: 'UnresolvedAmazonPayCall',
      attention: { reason: 'UnresolvedAmazonPayCall: createRefund' },
    });
    expect((await handle.describe()).memo?.unresolvedAmazonPayCall).toMatchObject({
      operation: 'createRefund',
      requestId: 'refund-1',
      input: { chargeId, refundAmount: usd('20.00') },
    });
    expect(await attentionOf(handle)).toBe('UnresolvedAmazonPayCall: createRefund');

    const status = await resolve(handle, {
      operation: 'createRefund',
      outcome: 'executed',
      refundId,
      note: 'ops@shop.example: Seller Central shows the refund pending',
    });
    expect(status).toMatchObject({
      status: 'Captured',
      refunds: [{ number: 1, refundId, state: 'RefundInitiated', amount: usd('20.00') }],
      lastReasonCode: null,
      attention: null,
    });
    const described = await handle.describe();
    expect(described.memo?.unresolvedAmazonPayCall).toBeUndefined();
    expect(described.memo?.amazonPayCallResolution).toMatchObject({
      operation: 'createRefund',
      outcome: 'executed',
      requestId: 'refund-1',
      objectId: refundId,
      note: 'ops@shop.example: Seller Central shows the refund pending',
    });
    expect(described.typedSearchAttributes.get(OperatorAttention)).toBeUndefined();
    // The merchant hears it as for an answered call, then the resolution.
    const events = await handle.query(eventsQuery);
    const types = events.map((e) => e.type);
    expect(types.slice(types.indexOf('operator.attention_required'))).toEqual([
      'operator.attention_required',
      'refund.pending',
      'operator.call_resolved',
    ]);
    expect(events.at(-1)).toMatchObject({ data: { refundId } });

    // Amazon settles it: the checkout follows (IPN, or its own polling of the pending refund).
    const settled = await amazonSettlesRefunds(handle);
    expect(settled.refunds).toEqual([expect.objectContaining({ refundId, state: 'Refunded' })]);
    expect((await handle.query(eventsQuery)).at(-1)).toMatchObject({
      type: 'refund.succeeded',
      data: { refundId, state: 'Refunded' },
    });

    // The storefront's retry of its request (original key) gets that refund; Amazon is not asked again.
    const creates = await countOf(stack, 'createRefund');
    const retried = await refundRequest(checkoutSessionId, '20.00', 'refund-1');
    expect(retried).toMatchObject({ status: 201, body: { refundId, state: 'Refunded', amount: usd('20.00') } });
    expect(await countOf(stack, 'createRefund')).toBe(creates);
    expect(await refundsAtAmazon(chargeId)).toHaveLength(1);
    expect(await refundMovements(chargePermissionId)).toEqual([{ refundId, amount: '20.00' }]);

    // The 20.00 counts once: exactly the remaining 37.50 can be refunded, not a cent more.
    const rest = await refundRequest(checkoutSessionId, '37.50');
    expect(rest).toMatchObject({ status: 201, body: { number: 2, amount: usd('37.50') } });
    const restId = (rest.body as RefundSummary).refundId;
    expect(await refundRequest(checkoutSessionId, '0.01')).toMatchObject({
      body: { error: { code: 'TransactionAmountExceeded' } },
    });
    await amazonSettlesRefunds(handle);
    expect(await refundMovements(chargePermissionId)).toEqual([
      { refundId, amount: '20.00' },
      { refundId: restId, amount: '37.50' },
    ]);
    expect(await refundsAtAmazon(chargeId)).toHaveLength(2);
    await handle.terminate('test done');
  });

  it('not_executed, for a refund Amazon never created: the given-up amount is released and a new key refunds once', async () => {
    const { handle, checkoutSessionId, chargeId, chargePermissionId } = await capturedCheckout();
    await giveUpRefund(handle, false, '20.00', 'refund-1');
    expect(await refundsAtAmazon(chargeId)).toHaveLength(0);
    // Meanwhile the 20.00 may have been refunded: it is held back from what is left.
    expect(await refundRequest(checkoutSessionId, '57.50')).toMatchObject({
      body: { error: { code: 'TransactionAmountExceeded', message: expect.stringContaining('37.50 USD left') } },
    });

    const status = await resolve(handle, {
      operation: 'createRefund',
      outcome: 'not_executed',
      note: 'ops@shop.example: no such refund in Seller Central',
    });
    expect(status).toMatchObject({ status: 'Captured', refunds: [], lastReasonCode: null, attention: null });
    expect(await attentionOf(handle)).toBeUndefined();
    const described = await handle.describe();
    expect(described.memo?.unresolvedAmazonPayCall).toBeUndefined();
    expect(described.memo?.amazonPayCallResolution).toMatchObject({
      operation: 'createRefund',
      outcome: 'not_executed',
      requestId: 'refund-1',
      objectId: null,
    });
    expect((await handle.query(eventsQuery)).at(-1)).toMatchObject({
      type: 'operator.call_resolved',
      data: { refundId: null, detail: expect.stringContaining('new Idempotency-Key') },
    });

    // All of it can be refunded now, under a new key: one refund at Amazon.
    const refunded = await refundRequest(checkoutSessionId, '57.50');
    expect(refunded).toMatchObject({
      status: 201,
      body: { number: 1, amount: usd('57.50'), state: 'RefundInitiated' },
    });
    const refundId = (refunded.body as RefundSummary).refundId;
    expect(await refundsAtAmazon(chargeId)).toEqual([
      expect.objectContaining({ refundId, refundAmount: usd('57.50') }),
    ]);
    await amazonSettlesRefunds(handle);
    expect(await refundMovements(chargePermissionId)).toEqual([{ refundId, amount: '57.50' }]);
    await handle.terminate('test done');
  });

  it("a refund id of another charge, of another amount, unknown to Amazon, or already another request's answer is rejected and changes nothing", async () => {
    const { handle, chargeId } = await capturedCheckout();
    const answered = await handle.executeUpdate(refundUpdate, {
      args: [{ amount: usd('5.00'), requestId: 'refund-0' }],
    });
    const smaller = await handle.executeUpdate(refundUpdate, {
      args: [{ amount: usd('3.00'), requestId: 'refund-2' }],
    });
    await giveUpRefund(handle, true, '5.00', 'refund-1');
    const other = await capturedCheckout();
    const othersRefund = await other.handle.executeUpdate(refundUpdate, {
      args: [{ amount: usd('5.00'), requestId: 'refund-1' }],
    });
    const before = await statusOf(handle);
    expect(before.refunds).toHaveLength(2);

    const wrong = (refundId: string) =>
      updateFailure(resolve(handle, { operation: 'createRefund', outcome: 'executed', refundId, note: 'ops: typo?' }));
    expect(await wrong(othersRefund.refundId)).toMatchObject({
      type: 'ResolutionMismatch',
      message: expect.stringContaining(`it refunds charge ${other.chargeId}, the call refunded ${chargeId}`),
    });
    expect(await wrong(smaller.refundId)).toMatchObject({
      type: 'ResolutionMismatch',
      message: expect.stringMatching(/it is for 3(\.00)? USD, the call was for 5\.00 USD/),
    });
    expect(await wrong('S01-0000000-0000000-R000000')).toMatchObject({
      type: 'ResolutionMismatch',
      message: expect.stringContaining('Amazon Pay has no refund S01-0000000-0000000-R000000'),
    });
    expect(await wrong(answered.refundId)).toMatchObject({
      type: 'ResolutionMismatch',
      message: expect.stringContaining('already the answer to the refund request refund-0'),
    });

    expect(unchanged(await statusOf(handle))).toEqual(unchanged(before));
    const described = await handle.describe();
    expect(described.memo?.unresolvedAmazonPayCall).toMatchObject({ operation: 'createRefund', requestId: 'refund-1' });
    expect(described.memo?.amazonPayCallResolution).toBeUndefined();
    expect(described.typedSearchAttributes.get(OperatorAttention)).toBe('UnresolvedAmazonPayCall: createRefund');
    // The given-up 5.00 is still held back: 57.50 - 5.00 - 3.00 - 5.00 = 44.50 left.
    expect(
      await updateFailure(
        handle.executeUpdate(refundUpdate, { args: [{ amount: usd('44.51'), requestId: 'refund-3' }] }),
      ),
    ).toMatchObject({ type: 'TransactionAmountExceeded', message: expect.stringContaining('44.50 USD left') });

    // The right id still resolves it.
    const known = new Set([answered.refundId, smaller.refundId]);
    const [givenUp] = (await refundsAtAmazon(chargeId)).filter((r) => !known.has(r.refundId));
    expect(
      await resolve(handle, {
        operation: 'createRefund',
        outcome: 'executed',
        refundId: givenUp!.refundId,
        note: 'ops',
      }),
    ).toMatchObject({
      refunds: [{ refundId: answered.refundId }, { refundId: smaller.refundId }, { refundId: givenUp!.refundId }],
    });
    await Promise.all([handle.terminate('test done'), other.handle.terminate('test done')]);
  });

  it('two refunds given up: each is resolved by its requestId, and a refund adopted for one cannot answer the other', async () => {
    const { handle, chargeId } = await capturedCheckout();
    await giveUpRefund(handle, true, '5.00', 'refund-1');
    const [first] = await refundsAtAmazon(chargeId);
    await giveUpRefund(handle, true, '5.00', 'refund-2');
    const second = (await refundsAtAmazon(chargeId)).find((r) => r.refundId !== first!.refundId);
    expect(second).toBeDefined();
    // Which one is ambiguous without the requestId.
    expect(
      await updateFailure(
        resolve(handle, { operation: 'createRefund', outcome: 'executed', refundId: first!.refundId, note: 'ops' }),
      ),
    ).toMatchObject({ type: 'InvalidParameterValue', message: expect.stringContaining('refund-1, refund-2') });

    const status = await resolve(handle, {
      operation: 'createRefund',
      outcome: 'executed',
      refundId: first!.refundId,
      requestId: 'refund-1',
      note: 'ops',
    });
    // The other is still unresolved: still shown, searchable and in the memo.
    expect(status).toMatchObject({
      refunds: [{ refundId: first!.refundId }],
      lastReasonCode: 'UnresolvedAmazonPayCall',
      attention: { reason: 'UnresolvedAmazonPayCall: createRefund' },
    });
    expect((await handle.describe()).memo?.unresolvedAmazonPayCall).toMatchObject({ requestId: 'refund-2' });
    expect(await attentionOf(handle)).toBe('UnresolvedAmazonPayCall: createRefund');

    const reuse = { operation: 'createRefund', outcome: 'executed', refundId: first!.refundId, note: 'ops' } as const;
    expect(await updateFailure(resolve(handle, { ...reuse, requestId: 'refund-2' }))).toMatchObject({
      type: 'ResolutionMismatch',
      message: expect.stringContaining('already the answer to the refund request refund-1'),
    });
    expect(await resolve(handle, { ...reuse, refundId: second!.refundId, requestId: 'refund-2' })).toMatchObject({
      refunds: [{ refundId: first!.refundId }, { refundId: second!.refundId }],
      lastReasonCode: null,
      attention: null,
    });
    expect(await attentionOf(handle)).toBeUndefined();
    // Both keys get their own refund; nothing more is refunded at Amazon.
    for (const [key, refundId] of [
      ['refund-1', first!.refundId],
      ['refund-2', second!.refundId],
    ] as const)
      expect(
        await handle.executeUpdate(refundUpdate, { args: [{ amount: usd('5.00'), requestId: key }] }),
      ).toMatchObject({
        refundId,
      });
    expect(await refundsAtAmazon(chargeId)).toHaveLength(2);
    await handle.terminate('test done');
  });

  it('a given-up refund retried with its key is refused without reaching Amazon; the operator resolves it once, and the retry then gets that refund', async () => {
    const { handle, checkoutSessionId, chargeId } = await capturedCheckout();
    await giveUpRefund(handle, true, '20.00', 'refund-1');
    const sent = await countOf(stack, 'createRefund');
    // Sent again it would be given up again while Amazon stays silent, its 20.00 held back twice.
    expect(await refundRequest(checkoutSessionId, '20.00', 'refund-1')).toMatchObject({
      status: 409,
      body: { error: { code: 'UnresolvedAmazonPayCall', message: expect.stringContaining('resolveAmazonPayCall') } },
    });
    expect(await countOf(stack, 'createRefund')).toBe(sent);
    const atAmazon = await refundsAtAmazon(chargeId);
    expect(atAmazon).toHaveLength(1); // one key, one refund
    const refundId = atAmazon[0]!.refundId;
    // Held back once: 57.50 - 20.00 = 37.50 left.
    expect(await refundRequest(checkoutSessionId, '37.51')).toMatchObject({
      body: { error: { code: 'TransactionAmountExceeded', message: expect.stringContaining('37.50 USD left') } },
    });
    expect((await handle.describe()).memo?.unresolvedAmazonPayCall).toMatchObject({ requestId: 'refund-1' });

    // The operator does what the memo shows: one createRefund, requestId refund-1.
    const status = await resolve(handle, {
      operation: 'createRefund',
      outcome: 'executed',
      refundId,
      note: 'ops@shop.example: one refund of 20.00 in Seller Central',
    });
    expect(status).toMatchObject({
      refunds: [{ refundId, amount: usd('20.00') }],
      lastReasonCode: null,
      attention: null,
    });
    expect(await attentionOf(handle)).toBeUndefined();
    expect((await handle.describe()).memo?.unresolvedAmazonPayCall).toBeUndefined();
    // The 20.00 counts once: exactly 37.50 is left.
    const creates = await countOf(stack, 'createRefund');
    expect(await refundRequest(checkoutSessionId, '20.00', 'refund-1')).toMatchObject({
      status: 201,
      body: { refundId },
    });
    expect(await countOf(stack, 'createRefund')).toBe(creates);
    expect(await refundRequest(checkoutSessionId, '37.50')).toMatchObject({ status: 201, body: { number: 2 } });
    expect(await refundRequest(checkoutSessionId, '0.01')).toMatchObject({
      body: { error: { code: 'TransactionAmountExceeded' } },
    });
    expect(await refundsAtAmazon(chargeId)).toHaveLength(2);
    await handle.terminate('test done');
  });
});
