// Plan changes through the API, at real durations on the time-skipping server: in NA Amazon gets
// the new terms (Update Charge Permission) and the next cycles follow them; where PSD2 applies (EU)
// the API answers 409 recheckout_required and nothing changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTimeSkippingStack, type TimeSkippingStack } from '../support/time-skipping';
import { startReceiver, type Receiver } from '../events/receiver';
import { localDateOf } from '../../workflows/subscription/calendar';
import type { SubscriptionStatus } from '../../workflows/subscription-messages';
import { statusOfSubscription, subscribe, until, type SubscriptionHandle } from './helpers';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let na: TimeSkippingStack;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  na = await startTimeSkippingStack({
    webhooks: {
      endpoints: [{ id: 'orders', url: receiver.url, secrets: [receiver.secret] }],
      retryScheduleMs: [1000],
      timeoutMs: 5_000,
    },
  });
});
afterAll(async () => {
  await na?.[Symbol.asyncDispose]();
  await receiver?.[Symbol.asyncDispose]();
});

async function changePlan(stack: TimeSkippingStack, subscriptionId: string, body: unknown, key = crypto.randomUUID()) {
  const res = await stack.app.request(`/v1/subscriptions/${subscriptionId}/plan`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as SubscriptionStatus & { error?: { code: string; message: string } },
  };
}

const captures = async (stack: TimeSkippingStack, chargePermissionId: string) =>
  (await stack.admin.moneyMovements({ chargePermissionId })).movements
    .filter((m) => m.kind === 'capture')
    .map((m) => m.amount);

/** Moves both clocks past the next charge and waits until it is billed. */
async function billNext(stack: TimeSkippingStack, subscription: SubscriptionHandle, chargePermissionId: string) {
  const before = await statusOfSubscription(subscription);
  const count = (await captures(stack, chargePermissionId)).length;
  const now = await stack.env.currentTimeMs();
  await stack.elapse(Math.max(0, Date.parse(before.nextBillingAt!) - now) + HOUR);
  await until(async () => (await captures(stack, chargePermissionId)).length === count + 1, 'the next charge');
  return until(async () => {
    const s = await statusOfSubscription(subscription);
    return s.nextBillingAt !== before.nextBillingAt && s;
  }, 'the next billing date');
}

describe('changing a plan in NA (Update Charge Permission)', () => {
  it('a new amount reaches Amazon and is charged from the next cycle, announced 10 days ahead', async () => {
    const { subscription, chargePermissionId } = await subscribe(na, { unit: 'Month', value: 1, amount: '10.00' });
    const start = await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    const changed = await changePlan(na, subscription.workflowId, { amount: { amount: '12.50', currencyCode: 'USD' } });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({
      plan: { unit: 'Month', value: 1, amount: { amount: '12.50' } },
      nextBillingAt: start.nextBillingAt,
    });
    // Amazon knows the new terms.
    const permission = await na.amazonPay.getChargePermission(chargePermissionId);
    expect(permission.recurringMetadata).toMatchObject({
      frequency: { unit: 'Month', value: '1' },
      amount: { amount: '12.50', currencyCode: 'USD' },
    });

    await billNext(na, subscription, chargePermissionId);
    expect(await captures(na, chargePermissionId)).toEqual(['10.00', '12.50']);
    const notice = await until(
      () =>
        receiver
          .delivered()
          .find(
            (e) =>
              e.data.subscriptionId === subscription.workflowId &&
              e.type === 'subscription.renewal_upcoming' &&
              e.data.cycle === 1,
          ),
      'the renewal notice',
    );
    expect(notice.data.amount).toEqual({ amount: '12.50', currencyCode: 'USD' });
    expect(Date.parse(start.nextBillingAt!) - Date.parse(notice.timestamp)).toBeGreaterThanOrEqual(10 * DAY - HOUR);
    expect(
      receiver
        .delivered()
        .some((e) => e.data.subscriptionId === subscription.workflowId && e.type === 'subscription.plan_changed'),
    ).toBe(true);
  });

  it('an amount changed less than 10 days before a cycle applies from the one after; a new frequency counts from the next billing date', async () => {
    const { subscription, chargePermissionId } = await subscribe(na, { unit: 'Week', value: 1, amount: '5.00' });
    const start = await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    // A week: the next cycle is 7 days away, inside Amazon's 10-day notice: it keeps 5.00.
    const changed = await changePlan(na, subscription.workflowId, {
      amount: { amount: '6.00', currencyCode: 'USD' },
      frequency: { unit: 'Week', value: 2 },
    });
    expect(changed.status).toBe(200);
    expect(changed.body.nextBillingAt).toBe(start.nextBillingAt);
    expect(changed.body.anchor).toBe(start.nextBillingAt);
    const first = await billNext(na, subscription, chargePermissionId);
    expect(Date.parse(first.nextBillingAt!) - Date.parse(start.nextBillingAt!)).toBe(14 * DAY);
    await billNext(na, subscription, chargePermissionId);
    expect(await captures(na, chargePermissionId)).toEqual(['5.00', '5.00', '6.00']);
  });

  it('moves the billing date; refuses a change that changes nothing, another currency or a past date, and changes nothing then', async () => {
    const { subscription } = await subscribe(na, { unit: 'Month', value: 1, amount: '8.00' });
    const start = await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    const target = localDateOf(new Date(Date.parse(start.nextBillingAt!) + 5 * DAY).toISOString(), 'UTC');
    const moved = await changePlan(na, subscription.workflowId, { billingDate: target });
    expect(moved.status).toBe(200);
    expect(moved.body.nextBillingAt).toBe(`${target}${start.anchor.slice(10)}`);

    const same = await changePlan(na, subscription.workflowId, { amount: { amount: '8.00', currencyCode: 'USD' } });
    expect([same.status, same.body.error?.code]).toEqual([422, 'PlanUnchanged']);
    // The same amount written otherwise (before: a change, an Update Charge Permission and a notice).
    const sameOtherwise = await changePlan(na, subscription.workflowId, {
      amount: { amount: '8.0', currencyCode: 'USD' },
    });
    expect([sameOtherwise.status, sameOtherwise.body.error?.code]).toEqual([422, 'PlanUnchanged']);
    const euro = await changePlan(na, subscription.workflowId, { amount: { amount: '8.00', currencyCode: 'EUR' } });
    expect([euro.status, euro.body.error?.code]).toEqual([422, 'CurrencyMismatch']);
    const past = await changePlan(na, subscription.workflowId, { billingDate: '2020-01-01' });
    expect([past.status, past.body.error?.code]).toEqual([422, 'InvalidBillingDate']);
    const empty = await changePlan(na, subscription.workflowId, {});
    expect(empty.status).toBe(400);
    expect(await statusOfSubscription(subscription)).toMatchObject({
      plan: start.plan,
      nextBillingAt: moved.body.nextBillingAt,
    });
  });

  it('a change retried with its Idempotency-Key after the subscription continued as new answers 200 and changes nothing again', async () => {
    const { subscription, chargePermissionId } = await subscribe(na, { unit: 'Month', value: 1, amount: '7.00' });
    await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    const key = crypto.randomUUID();
    const body = { amount: { amount: '7.50', currencyCode: 'USD' } };
    const first = await changePlan(na, subscription.workflowId, body, key);
    expect(first.status).toBe(200);
    const runOfChange = (await subscription.describe()).runId;
    await billNext(na, subscription, chargePermissionId);
    await until(async () => (await subscription.describe()).runId !== runOfChange, 'continued as new');
    const updatesBefore = (await na.admin.requestCounts()).byOperation.updateChargePermission ?? 0;
    // Temporal dedupes an update id within a run only: the new run must know it applied this one.
    const retried = await changePlan(na, subscription.workflowId, body, key);
    expect([retried.status, retried.body.error?.code]).toEqual([200, undefined]);
    expect(retried.body.plan.amount).toEqual(body.amount);
    expect((await na.admin.requestCounts()).byOperation.updateChargePermission ?? 0).toBe(updatesBefore);
    const changes = receiver
      .delivered()
      .filter((e) => e.data.subscriptionId === subscription.workflowId && e.type === 'subscription.plan_changed');
    expect(changes).toHaveLength(1);
  });
});

describe('the re-checkout outside PSD2 (NA)', () => {
  it('is refused: 422 RecheckoutNotRequired, the plan route changes the plan', async () => {
    const { subscription } = await subscribe(na, { unit: 'Month', value: 1, amount: '9.00' });
    const start = await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    const res = await na.app.request(`/v1/subscriptions/${subscription.workflowId}/recheckout`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${na.apiKey}`,
        'content-type': 'application/json',
        'idempotency-key': crypto.randomUUID(),
      },
      body: JSON.stringify({
        amount: { amount: '11.00', currencyCode: 'USD' },
        checkoutReviewReturnUrl: 'https://shop.example/review',
      }),
    });
    const body = (await res.json()) as { error?: { code: string } };
    expect([res.status, body.error?.code]).toEqual([422, 'RecheckoutNotRequired']);
    expect(await statusOfSubscription(subscription)).toMatchObject({
      plan: start.plan,
      previousChargePermissionIds: [],
    });
  });
});

describe('changing a plan where PSD2 applies (EU)', () => {
  it('answers 409 recheckout_required; Amazon and the subscription keep the old terms', async () => {
    await using eu = await startTimeSkippingStack({ region: 'eu' });
    const { subscription, chargePermissionId } = await subscribe(eu, { unit: 'Month', value: 1, amount: '10.00' });
    const start = await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    const refused = await changePlan(eu, subscription.workflowId, { amount: { amount: '15.00', currencyCode: 'USD' } });
    expect([refused.status, refused.body.error?.code]).toEqual([409, 'recheckout_required']);
    expect((await eu.amazonPay.getChargePermission(chargePermissionId)).recurringMetadata?.amount).toEqual({
      amount: '10.00',
      currencyCode: 'USD',
    });
    expect((await statusOfSubscription(subscription)).plan).toEqual(start.plan);
    // A moved billing date is no new term: allowed there too.
    const target = localDateOf(new Date(Date.parse(start.nextBillingAt!) + 2 * DAY).toISOString(), 'UTC');
    expect((await changePlan(eu, subscription.workflowId, { billingDate: target })).status).toBe(200);
  });
});
