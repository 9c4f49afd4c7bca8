// Subscriptions at their real durations (months, days) on the time-skipping test server, against the
// simulator with its clock moved in step: Amazon does no billing, the workflow charges each cycle.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTimeSkippingStack, type TimeSkippingStack } from '../support/time-skipping';
import {
  cancelSubscriptionUpdate,
  pauseSubscriptionUpdate,
  resumeSubscriptionUpdate,
} from '../../workflows/subscription-messages';
import { eventsQuery } from '../../workflows/events/messages';
import { notificationInboxQuery, notificationInboxWorkflowId } from '../../workflows/notifications';
import { startReceiver, type Receiver } from '../events/receiver';
import { statusOfSubscription, subscribe, until } from './helpers';
import { recordHistory } from '../checkout/record';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

let stack: TimeSkippingStack;
let receiver: Receiver;

// A stack (time-skipping server) per test: under load the Java test server can keep its clock
// locked after an activity timed out in one test (seen in CI), which must not stall the others.
beforeAll(async () => {
  receiver = await startReceiver();
});
beforeEach(async () => {
  stack = await startTimeSkippingStack({
    webhooks: {
      endpoints: [{ id: 'orders', url: receiver.url, secrets: [receiver.secret] }],
      retryScheduleMs: [1000, 5000],
      timeoutMs: 5_000,
    },
  });
});
afterEach(async () => {
  try {
    const drift = (await stack.env.currentTimeMs()) - (await stack.admin.now()).getTime();
    expect(Math.abs(drift)).toBeLessThan(MINUTE);
  } finally {
    await stack?.[Symbol.asyncDispose]();
  }
});
afterAll(async () => {
  await receiver?.[Symbol.asyncDispose]();
});

const charges = async (chargePermissionId: string) =>
  (await stack.admin.moneyMovements({ chargePermissionId })).movements.filter((m) => m.kind === 'capture');
const eventsOf = (subscriptionId: string) =>
  receiver
    .delivered()
    .filter((e) => e.data.subscriptionId === subscriptionId)
    .map((e) => e.type);

/** Moves both clocks to the next `utc` instant (e.g. '2027-01-31T12:00:00Z'), at least by a minute. */
async function moveTo(utc: string): Promise<void> {
  const now = await stack.env.currentTimeMs();
  const target = Date.parse(utc);
  if (target > now) await stack.elapse(target - now);
}

describe('subscriptions (time-skipping, real durations)', () => {
  it('monthly from 31 January: 13 cycles on Feb 28, Mar 31, Apr 30 …, one charge each, every event delivered', async () => {
    await moveTo('2027-01-31T15:00:00Z');
    const { subscription, chargePermissionId } = await subscribe(stack, { amount: '9.99' });
    const first = await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    expect(first).toMatchObject({ status: 'active', chargePermissionId, plan: { unit: 'Month', value: 1 } });
    // Cycle n is the anchor's local time n months on, clamped to the month's end.
    const timeOfDay = first.anchor.slice(10);
    expect(first.anchor.slice(0, 10)).toBe('2027-01-31');
    expect(first.nextBillingAt).toBe(`2027-02-28${timeOfDay}`);
    for (let i = 0; i < 13; i++) {
      const before = (await statusOfSubscription(subscription)).nextBillingAt!;
      await moveTo(new Date(Date.parse(before) + HOUR).toISOString());
      await until(async () => (await statusOfSubscription(subscription)).nextBillingAt !== before, `cycle ${i + 1}`);
    }
    const status = await statusOfSubscription(subscription);
    const paid = status.cycles.filter((c) => c.state === 'Paid').map((c) => c.dueAt.slice(0, 10));
    expect(paid.slice(-12)).toEqual([
      '2027-03-31',
      '2027-04-30',
      '2027-05-31',
      '2027-06-30',
      '2027-07-31',
      '2027-08-31',
      '2027-09-30',
      '2027-10-31',
      '2027-11-30',
      '2027-12-31',
      '2028-01-31',
      '2028-02-29',
    ]);
    expect(status.nextBillingAt).toBe(`2028-03-31${timeOfDay}`);
    // The checkout's charge and 13 cycles: 14 captures of 9.99, never a second one for a cycle.
    const captured = await charges(chargePermissionId);
    expect(captured).toHaveLength(14);
    expect(captured.every((m) => m.amount === '9.99')).toBe(true);
    const types = await until(
      () =>
        eventsOf(subscription.workflowId).filter((t) => t === 'subscription.charged').length >= 13 &&
        eventsOf(subscription.workflowId),
      'events',
    );
    expect(types[0]).toBe('subscription.created');
    expect(types.filter((t) => t === 'subscription.renewal_upcoming').length).toBeGreaterThanOrEqual(13);
    // Continue-as-new after each billed cycle keeps every run small.
    const { historyLength } = await subscription.describe();
    expect(historyLength).toBeLessThan(200);
    await subscription.executeUpdate(cancelSubscriptionUpdate, { args: [{ atPeriodEnd: false }] });
    expect(await stack.resultOf(subscription)).toMatchObject({ status: 'canceled' });
    await recordHistory(subscription, 'subscription-cancel-now-releases-inbox');
    // The charge permission's inbox over those 13 months: no owner polling (before: a timer and an
    // activity every day, about 60 actions a cycle), and told by the subscription that it ended.
    const inbox = stack.temporal.workflow.getHandle(notificationInboxWorkflowId(chargePermissionId));
    const view = await until(async () => {
      const v = await inbox.query(notificationInboxQuery);
      return v.ownerClosed && v;
    }, 'the inbox released');
    expect(view).toMatchObject({ ownerWorkflowId: subscription.workflowId, status: 'OwnerClosed' });
    // A cycle's CHARGE IPNs are not forwarded: the subscription registered for its permission's only.
    expect(view.counts.skipped).toBeGreaterThanOrEqual(13);
    const inboxEvents = (await inbox.fetchHistory()).events ?? [];
    expect(inboxEvents.filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(0);
    // At most the wait for an owner at sign-up and the linger after the end.
    expect(inboxEvents.filter((e) => e.timerStartedEventAttributes).length).toBeLessThanOrEqual(2);
  });

  it('a free trial (Confirm): trialing, nothing charged, then the first charge one period later', async () => {
    const { subscription, chargePermissionId } = await subscribe(stack, {
      intent: 'Confirm',
      unit: 'Week',
      value: 2,
      amount: '5.00',
    });
    const trial = await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    expect(trial.status).toBe('trialing');
    expect(await charges(chargePermissionId)).toHaveLength(0);
    await stack.elapse(14 * DAY + HOUR);
    await until(async () => (await statusOfSubscription(subscription)).status === 'active', 'the first charge');
    expect(await charges(chargePermissionId)).toHaveLength(1);
    await subscription.executeUpdate(cancelSubscriptionUpdate, { args: [{ atPeriodEnd: false }] });
  });

  it('a soft decline is retried by dunning after a day and recovers; a hard decline waits for the buyer, who fixes it at Amazon (IPN)', async () => {
    const { subscription, chargePermissionId } = await subscribe(stack, { unit: 'Day', value: 7, amount: '3.00' });
    await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    await stack.admin.fixPaymentMethod(chargePermissionId, 'softDecline');
    await stack.elapse(7 * DAY + HOUR);
    const soft = await until(async () => {
      const s = await statusOfSubscription(subscription);
      return s.status === 'past_due' && s;
    }, 'past due');
    expect(soft.lastReasonCode).toBe('SoftDeclined');
    expect(Date.parse(soft.nextBillingAt!) - Date.parse(soft.cycles.at(-1)!.dueAt)).toBeGreaterThanOrEqual(DAY);
    await stack.admin.fixPaymentMethod(chargePermissionId, 'happy');
    await stack.elapse(DAY + HOUR);
    await until(async () => (await statusOfSubscription(subscription)).status === 'active', 'recovered');
    expect(await charges(chargePermissionId)).toHaveLength(2);

    await stack.admin.fixPaymentMethod(chargePermissionId, 'hardDecline');
    await stack.elapse(7 * DAY);
    const hard = await until(async () => {
      const s = await statusOfSubscription(subscription);
      return s.status === 'past_due' && s.updatePaymentMethodUrl !== null ? s : undefined;
    }, 'past due, waiting for the buyer');
    expect(hard.updatePaymentMethodUrl).toBe(`https://payments.amazon.com/jr/your-account/ba/${chargePermissionId}`);
    expect(hard.nextBillingAt).toBeNull();
    // The buyer fixes the payment method on Amazon's page: the CHARGE_PERMISSION IPN resumes billing at once.
    await stack.admin.fixPaymentMethod(chargePermissionId, 'happy');
    await until(async () => (await statusOfSubscription(subscription)).status === 'active', 'resumed by the IPN');
    expect(await charges(chargePermissionId)).toHaveLength(3);
    const types = await until(
      () => eventsOf(subscription.workflowId).includes('subscription.recovered') && eventsOf(subscription.workflowId),
      'events',
    );
    expect(types).toEqual(
      expect.arrayContaining(['subscription.charge_failed', 'subscription.past_due', 'subscription.recovered']),
    );
    await subscription.executeUpdate(cancelSubscriptionUpdate, { args: [{ atPeriodEnd: false }] });
  });

  it('the grace period runs out while the buyer does nothing: canceled, the permission closed, nothing more charged', async () => {
    const { subscription, chargePermissionId } = await subscribe(stack, {
      unit: 'Week',
      value: 1,
      amount: '4.00',
      subscription: { dunning: { graceDays: 5 } },
    });
    await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    await stack.admin.fixPaymentMethod(chargePermissionId, 'hardDecline');
    await stack.elapse(7 * DAY + HOUR);
    await until(async () => (await statusOfSubscription(subscription)).status === 'past_due', 'past due');
    await stack.elapse(5 * DAY + HOUR);
    const ended = await stack.resultOf<Awaited<ReturnType<typeof statusOfSubscription>>>(subscription);
    expect(ended).toMatchObject({ status: 'canceled', lastReasonCode: 'GracePeriodOver', nextBillingAt: null });
    expect((await stack.amazonPay.getChargePermission(chargePermissionId)).statusDetails.state).toBe('Closed');
    expect(await charges(chargePermissionId)).toHaveLength(1);
    await recordHistory(subscription, 'subscription-grace-canceled');
  });

  it('the grace policy can pause instead: paused, nothing charged, the permission open; resume charges again', async () => {
    const { subscription, chargePermissionId } = await subscribe(stack, {
      unit: 'Week',
      value: 1,
      amount: '4.50',
      subscription: { dunning: { graceDays: 3, afterGrace: 'pause' } },
    });
    await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    await stack.admin.fixPaymentMethod(chargePermissionId, 'hardDecline');
    await stack.elapse(7 * DAY + HOUR);
    await until(async () => (await statusOfSubscription(subscription)).status === 'past_due', 'past due');
    await stack.elapse(3 * DAY + HOUR);
    const paused = await until(async () => {
      const s = await statusOfSubscription(subscription);
      return s.status === 'paused' && s;
    }, 'paused by the grace policy');
    expect(paused).toMatchObject({ lastReasonCode: 'GracePeriodOver', nextBillingAt: null });
    expect((await stack.amazonPay.getChargePermission(chargePermissionId)).statusDetails.state).not.toBe('Closed');
    await stack.elapse(14 * DAY);
    expect(await charges(chargePermissionId)).toHaveLength(1);
    // The buyer fixed the card; the merchant resumes: the next cycle from the anchor is charged.
    await stack.admin.fixPaymentMethod(chargePermissionId, 'happy');
    const resumed = await subscription.executeUpdate(resumeSubscriptionUpdate);
    await stack.elapse(Date.parse(resumed.nextBillingAt!) - (await stack.env.currentTimeMs()) + HOUR);
    await until(async () => (await charges(chargePermissionId)).length === 2, 'the cycle after resume');
    expect(eventsOf(subscription.workflowId)).toEqual(
      expect.arrayContaining([
        'subscription.past_due',
        'subscription.paused',
        'subscription.resumed',
        'subscription.charged',
      ]),
    );
    await subscription.executeUpdate(cancelSubscriptionUpdate, { args: [{ atPeriodEnd: false }] });
  });

  it('the buyer closes the permission at Amazon: the IPN ends the subscription, nothing more is charged', async () => {
    const { subscription, chargePermissionId } = await subscribe(stack, { unit: 'Month', value: 1 });
    await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    await stack.admin.closeChargePermissionAsBuyer(chargePermissionId);
    const ended = await until(async () => {
      const s = await statusOfSubscription(subscription);
      return s.status === 'ended' && s;
    }, 'ended');
    expect(ended).toMatchObject({ endedReason: 'BuyerClosed', nextBillingAt: null });
    await stack.elapse(40 * DAY);
    expect(await charges(chargePermissionId)).toHaveLength(1);
    expect((await subscription.query(eventsQuery)).map((e) => e.type)).toEqual([
      'subscription.created',
      'subscription.ended',
    ]);
    // Started with its status and next billing time, it upserted only the end (before: the start's values again too).
    const upserted = ((await subscription.fetchHistory()).events ?? []).flatMap((e) => {
      const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {};
      return fields.SubscriptionStatus ? [JSON.parse(Buffer.from(fields.SubscriptionStatus.data!).toString())] : [];
    });
    expect(upserted).toEqual(['ended']);
    await stack.resultOf(subscription);
    await recordHistory(subscription, 'subscription-buyer-closed');
  });

  it('pause skips the cycles in between (not charged later); cancel at period end charges nothing more and closes at the end', async () => {
    const { subscription, chargePermissionId } = await subscribe(stack, { unit: 'Week', value: 1, amount: '2.00' });
    await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    await subscription.executeUpdate(pauseSubscriptionUpdate);
    await expect(subscription.executeUpdate(pauseSubscriptionUpdate)).rejects.toThrow();
    await stack.elapse(22 * DAY);
    expect(await charges(chargePermissionId)).toHaveLength(1);
    const resumed = await subscription.executeUpdate(resumeSubscriptionUpdate);
    expect(resumed.status).toBe('active');
    // The next cycle after resume comes from the anchor: day 28, not today.
    expect(Date.parse(resumed.nextBillingAt!) - Date.parse(resumed.anchor)).toBe(28 * DAY);
    await stack.elapse(6 * DAY + HOUR);
    await until(async () => (await charges(chargePermissionId)).length === 2, 'the cycle after resume');

    const scheduled = await subscription.executeUpdate(cancelSubscriptionUpdate, {
      args: [{ atPeriodEnd: true, reason: 'buyer asked' }],
    });
    expect(scheduled).toMatchObject({ cancelAtPeriodEnd: true, nextBillingAt: null, status: 'active' });
    await stack.elapse(7 * DAY + HOUR);
    const ended = await stack.resultOf<Awaited<ReturnType<typeof statusOfSubscription>>>(subscription);
    expect(ended.status).toBe('canceled');
    expect(await charges(chargePermissionId)).toHaveLength(2);
    expect((await stack.amazonPay.getChargePermission(chargePermissionId)).statusDetails.state).toBe('Closed');
    await expect(
      subscription.executeUpdate(cancelSubscriptionUpdate, { args: [{ atPeriodEnd: false }] }),
    ).rejects.toThrow();
    await recordHistory(subscription, 'subscription-cancel-at-period-end');
  });

  it("Amazon's monthly recurring cap: the cycle over it is deferred to the next calendar month, then charged", async () => {
    // The simulator's cap is USD 1,000 a month: 400 on the 1st, the 15th and the 29th is 1,200.
    const now = new Date(await stack.env.currentTimeMs());
    let month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1, 10));
    while (new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + 1, 0)).getUTCDate() !== 31)
      month = new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + 1, 1, 10));
    await moveTo(month.toISOString());
    const { subscription, chargePermissionId } = await subscribe(stack, { unit: 'Week', value: 2, amount: '400.00' });
    await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    await stack.elapse(14 * DAY + HOUR);
    await until(async () => (await charges(chargePermissionId)).length === 2, 'the second cycle');
    await stack.elapse(14 * DAY);
    const deferred = await until(async () => {
      const s = await statusOfSubscription(subscription);
      return s.cycles.some((c) => c.state === 'Deferred') && s;
    }, 'the deferral');
    expect(deferred).toMatchObject({ status: 'active', lastReasonCode: null });
    expect(deferred.cycles.find((c) => c.state === 'Deferred')).toMatchObject({
      n: 2,
      reasonCode: 'PeriodicAmountExceeded',
    });
    const nextMonth = new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + 1, 1)).toISOString();
    expect(deferred.nextBillingAt).toBe(nextMonth);
    expect(await charges(chargePermissionId)).toHaveLength(2);
    await moveTo(new Date(Date.parse(nextMonth) + HOUR).toISOString());
    await until(async () => (await charges(chargePermissionId)).length === 3, 'charged in the next month');
    expect(eventsOf(subscription.workflowId)).toContain('subscription.charge_deferred');
    await subscription.executeUpdate(cancelSubscriptionUpdate, { args: [{ atPeriodEnd: false }] });
  });
});
