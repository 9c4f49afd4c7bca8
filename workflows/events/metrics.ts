import { log, metricMeter } from '@temporalio/workflow';
import { toMinor } from '../payments/money';
import type { MerchantEvent } from './messages';
import type { StoredEvent } from './outbox';

/**
 * Business counters of the payment owners (checkout, subscription), counted from the merchant
 * events their outbox records (outbox.ts emit). Why there: every transition a merchant hears of is
 * recorded there, once, by both owners alike (checkout/events.ts derives a checkout's events from
 * its state, the subscription names its own), and the event's id is fixed by the history, so the
 * counters say exactly what the merchant's webhooks say. Counting at each owner's setStatus or
 * applyCharge would be the same logic twice, and would see statuses the merchant is never told of.
 *
 * Workflow-side metrics go through the SDK's metric sink (`__temporal_metrics`, callDuringReplay
 * false, and @temporalio/workflow skips the sink call while isReplaying), so a replayed history
 * (cache eviction, another worker, runReplayHistories) counts nothing again. They are not commands:
 * histories are unchanged. A workflow task that fails after counting and is retried (the worker
 * dies before completing it) counts its transitions twice: rare, and a counter may overcount.
 *
 * The worker's exporter serves them with the SDK's tags (namespace, task_queue, workflow_type).
 */

export const CHECKOUT_TRANSITIONS = 'amazon_pay_checkout_transitions_total';
export const SUBSCRIPTION_TRANSITIONS = 'amazon_pay_subscription_transitions_total';
export const MONEY_AUTHORIZED = 'amazon_pay_money_authorized_minor_total';
export const MONEY_CAPTURED = 'amazon_pay_money_captured_minor_total';
export const MONEY_REFUNDED = 'amazon_pay_money_refunded_minor_total';

const HELP: Record<string, string> = {
  [CHECKOUT_TRANSITIONS]:
    'Checkouts that entered each status (transitions, counted when a merchant event carries a new status; statuses reached without an event of their own, such as AwaitingBuyer or Completing, are not counted)',
  [SUBSCRIPTION_TRANSITIONS]: 'Subscriptions that entered each status (transitions, from their merchant events)',
  [MONEY_AUTHORIZED]:
    'Money Amazon authorized, in minor units (cents) by currency: each charge once, whether held for a later capture or captured at once',
  [MONEY_CAPTURED]: 'Money Amazon captured, in minor units (cents) by currency',
  [MONEY_REFUNDED]: 'Money Amazon refunded (refunds that succeeded), in minor units (cents) by currency',
};

export interface CounterAdd {
  name: string;
  value: number;
  tags: Record<string, string>;
}

/** A charge Amazon authorized (held, capture pending or captured). */
const AUTHORIZED_STATES = new Set(['Authorized', 'CaptureInitiated', 'Captured']);
const CHARGE_EVENTS = new Set([
  'payment.authorized',
  'payment.capture_pending',
  'payment.captured',
  'subscription.charged',
]);
const authorizesCharge = (e: MerchantEvent): boolean =>
  CHARGE_EVENTS.has(e.type) && !!e.data.chargeId && AUTHORIZED_STATES.has(e.data.state ?? '');

/**
 * What `event` adds to the counters, given the events its owner recorded before it (the outbox's
 * state, carried by continue-as-new; at most the last 100 delivered, far more than one checkout
 * or one charge produces). Pure, so that it is tested without a worker.
 */
export function eventCounts(event: MerchantEvent, earlier: readonly StoredEvent[]): CounterAdd[] {
  const out: CounterAdd[] = [];
  const { data } = event;
  const previous = earlier.at(-1)?.event.data.status;
  if (data.status && data.status !== previous)
    out.push({
      name: data.object === 'subscription' ? SUBSCRIPTION_TRANSITIONS : CHECKOUT_TRANSITIONS,
      value: 1,
      tags: { status: data.status },
    });
  const amount = data.amount;
  if (!amount) return out;
  const money = (name: string) => {
    const value = toMinor(amount);
    if (value > 0) out.push({ name, value, tags: { currency: amount.currencyCode, object: data.object } });
  };
  if (
    authorizesCharge(event) &&
    !earlier.some((e) => authorizesCharge(e.event) && e.event.data.chargeId === data.chargeId)
  )
    money(MONEY_AUTHORIZED);
  if ((event.type === 'payment.captured' || event.type === 'subscription.charged') && data.state === 'Captured')
    money(MONEY_CAPTURED);
  if (event.type === 'refund.succeeded') money(MONEY_REFUNDED);
  return out;
}

/** Counts `event` on the worker's metric meter; never fails the workflow task (metrics are not worth one). */
export function countEvent(event: MerchantEvent, earlier: readonly StoredEvent[]): void {
  try {
    for (const { name, value, tags } of eventCounts(event, earlier))
      metricMeter.createCounter(name, undefined, HELP[name]).add(value, tags);
  } catch (err) {
    log.warn('merchant event not counted', { eventId: event.id, error: (err as Error).message });
  }
}
