// A subscription continues as new after each billed cycle; its merchant events must not notice.
// On the time-skipping server at real durations, with verifying receivers: a delivery waiting for
// its retry is sent at its time by the next run (not weeks later with the next event), and the
// webhook configuration is carried over (no activity a run to ask for it) yet an endpoint added
// while the subscription sleeps still gets the events of the next cycle.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cancelSubscriptionUpdate } from '../../workflows/subscription-messages';
import { startTimeSkippingStack, type TimeSkippingStack } from '../support/time-skipping';
import { startReceiver, type Receiver } from '../events/receiver';
import { statusOfSubscription, subscribe, until, type SubscriptionHandle } from './helpers';
import type { TestStackOptions } from '../support/stack';
import { recordHistory } from '../checkout/record';

const HOUR = 3_600_000;

let orders: Receiver;
let crm: Receiver;
let stack: TimeSkippingStack;
let webhooks: NonNullable<TestStackOptions['webhooks']>;

beforeAll(async () => {
  orders = await startReceiver();
  crm = await startReceiver();
});
beforeEach(async () => {
  // Retries a minute apart: well inside the hour the tests move past each billing time.
  webhooks = {
    endpoints: [{ id: 'orders', url: orders.url, secrets: [orders.secret] }],
    retryScheduleMs: [60_000, 60_000],
    timeoutMs: 5_000,
  };
  // No sticky cache: the Java test server does not hand a stopped worker's sticky tasks to the next one.
  stack = await startTimeSkippingStack({ webhooks, workerTuning: { maxCachedWorkflows: 0 } });
});
afterEach(async () => {
  orders.answer = () => 204;
  await stack?.[Symbol.asyncDispose]();
});
afterAll(async () => {
  await orders?.[Symbol.asyncDispose]();
  await crm?.[Symbol.asyncDispose]();
});

const typesAt = (r: Receiver, subscriptionId: string) =>
  r
    .delivered()
    .filter((e) => e.data.subscriptionId === subscriptionId)
    .map((e) => `${e.type}:${e.data.cycle ?? '-'}`);

/** Moves both clocks an hour past the next billing time and waits until that cycle is billed. */
async function billNextCycle(subscription: SubscriptionHandle): Promise<void> {
  const before = (await statusOfSubscription(subscription)).nextBillingAt!;
  const now = await stack.env.currentTimeMs();
  await stack.elapse(Date.parse(before) + HOUR - now);
  await until(async () => (await statusOfSubscription(subscription)).nextBillingAt !== before, 'the cycle billed');
}

const runIdOf = async (h: SubscriptionHandle) => (await h.describe()).runId;

describe('merchant events across continue-as-new', () => {
  it('a delivery waiting for its retry when the run continues as new is sent at its time by the next run', async () => {
    const { subscription } = await subscribe(stack, { amount: '4.00' });
    await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    let refused = 0;
    orders.answer = (r) => (r.event?.type === 'subscription.charged' && refused++ === 0 ? 503 : 204);
    const firstRun = await runIdOf(subscription);
    await billNextCycle(subscription);
    await until(async () => (await runIdOf(subscription)) !== firstRun, 'continued as new');
    expect(refused).toBeGreaterThanOrEqual(1);
    // Before: the next run sent it only with its next event, the renewal notice about 27 days later.
    await until(
      () => typesAt(orders, subscription.workflowId).includes('subscription.charged:1'),
      'the retried delivery',
      20_000,
    );
    const next = await statusOfSubscription(subscription);
    expect(Date.parse(next.nextBillingAt!) - (await stack.env.currentTimeMs())).toBeGreaterThan(20 * 24 * HOUR);
    await subscription.executeUpdate(cancelSubscriptionUpdate, { args: [{ atPeriodEnd: false }] });
    await stack.resultOf(subscription);
    await recordHistory(subscription, 'subscription-delivery-resumed-after-continue-as-new');
  });

  it('carries the endpoint list over (no webhookEndpoints activity a cycle); an endpoint added meanwhile gets the next cycle', async () => {
    const { subscription } = await subscribe(stack, { amount: '6.00' });
    await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    await billNextCycle(subscription);
    await until(() => typesAt(orders, subscription.workflowId).includes('subscription.charged:1'), 'cycle 1 delivered');
    // The merchant adds an endpoint and restarts the worker while the subscription sleeps.
    await stack.worker.stop();
    webhooks.endpoints.push({ id: 'crm', url: crm.url, secrets: [crm.secret] });
    await stack.worker.start();
    const cycle2Run = await runIdOf(subscription);
    await billNextCycle(subscription);
    await until(() => typesAt(orders, subscription.workflowId).includes('subscription.charged:2'), 'cycle 2 to orders');
    // The renewal notice's delivery to orders answered with the new list: crm gets this run's events.
    const toCrm = await until(() => {
      const t = typesAt(crm, subscription.workflowId);
      return t.includes('subscription.charged:2') && t;
    }, 'cycle 2 to crm');
    expect(toCrm).toEqual(['subscription.renewal_upcoming:2', 'subscription.charged:2']);
    // The run that billed cycle 2 took the list from the run before: it never asked for it (before: once a run).
    const events =
      (await stack.temporal.workflow.getHandle(subscription.workflowId, cycle2Run).fetchHistory()).events ?? [];
    expect(events.some((e) => e.workflowExecutionContinuedAsNewEventAttributes)).toBe(true);
    expect(
      events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'deliverMerchantEvents')
        .length,
    ).toBeGreaterThanOrEqual(2);
    expect(
      events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'webhookEndpoints'),
    ).toHaveLength(0);
    await subscription.executeUpdate(cancelSubscriptionUpdate, { args: [{ atPeriodEnd: false }] });
  });
});
