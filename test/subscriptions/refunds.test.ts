// Refunds of a cycle's charge through the API, at real durations on the time-skipping server
// against the simulator (its refunds settle 30 s after Create Refund unless a test says otherwise,
// and send a REFUND IPN at each state): tracked to Refunded or Declined, told to a verifying
// receiver, limited to what the cycle's charge has left, and one Amazon refund per Idempotency-Key
// whatever the retries, continue-as-new included.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AmazonPayError } from '../../amazon-pay';
import { idempotencyKeyFor } from '../../amazon-pay/idempotency';
import { cancelSubscriptionUpdate, type SubscriptionStatus } from '../../workflows/subscription-messages';
import { startTimeSkippingStack, type TimeSkippingStack } from '../support/time-skipping';
import type { TestStackOptions } from '../support/stack';
import { startReceiver, type Receiver } from '../events/receiver';
import { recordHistory } from '../checkout/record';
import { usd } from '../checkout/helpers';
import { statusOfSubscription, subscribe, until, type SubscriptionHandle } from './helpers';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The simulator's default: RefundInitiated settles this long after Create Refund. */
const SETTLES_AFTER = 30_000;

let stack: TimeSkippingStack | undefined;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
});
afterEach(async () => {
  await stack?.[Symbol.asyncDispose]();
  stack = undefined;
});
afterAll(async () => {
  await receiver?.[Symbol.asyncDispose]();
});

/** A stack per test (the Java test server's clock must not be shared by tests that move it differently). */
async function open(options: Omit<TestStackOptions, 'temporal' | 'webhooks'> = {}): Promise<TimeSkippingStack> {
  stack = await startTimeSkippingStack({
    ...options,
    webhooks: {
      endpoints: [{ id: 'orders', url: receiver.url, secrets: [receiver.secret] }],
      retryScheduleMs: [1000, 5000],
      timeoutMs: 5_000,
    },
  });
  return stack;
}

type Answer = { status: number; body: Record<string, unknown> & { error?: { code: string; message: string } } };

async function refund(
  s: TimeSkippingStack,
  subscriptionId: string,
  cycle: number,
  amount: unknown,
  key: string | null,
): Promise<Answer> {
  const res = await s.app.request(`/v1/subscriptions/${subscriptionId}/cycles/${cycle}/refunds`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${s.apiKey}`,
      'content-type': 'application/json',
      ...(key ? { 'idempotency-key': key } : {}),
    },
    body: JSON.stringify(typeof amount === 'string' ? { amount: usd(amount) } : amount),
  });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

async function getSubscription(s: TimeSkippingStack, subscriptionId: string): Promise<SubscriptionStatus> {
  const res = await s.app.request(`/v1/subscriptions/${subscriptionId}`, {
    headers: { authorization: `Bearer ${s.apiKey}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as SubscriptionStatus;
}

const cycleOf = (status: SubscriptionStatus, n: number) => status.cycles.find((c) => c.n === n)!;

/** Waits until every refund of cycle n is in one of `states`; answers the API's view of the subscription. */
const refundsSettle = (s: TimeSkippingStack, id: string, n: number, states: string[] = ['Refunded', 'Declined']) =>
  until(
    async () => {
      const status = await getSubscription(s, id);
      const refunds = cycleOf(status, n).refunds ?? [];
      return refunds.length > 0 && refunds.every((r) => states.includes(r.state)) && status;
    },
    `cycle ${n}'s refunds ${states.join('/')}`,
  );

const refundEvents = (subscriptionId: string) =>
  receiver
    .delivered()
    .filter((e) => e.data.subscriptionId === subscriptionId && e.type.startsWith('refund.'))
    .map((e) => `${e.type}:${e.data.cycle}:${e.data.refundId}`);

const refundMovements = async (s: TimeSkippingStack, chargePermissionId: string) =>
  (await s.admin.moneyMovements({ chargePermissionId })).movements
    .filter((m) => m.kind === 'refund')
    .map((m) => m.amount);

const createRefunds = async (s: TimeSkippingStack) => (await s.admin.requestCounts()).byOperation.createRefund ?? 0;
const sendsOfKey = async (s: TimeSkippingStack, chargePermissionId: string, cycle: number, key: string) =>
  (await s.admin.requestCounts()).byIdempotencyKey[
    idempotencyKeyFor(`subscription/${chargePermissionId}/cycle/${cycle}/refund/${key}`)
  ] ?? 0;

/** Refund updates the workflow accepted (a validator's refusal leaves none). */
const acceptedRefunds = async (h: SubscriptionHandle) =>
  ((await h.fetchHistory()).events ?? []).filter(
    (e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'refundSubscriptionCycle',
  ).length;

async function signedUp(s: TimeSkippingStack, opts: Parameters<typeof subscribe>[1]) {
  const sub = await subscribe(s, opts);
  await until(() => statusOfSubscription(sub.subscription).catch(() => undefined), 'the subscription');
  return sub;
}

/** Moves both clocks an hour past the next billing time and waits until that cycle is billed. */
async function billNext(s: TimeSkippingStack, subscription: SubscriptionHandle) {
  const before = (await statusOfSubscription(subscription)).nextBillingAt!;
  await s.elapse(Date.parse(before) + HOUR - (await s.env.currentTimeMs()));
  return until(async () => {
    const status = await statusOfSubscription(subscription);
    return status.nextBillingAt !== before && status;
  }, 'the cycle billed');
}

const runIdOf = async (h: SubscriptionHandle) => (await h.describe()).runId;

/** Amazon creates the next refund, but its answer is lost on the way back (no retry: it looks final to us). */
function loseNextRefundAnswer(s: TimeSkippingStack): () => void {
  const original = s.amazonPay.createRefund.bind(s.amazonPay);
  let lost = false;
  s.amazonPay.createRefund = async (body, opts) => {
    const answer = await original(body, opts);
    if (lost) return answer;
    lost = true;
    throw new AmazonPayError({ status: 0, reasonCode: 'Timeout', message: 'answer lost in transit', retryable: false });
  };
  return () => {
    s.amazonPay.createRefund = original;
  };
}

describe('refunding a cycle of a subscription', () => {
  it('a full refund of a billed cycle is tracked to Refunded by its REFUND IPN, refund.succeeded reaches the receiver, GET shows it', async () => {
    const s = await open();
    const { subscription, chargePermissionId } = await signedUp(s, { amount: '10.00' });
    const billed = await billNext(s, subscription);
    const cycle1 = cycleOf(billed, 1);
    expect(cycle1.state).toBe('Paid');

    const created = await refund(s, subscription.workflowId, 1, '10.00', 'refund-cycle-1');
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      cycle: 1,
      chargeId: cycle1.chargeId,
      amount: usd('10.00'),
      state: 'RefundInitiated',
      refundId: expect.stringMatching(new RegExp(`^${chargePermissionId}-R\\d+$`)),
    });
    const refundId = created.body.refundId as string;
    // Amazon settles it 30 s later; the first poll would come 10 minutes after creation, so
    // reaching Refunded within this minute is the IPN's doing.
    await s.elapse(SETTLES_AFTER + 1_000);
    const settled = await refundsSettle(s, subscription.workflowId, 1);
    expect(cycleOf(settled, 1)).toMatchObject({
      refunds: [{ refundId, state: 'Refunded', amount: usd('10.00'), reasonCode: null }],
      refundedAmount: usd('10.00'),
    });
    expect(cycleOf(settled, 0)).toMatchObject({ refunds: [], refundedAmount: usd('0.00') });
    // The status query shows the same.
    expect(cycleOf(await statusOfSubscription(subscription), 1).refunds).toEqual(cycleOf(settled, 1).refunds);
    await until(
      () => refundEvents(subscription.workflowId).includes(`refund.succeeded:1:${refundId}`),
      'refund.succeeded delivered',
    );
    expect(refundEvents(subscription.workflowId)).toEqual([
      `refund.pending:1:${refundId}`,
      `refund.succeeded:1:${refundId}`,
    ]);
    const event = receiver.delivered().find((e) => e.type === 'refund.succeeded' && e.data.refundId === refundId)!;
    expect(event.data).toMatchObject({
      object: 'subscription',
      subscriptionId: subscription.workflowId,
      chargePermissionId,
      chargeId: cycle1.chargeId,
      state: 'Refunded',
      amount: usd('10.00'),
      cycle: 1,
    });
    expect(await refundMovements(s, chargePermissionId)).toEqual(['10.00']);
    await subscription.executeUpdate(cancelSubscriptionUpdate, { args: [{ atPeriodEnd: false }] });
    await s.resultOf(subscription);
    await recordHistory(subscription, 'subscription-cycle-refund');
  });

  it('two partial refunds, then a third over what is left is refused (422) and nothing is written; other refusals too', async () => {
    const s = await open();
    const { subscription, chargePermissionId } = await signedUp(s, { amount: '10.00' });
    const id = subscription.workflowId;
    expect((await refund(s, id, 0, '3.00', 'partial-a')).status).toBe(201);
    expect((await refund(s, id, 0, '4.00', 'partial-b')).status).toBe(201);
    expect(await acceptedRefunds(subscription)).toBe(2);

    const over = await refund(s, id, 0, '3.01', 'partial-c');
    expect(over.status).toBe(422);
    expect(over.body.error).toMatchObject({ code: 'TransactionAmountExceeded' });
    expect(over.body.error!.message).toContain('3.00 USD');
    const refusals: [Answer, number, string][] = [
      [await refund(s, id, 7, '1.00', 'unknown-cycle'), 404, 'CycleNotFound'],
      [await refund(s, id, 0, { amount: { amount: '1.00', currencyCode: 'EUR' } }, 'euros'), 422, 'CurrencyMismatch'],
      [await refund(s, id, 0, '1.00', null), 400, 'idempotency_key_required'],
      [await refund(s, id, 0, { amount: usd('1.00'), note: 'x' }, 'extra-field'), 400, 'validation_error'],
      // The key that refunded 3.00 cannot refund another amount.
      [await refund(s, id, 0, '2.00', 'partial-a'), 422, 'idempotency_key_reused'],
    ];
    for (const [answer, status, code] of refusals) {
      expect([answer.status, answer.body.error?.code]).toEqual([status, code]);
    }
    // Nothing written: no update accepted, no call to Amazon, the same two refunds.
    expect(await acceptedRefunds(subscription)).toBe(2);
    expect(await createRefunds(s)).toBe(2);
    await s.elapse(SETTLES_AFTER + 1_000);
    const settled = await refundsSettle(s, id, 0);
    expect(cycleOf(settled, 0).refunds!.map((r) => [r.amount.amount, r.state])).toEqual([
      ['3.00', 'Refunded'],
      ['4.00', 'Refunded'],
    ]);
    expect(cycleOf(settled, 0).refundedAmount).toEqual(usd('7.00'));
    // Exactly what is left still goes.
    expect((await refund(s, id, 0, '3.00', 'partial-d')).status).toBe(201);
    expect(await refundMovements(s, chargePermissionId)).toEqual(['3.00', '4.00']);
    for (const key of ['partial-a', 'partial-b', 'partial-d'])
      expect([key, await sendsOfKey(s, chargePermissionId, 0, key)]).toEqual([key, 1]);
    await s.elapse(SETTLES_AFTER + 1_000);
    await refundsSettle(s, id, 0);
    await subscription.executeUpdate(cancelSubscriptionUpdate, { args: [{ atPeriodEnd: false }] });
  });

  it('a retry with the same key answers the same refund, concurrently, after it settled and after continue-as-new: one Create Refund, one refund', async () => {
    const s = await open();
    const { subscription, chargePermissionId } = await signedUp(s, { amount: '8.00' });
    const id = subscription.workflowId;
    const first = await refund(s, id, 0, '8.00', 'same-key');
    expect(first.status).toBe(201);
    const retries = await Promise.all([
      refund(s, id, 0, '8.00', 'same-key'),
      refund(s, id, 0, '8.00', 'same-key'),
      refund(s, id, 0, '8.00', 'same-key'),
    ]);
    for (const r of retries) expect([r.status, r.body.refundId]).toEqual([201, first.body.refundId]);
    await s.elapse(SETTLES_AFTER + 1_000);
    await refundsSettle(s, id, 0);
    const settledRetry = await refund(s, id, 0, '8.00', 'same-key');
    expect(settledRetry).toMatchObject({ status: 201, body: { refundId: first.body.refundId, state: 'Refunded' } });

    // A billed cycle continues as new: Temporal's update-id dedupe would not reach this far, the
    // state's record does.
    const run = await runIdOf(subscription);
    await billNext(s, subscription);
    await until(async () => (await runIdOf(subscription)) !== run, 'continued as new');
    const afterRun = await refund(s, id, 0, '8.00', 'same-key');
    expect(afterRun).toMatchObject({ status: 201, body: { refundId: first.body.refundId, state: 'Refunded' } });

    expect(await createRefunds(s)).toBe(1);
    expect(await sendsOfKey(s, chargePermissionId, 0, 'same-key')).toBe(1);
    expect(await refundMovements(s, chargePermissionId)).toEqual(['8.00']);
    expect(refundEvents(id).filter((e) => e.startsWith('refund.succeeded'))).toHaveLength(1);
    await subscription.executeUpdate(cancelSubscriptionUpdate, { args: [{ atPeriodEnd: false }] });
  });

  it('a refund Amazon declines ends Declined with refund.failed; its amount is refundable again', async () => {
    const s = await open();
    const { subscription, chargePermissionId } = await signedUp(s, { amount: '5.00' });
    const id = subscription.workflowId;
    const original = s.amazonPay.createRefund.bind(s.amazonPay);
    s.amazonPay.createRefund = (body, opts) => original(body, { ...opts, simulationCode: 'RefundDeclined' });
    const declined = await refund(s, id, 0, '5.00', 'declined');
    expect(declined.body).toMatchObject({ state: 'RefundInitiated' });
    await s.elapse(SETTLES_AFTER + 1_000);
    const settled = await refundsSettle(s, id, 0);
    expect(cycleOf(settled, 0)).toMatchObject({
      refunds: [{ refundId: declined.body.refundId, state: 'Declined', reasonCode: 'AmazonRejected' }],
      refundedAmount: usd('0.00'),
    });
    await until(
      () => refundEvents(id).includes(`refund.failed:0:${declined.body.refundId}`),
      'refund.failed delivered',
    );
    const failed = receiver.delivered().find((e) => e.type === 'refund.failed' && e.data.subscriptionId === id)!;
    expect(failed.data).toMatchObject({ state: 'Declined', reasonCode: 'AmazonRejected', cycle: 0 });
    expect(await refundMovements(s, chargePermissionId)).toEqual([]);

    s.amazonPay.createRefund = original;
    expect((await refund(s, id, 0, '5.00', 'after-decline')).status).toBe(201);
    await s.elapse(SETTLES_AFTER + 1_000);
    await until(async () => (await refundMovements(s, chargePermissionId)).length === 1, 'the second refund');
    await refundsSettle(s, id, 0);
    await subscription.executeUpdate(cancelSubscriptionUpdate, { args: [{ atPeriodEnd: false }] });
    await s.resultOf(subscription);
    await recordHistory(subscription, 'subscription-refund-declined');
  });

  it('a refund pending across continue-as-new still reaches its final state in the next run', async () => {
    // Amazon takes 36 hours; the daily plan bills (and continues as new) after 24.
    const s = await open({ simulator: { delays: { refundMs: 36 * HOUR } } });
    const { subscription, chargePermissionId } = await signedUp(s, { unit: 'Day', value: 1, amount: '2.00' });
    const id = subscription.workflowId;
    const created = await refund(s, id, 0, '2.00', 'slow');
    expect(created.body).toMatchObject({ state: 'RefundInitiated' });
    const run = await runIdOf(subscription);
    await billNext(s, subscription);
    await until(async () => (await runIdOf(subscription)) !== run, 'continued as new');
    expect(cycleOf(await getSubscription(s, id), 0).refunds).toMatchObject([
      { refundId: created.body.refundId, state: 'RefundInitiated' },
    ]);
    await s.elapse(12 * HOUR);
    const settled = await refundsSettle(s, id, 0);
    expect(cycleOf(settled, 0)).toMatchObject({ refundedAmount: usd('2.00') });
    await until(
      () => refundEvents(id).includes(`refund.succeeded:0:${created.body.refundId}`),
      'refund.succeeded from the next run',
    );
    expect(await refundMovements(s, chargePermissionId)).toEqual(['2.00']);
    expect(await sendsOfKey(s, chargePermissionId, 0, 'slow')).toBe(1);
    await subscription.executeUpdate(cancelSubscriptionUpdate, { args: [{ atPeriodEnd: false }] });
    await s.resultOf(subscription);
    await recordHistory(subscription, 'subscription-refund-across-continue-as-new');
  });

  it('a Create Refund whose answer is lost answers 503 and holds its amount back; sent again under its key, Amazon refunds once', async () => {
    const s = await open({ ipn: false });
    const { subscription, chargePermissionId } = await signedUp(s, { amount: '9.00' });
    const id = subscription.workflowId;
    const restore = loseNextRefundAnswer(s);
    const lost = await refund(s, id, 0, '9.00', 'lost-answer');
    restore();
    expect([lost.status, lost.body.error?.code]).toEqual([503, 'AmazonPayUnavailable']);
    expect(cycleOf(await getSubscription(s, id), 0).refunds).toMatchObject([{ state: 'Requested', refundId: null }]);
    // It may have happened (it did): nothing more of the cycle is refundable meanwhile.
    expect((await refund(s, id, 0, '1.00', 'meanwhile')).body.error?.code).toBe('TransactionAmountExceeded');
    // No IPN here: the tracker sends it again a minute later, under the same key.
    await s.elapse(MINUTE + 1_000);
    const found = await until(async () => {
      const r = cycleOf(await getSubscription(s, id), 0).refunds?.[0];
      return r?.refundId ? r : undefined;
    }, 'the resend answered');
    const retry = await refund(s, id, 0, '9.00', 'lost-answer');
    expect(retry).toMatchObject({ status: 201, body: { refundId: found.refundId } });
    await s.elapse(10 * MINUTE);
    await refundsSettle(s, id, 0);
    expect(await refundMovements(s, chargePermissionId)).toEqual(['9.00']);
    // The lost call and its resend: one key, one refund at Amazon.
    expect(await sendsOfKey(s, chargePermissionId, 0, 'lost-answer')).toBe(2);
    expect(((await s.admin.objects()).refunds as unknown[]).length).toBe(1);
    await subscription.executeUpdate(cancelSubscriptionUpdate, { args: [{ atPeriodEnd: false }] });
  });

  it("a lost answer is settled by the refund's IPN: the resend under its key names the refund, which is read", async () => {
    const s = await open();
    const { subscription, chargePermissionId } = await signedUp(s, { amount: '7.00' });
    const id = subscription.workflowId;
    const restore = loseNextRefundAnswer(s);
    expect((await refund(s, id, 0, '7.00', 'lost-then-ipn')).status).toBe(503);
    restore();
    // The creation IPN (or the final one, after 30 s) reaches the subscription while the refund is Requested.
    await until(
      async () => cycleOf(await getSubscription(s, id), 0).refunds?.[0]?.refundId,
      'the refund named by the resend the IPN caused',
    );
    await s.elapse(SETTLES_AFTER + 1_000);
    await refundsSettle(s, id, 0);
    expect(await refundMovements(s, chargePermissionId)).toEqual(['7.00']);
    expect(((await s.admin.objects()).refunds as unknown[]).length).toBe(1);
    await subscription.executeUpdate(cancelSubscriptionUpdate, { args: [{ atPeriodEnd: false }] });
  });

  it('without IPNs the poll finds the final state (first Get Refund 10 minutes after creation)', async () => {
    const s = await open({ ipn: false });
    const { subscription } = await signedUp(s, { amount: '6.00' });
    const id = subscription.workflowId;
    expect((await refund(s, id, 0, '6.00', 'polled')).status).toBe(201);
    await s.elapse(SETTLES_AFTER + 1_000);
    expect(cycleOf(await getSubscription(s, id), 0).refunds).toMatchObject([{ state: 'RefundInitiated' }]);
    await s.elapse(10 * MINUTE);
    await refundsSettle(s, id, 0);
    expect((await s.admin.requestCounts()).byOperation.getRefund).toBeGreaterThanOrEqual(1);
    await subscription.executeUpdate(cancelSubscriptionUpdate, { args: [{ atPeriodEnd: false }] });
  });
});
