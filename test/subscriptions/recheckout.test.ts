// The re-checkout where PSD2 applies (EU): a plan change is refused with 409 recheckout_required and
// the way forward; the buyer checks out again through the API (Confirm: nothing charged); the same
// subscription then bills the new charge permission, and the old one is closed at Amazon only once
// the new one is complete. At real durations on the time-skipping server, against the simulator.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WorkflowNotFoundError } from '@temporalio/client';
import { startTimeSkippingStack, type TimeSkippingStack } from '../support/time-skipping';
import { startReceiver, type Receiver } from '../events/receiver';
import { recordHistory } from '../checkout/record';
import { usd } from '../checkout/helpers';
import {
  checkoutWorkflowId,
  reviewUpdate,
  type CheckoutStatus,
  type CompletionOutcome,
} from '../../workflows/checkout-messages';
import type { checkoutWorkflow } from '../../workflows/checkout';
import { replaceChargePermissionUpdate, type SubscriptionStatus } from '../../workflows/subscription-messages';
import { statusOfSubscription, subscribe, until, type SubscriptionHandle } from './helpers';
import { unanswered } from '../checkout/operator-resolution-helpers';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

let stack: TimeSkippingStack;
let receiver: Receiver;

// A stack per test, as in billing.test.ts (the Java test server's clock must not carry a stall over).
beforeAll(async () => {
  receiver = await startReceiver();
});
beforeEach(async () => {
  stack = await startTimeSkippingStack({
    region: 'eu',
    webhooks: {
      endpoints: [{ id: 'orders', url: receiver.url, secrets: [receiver.secret] }],
      retryScheduleMs: [1000],
      timeoutMs: 5_000,
    },
  });
});
afterEach(async () => {
  await stack?.[Symbol.asyncDispose]();
});
afterAll(async () => {
  await receiver?.[Symbol.asyncDispose]();
});

type ErrorAnswer = { error?: { code: string; message: string; details?: { recheckout?: RecheckoutOffer } } };
interface RecheckoutOffer {
  method: string;
  path: string;
  body: Record<string, unknown>;
}
interface Recheckout {
  subscriptionId: string;
  checkoutSessionId: string;
  amazonPayRedirectUrl: string | null;
  replacesChargePermissionId: string;
  plan: SubscriptionStatus['plan'];
  paymentIntent: 'Confirm';
}

async function api<T>(method: string, path: string, body?: unknown, key?: string) {
  const res = await stack.app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${stack.apiKey}`,
      'content-type': 'application/json',
      ...(key ? { 'idempotency-key': key } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T & ErrorAnswer };
}

const captures = async (chargePermissionId: string) =>
  (await stack.admin.moneyMovements({ chargePermissionId })).movements
    .filter((m) => m.kind === 'capture')
    .map((m) => m.amount);
const stateAtAmazon = async (chargePermissionId: string) =>
  (await stack.amazonPay.getChargePermission(chargePermissionId)).statusDetails.state;
const eventsOf = (subscriptionId: string) =>
  receiver.delivered().filter((e) => e.data.subscriptionId === subscriptionId);

/** Moves both clocks past the next charge and waits until it is billed on `chargePermissionId`. */
async function billNext(subscription: SubscriptionHandle, chargePermissionId: string) {
  const before = await statusOfSubscription(subscription);
  const count = (await captures(chargePermissionId)).length;
  await stack.elapse(Math.max(0, Date.parse(before.nextBillingAt!) - (await stack.env.currentTimeMs())) + HOUR);
  await until(async () => (await captures(chargePermissionId)).length === count + 1, 'the next charge');
  return until(async () => {
    const s = await statusOfSubscription(subscription);
    return s.nextBillingAt !== before.nextBillingAt && s;
  }, 'the next billing date');
}

/** The refused plan change, then the offered re-checkout through the API. */
async function offerRecheckout(subscriptionId: string, amount: string, key = crypto.randomUUID()) {
  const refused = await api('POST', `/v1/subscriptions/${subscriptionId}/plan`, { amount: usd(amount) }, key);
  expect([refused.status, refused.body.error?.code]).toEqual([409, 'recheckout_required']);
  const offer = refused.body.error!.details!.recheckout!;
  expect(offer).toMatchObject({
    method: 'POST',
    path: `/v1/subscriptions/${subscriptionId}/recheckout`,
    body: { amount: usd(amount) },
  });
  const body = { ...offer.body, checkoutReviewReturnUrl: 'https://shop.example/review' };
  const created = await api<Recheckout>(offer.method, offer.path, body, key);
  expect(created.status).toBe(201);
  return { created: created.body, body, key };
}

const finalAmount = (amount: string, paymentIntent: 'Confirm' | 'AuthorizeWithCapture') => ({
  chargeAmount: usd(amount),
  paymentIntent,
  canHandlePendingAuthorization: false,
  merchantReferenceId: 'order-recheckout',
  checkoutResultReturnUrl: 'https://shop.example/result',
});

describe('re-checkout where PSD2 applies (EU)', () => {
  it('moves the subscription to the new charge permission: the next cycle bills it at the new amount, the old one is closed only after the new one completed', async () => {
    const { subscription, chargePermissionId: oldCp } = await subscribe(stack, { unit: 'Month', amount: '10.00' });
    const start = await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    const { created, body, key } = await offerRecheckout(subscription.workflowId, '15.00');
    expect(created).toMatchObject({
      subscriptionId: subscription.workflowId,
      replacesChargePermissionId: oldCp,
      plan: { unit: 'Month', value: 1, amount: usd('15.00') },
      paymentIntent: 'Confirm',
    });
    // A retried request gets the same session.
    const again = await api<Recheckout>('POST', `/v1/subscriptions/${subscription.workflowId}/recheckout`, body, key);
    expect([again.status, again.body.checkoutSessionId]).toEqual([201, created.checkoutSessionId]);
    const sid = created.checkoutSessionId;
    // The session asks the buyer for the new terms.
    const session = await stack.amazonPay.getCheckoutSession(sid);
    expect(session.chargePermissionType).toBe('Recurring');
    expect(session.recurringMetadata).toMatchObject({ frequency: { unit: 'Month', value: '1' }, amount: usd('15.00') });

    // The buyer signs in and returns to the review page. The review goes to the workflow directly:
    // the API's update-with-start is missing on the Java time-skipping server.
    await stack.admin.signIn(sid);
    const checkout = stack.temporal.workflow.getHandle<typeof checkoutWorkflow>(checkoutWorkflowId(sid));
    await checkout.executeUpdate(reviewUpdate);
    const charging = await api('POST', `/v1/checkouts/${sid}/amount`, finalAmount('15.00', 'AuthorizeWithCapture'));
    expect([charging.status, charging.body.error?.code]).toEqual([422, 'InvalidParameterValue']);
    const amount = await api<{ amazonPayRedirectUrl: string }>(
      'POST',
      `/v1/checkouts/${sid}/amount`,
      finalAmount('15.00', 'Confirm'),
    );
    expect(amount.status).toBe(200);
    await stack.admin.pay(amount.body.amazonPayRedirectUrl, 'happy');
    // Paid at Amazon but not completed: the subscription is still on the old permission.
    expect(await stateAtAmazon(oldCp)).toBe('Chargeable');
    expect((await statusOfSubscription(subscription)).chargePermissionId).toBe(oldCp);

    const completed = await api<CompletionOutcome>('POST', `/v1/checkouts/${sid}/complete`);
    expect(completed.body).toMatchObject({ completed: true, chargeId: null, status: 'Confirmed' });
    const newCp = (completed.body as { chargePermissionId: string }).chargePermissionId;
    expect(newCp).not.toBe(oldCp);
    const retried = await api<CompletionOutcome>('POST', `/v1/checkouts/${sid}/complete`);
    expect(retried.body).toEqual(completed.body);

    const moved = await until(async () => {
      const s = await statusOfSubscription(subscription);
      return s.chargePermissionId === newCp && (await stateAtAmazon(oldCp)) === 'Closed' && s;
    }, 'the subscription on the new permission, the old one closed');
    expect(moved).toMatchObject({
      subscriptionId: subscription.workflowId,
      checkoutSessionId: sid,
      plan: { unit: 'Month', value: 1, amount: usd('15.00') },
      nextBillingAt: start.nextBillingAt,
      previousChargePermissionIds: [oldCp],
      status: 'active',
    });
    expect(await stateAtAmazon(newCp)).toBe('Chargeable');
    // Nothing charged at the re-checkout; no second subscription.
    expect(await captures(newCp)).toEqual([]);
    await expect(stack.temporal.workflow.getHandle(`subscription-${newCp}`).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
    const ended = await stack.resultOf<CheckoutStatus>(checkout);
    expect(ended.status).toBe('Confirmed');

    // The hand-over sent again as from a later run (another update id: Temporal's dedupe would not
    // catch it) answers the status and changes nothing.
    const repeated = await subscription.executeUpdate(replaceChargePermissionUpdate, {
      args: [{ chargePermissionId: newCp, checkoutSessionId: sid, plan: moved.plan }],
    });
    expect(repeated.previousChargePermissionIds).toEqual([oldCp]);

    const firstRun = (await subscription.describe()).runId;
    const billed = await billNext(subscription, newCp);
    expect(billed.cycles.at(-1)).toMatchObject({ n: 1, state: 'Paid', amount: usd('15.00') });
    expect(await captures(newCp)).toEqual(['15.00']);
    expect(await captures(oldCp)).toEqual(['10.00']); // the sign-up's cycle 0 only

    await until(
      () => eventsOf(subscription.workflowId).some((e) => e.type === 'subscription.charged' && e.data.cycle === 1),
      'the charge event',
    );
    const events = eventsOf(subscription.workflowId);
    const replaced = events.filter((e) => e.type === 'subscription.charge_permission_replaced');
    expect(replaced).toHaveLength(1);
    expect(replaced[0]!.data).toMatchObject({ chargePermissionId: newCp, previousChargePermissionId: oldCp });
    expect(events.filter((e) => e.type === 'subscription.plan_changed')).toHaveLength(1);
    expect(events.find((e) => e.type === 'subscription.charged' && e.data.cycle === 1)!.data).toMatchObject({
      chargePermissionId: newCp,
      amount: usd('15.00'),
    });
    // The run that took the hand-over, closed the old permission and billed cycle 1 (then continued as new).
    await recordHistory(
      stack.temporal.workflow.getHandle(subscription.workflowId, firstRun),
      'subscription-recheckout',
    );
    await recordHistory(checkout, 'recheckout-handed-over');
    await recordHistory(
      stack.temporal.workflow.getHandle(`recheckout-${subscription.workflowId}-${key}`),
      'create-recheckout-session',
    );
  });

  it('a cycle charge left without an answer is sent again on the old permission under its key, which closes only after: one charge for the cycle', async () => {
    const { subscription, chargePermissionId: oldCp } = await subscribe(stack, { unit: 'Month', amount: '10.00' });
    const start = await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    // Cycle 1 is charged at Amazon, but its answer is lost on every attempt.
    await unanswered(stack, 'createCharge', true, async () => {
      await stack.elapse(Date.parse(start.nextBillingAt!) - (await stack.env.currentTimeMs()) + MINUTE);
      await until(async () => {
        const c = (await statusOfSubscription(subscription)).cycles.find((x) => x.n === 1);
        return c?.state === 'Scheduled' && c.reasonCode !== null;
      }, 'cycle 1 without an answer');
    });
    expect(await captures(oldCp)).toEqual(['10.00', '10.00']);

    const { created } = await offerRecheckout(subscription.workflowId, '15.00');
    const sid = created.checkoutSessionId;
    await stack.admin.signIn(sid);
    await stack.temporal.workflow
      .getHandle<typeof checkoutWorkflow>(checkoutWorkflowId(sid))
      .executeUpdate(reviewUpdate);
    const amount = await api<{ amazonPayRedirectUrl: string }>(
      'POST',
      `/v1/checkouts/${sid}/amount`,
      finalAmount('15.00', 'Confirm'),
    );
    await stack.admin.pay(amount.body.amazonPayRedirectUrl, 'happy');
    const completed = await api<{ chargePermissionId: string }>('POST', `/v1/checkouts/${sid}/complete`);
    const newCp = completed.body.chargePermissionId;
    await until(
      async () => (await statusOfSubscription(subscription)).chargePermissionId === newCp,
      'the subscription on the new permission',
    );
    // The unanswered cycle still belongs to the old permission: it stays open until it is answered.
    expect(await stateAtAmazon(oldCp)).toBe('Chargeable');

    // The resend (10 minutes on) goes where the first send went, under its key: Amazon answers the
    // charge it made, and only then is the old permission closed.
    await stack.elapse(15 * MINUTE);
    const paid = await until(async () => {
      const s = await statusOfSubscription(subscription);
      return s.cycles.find((c) => c.n === 1)?.state === 'Paid' && (await stateAtAmazon(oldCp)) === 'Closed' && s;
    }, 'cycle 1 paid, the old permission closed');
    expect(paid.cycles.find((c) => c.n === 1)).toMatchObject({ amount: usd('10.00') });
    expect(await captures(oldCp)).toEqual(['10.00', '10.00']);
    expect(await captures(newCp)).toEqual([]);
  });

  it('a re-checkout the buyer abandons changes nothing: a later cycle still bills the old permission at the old amount', async () => {
    const { subscription, chargePermissionId: oldCp } = await subscribe(stack, { unit: 'Month', amount: '10.00' });
    const start = await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    const { created } = await offerRecheckout(subscription.workflowId, '20.00');
    await stack.admin.signIn(created.checkoutSessionId);
    const checkout = stack.temporal.workflow.getHandle<typeof checkoutWorkflow>(
      checkoutWorkflowId(created.checkoutSessionId),
    );
    // The buyer never pays: Amazon's 24 hours pass, and the checkout ends without a permission.
    await stack.elapse(25 * HOUR);
    const ended = await stack.resultOf<CheckoutStatus>(checkout);
    expect(ended.status).toBe('Expired');
    expect(ended.chargePermissionId).toBeNull();

    const after = await statusOfSubscription(subscription);
    expect(after).toMatchObject({
      chargePermissionId: oldCp,
      plan: start.plan,
      nextBillingAt: start.nextBillingAt,
      previousChargePermissionIds: [],
    });
    expect(await stateAtAmazon(oldCp)).toBe('Chargeable');
    await billNext(subscription, oldCp);
    expect(await captures(oldCp)).toEqual(['10.00', '10.00']);
    expect(eventsOf(subscription.workflowId).some((e) => e.type === 'subscription.charge_permission_replaced')).toBe(
      false,
    );
    await recordHistory(checkout, 'recheckout-abandoned');
  });

  it('refuses what a plan change refuses, and a subscription that ended before the re-checkout completed: the new permission is closed', async () => {
    const { subscription } = await subscribe(stack, { unit: 'Month', amount: '10.00' });
    await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    const path = `/v1/subscriptions/${subscription.workflowId}/recheckout`;
    const url = { checkoutReviewReturnUrl: 'https://shop.example/review' };
    const same = await api('POST', path, { amount: usd('10.00'), ...url }, crypto.randomUUID());
    expect([same.status, same.body.error?.code]).toEqual([422, 'PlanUnchanged']);
    const euro = await api('POST', path, { amount: { amount: '10.00', currencyCode: 'EUR' }, ...url }, 'k-euro');
    expect([euro.status, euro.body.error?.code]).toEqual([422, 'CurrencyMismatch']);
    const noKey = await api('POST', path, { amount: usd('12.00'), ...url });
    expect([noKey.status, noKey.body.error?.code]).toEqual([400, 'idempotency_key_required']);
    const noPlan = await api('POST', path, url, crypto.randomUUID());
    expect(noPlan.status).toBe(400);

    const key = crypto.randomUUID();
    const created = await api<Recheckout>('POST', path, { amount: usd('12.00'), ...url }, key);
    expect(created.status).toBe(201);
    const reused = await api('POST', path, { amount: usd('13.00'), ...url }, key);
    expect([reused.status, reused.body.error?.code]).toEqual([422, 'idempotency_key_reused']);
    const sid = created.body.checkoutSessionId;
    await stack.admin.signIn(sid);
    const checkout = stack.temporal.workflow.getHandle<typeof checkoutWorkflow>(checkoutWorkflowId(sid));
    await checkout.executeUpdate(reviewUpdate);
    const amount = await api<{ amazonPayRedirectUrl: string }>(
      'POST',
      `/v1/checkouts/${sid}/amount`,
      finalAmount('12.00', 'Confirm'),
    );
    await stack.admin.pay(amount.body.amazonPayRedirectUrl, 'happy');
    // The merchant cancels meanwhile.
    const canceled = await api<SubscriptionStatus>(
      'POST',
      `/v1/subscriptions/${subscription.workflowId}/cancel`,
      { atPeriodEnd: false },
      crypto.randomUUID(),
    );
    expect(canceled.status).toBe(200);
    await until(
      async () => (await statusOfSubscription(subscription)).status === 'canceled',
      'the subscription canceled',
    );
    const completed = await api<CompletionOutcome>('POST', `/v1/checkouts/${sid}/complete`);
    expect(completed.body).toMatchObject({ completed: false, status: 'Canceled', reasonCode: 'SubscriptionEnded' });
    const ended = await stack.resultOf<CheckoutStatus>(checkout);
    expect(ended.chargePermissionId).toBeTruthy();
    expect(await stateAtAmazon(ended.chargePermissionId!)).toBe('Closed');
    expect(await captures(ended.chargePermissionId!)).toEqual([]);
    await recordHistory(checkout, 'recheckout-subscription-ended');
  });
});
