// The verdict on each subscription, per cycle, as a pure function of what was collected: what the
// storefront did (chaos/subscriptions.ts), what `GET /v1/subscriptions/{id}` and its events say,
// and the simulator's money movements on the subscription's charge permission.
//
// A charge is Amazon's (a chargeId among the movements); a cycle is the subscription's (its
// cycles[] name the charge that paid each). Promises checked:
// - at most one charge per (subscription, cycle): every charge at Amazon is the one a cycle
//   recorded, no cycle recorded twice, each charge authorized once and captured at most once;
// - exactly the plan's amount per charged cycle (cycle 0: the checkout's amount; a free trial
//   charges nothing at sign-up), and an amount the storefront set;
// - nothing charged after a cancel (now or at period end) or the buyer's close, nor while paused;
// - the subscription in the state the storefront's last request leads to, and never past_due
//   without a reason and a way out, never active without a next billing time;
// - its events: one subscription.created, at most one subscription.charged per cycle and as many
//   as cycles charged after sign-up, the final event once, no event id twice.
import type { MoneyMovementView } from '../simulator/admin-client';
import type { CheckoutRecord } from './load';
import type { Anomaly, AnomalyKind } from './reconcile';

/** What `GET /v1/subscriptions/{id}` answered after settling (the fields judged). */
export interface ObservedSubscription {
  status: string;
  cancelAtPeriodEnd: boolean;
  nextBillingAt: string | null;
  lastReasonCode: string | null;
  updatePaymentMethodUrl: string | null;
  cycles: Array<{
    n: number;
    state: string;
    chargeId: string | null;
    amount: { amount: string; currencyCode: string };
  }>;
}

/** `GET /v1/subscriptions/{id}/events` entries (the fields judged). */
export interface ObservedEvent {
  id: string;
  type: string;
  data: { cycle?: number | null; chargeId?: string | null };
}

export interface SubscriptionInput {
  record: CheckoutRecord;
  observed: ObservedSubscription | null;
  events: ObservedEvent[] | null;
  /** Every movement on the subscription's charge permission. */
  movements: MoneyMovementView[];
  /** Why status or events could not be read. */
  error?: string;
}

export interface CycleTotals {
  subscriptions: number;
  /** Cycles paid by a charge at Amazon (cycle 0 of a sign-up charged at checkout included). */
  cyclesCharged: number;
  /** Sign-ups whose cycle 0 was a free trial. */
  trials: number;
  chargedMinor: number;
  movements: number;
}

const minor = (amount: string) => Math.round(Number(amount) * 100);
const fmt = (m: number) => (m / 100).toFixed(2);
const CYCLES_KEPT = 12;

export function reconcileSubscriptions(inputs: SubscriptionInput[]): { anomalies: Anomaly[]; totals: CycleTotals } {
  const anomalies: Anomaly[] = [];
  const totals: CycleTotals = { subscriptions: 0, cyclesCharged: 0, trials: 0, chargedMinor: 0, movements: 0 };
  for (const { record, observed, events, movements, error } of inputs) {
    const sub = record.subscription;
    if (!sub || !record.checkoutSessionId) continue;
    const csid = record.checkoutSessionId;
    const who = `#${record.n} ${record.scenario}/${sub.lifecycle} ${record.subscriptionId ?? sub.chargePermissionId ?? csid}`;
    const add = (kind: AnomalyKind, detail: string) =>
      anomalies.push({ kind, detail: `${who}: ${detail}`, checkoutSessionId: csid });

    // A sign-up declined at Amazon: no subscription, no money.
    if (sub.lifecycle === 'declined' || !record.subscriptionId) {
      if (movements.length > 0) add('foreign_money_movement', `${movements.length} movements without a subscription`);
      continue;
    }
    totals.subscriptions++;
    totals.movements += movements.length;
    if (sub.trial) totals.trials++;

    // Charges at Amazon, by chargeId.
    const charges = new Map<string, { authorized: number[]; captured: number[]; at: string }>();
    for (const m of movements) {
      if (m.kind !== 'authorization' && m.kind !== 'capture') continue;
      const c = charges.get(m.chargeId ?? '?') ?? { authorized: [], captured: [], at: m.at };
      (m.kind === 'authorization' ? c.authorized : c.captured).push(minor(m.amount));
      if (m.at < c.at) c.at = m.at;
      charges.set(m.chargeId ?? '?', c);
    }
    for (const [chargeId, c] of charges) {
      if (c.authorized.length > 1)
        add('duplicate_money_movement', `charge ${chargeId} authorized ${c.authorized.length} times`);
      if (c.captured.length > 1)
        add('duplicate_money_movement', `charge ${chargeId} captured ${c.captured.length} times`);
      totals.chargedMinor += c.captured.reduce((s, n) => s + n, 0);
    }
    for (const r of movements.filter((m) => m.kind === 'refund'))
      add('foreign_money_movement', `refund ${r.refundId} of ${r.amount}: no storefront refunded a cycle`);

    // Nothing charged after a cancel or the buyer's close, nor while paused (Amazon's own times).
    for (const [chargeId, c] of charges) {
      if (sub.noChargeAfter && c.at > sub.noChargeAfter)
        add(
          'charge_after_cancel',
          `charge ${chargeId} (${fmt(c.authorized[0] ?? c.captured[0] ?? 0)}) at ${c.at}, after the ${sub.lifecycle === 'buyerCloses' ? "buyer's close" : 'cancel'} answered at ${sub.noChargeAfter}`,
        );
      for (const w of sub.pausedWindows)
        if (c.at > w.from && (w.to === null || c.at < w.to))
          add('charge_while_paused', `charge ${chargeId} at ${c.at}, paused from ${w.from} to ${w.to ?? 'the end'}`);
    }

    if (!observed) {
      add('not_settled', `status unreadable: ${error ?? 'not read'}`);
      continue;
    }

    // Every charge is the one a cycle recorded; every recorded charge exists at Amazon.
    const cycleOf = new Map<string, (typeof observed.cycles)[number]>();
    for (const cy of observed.cycles) {
      if (!cy.chargeId) continue;
      if (cycleOf.has(cy.chargeId))
        add(
          'duplicate_money_movement',
          `charge ${cy.chargeId} recorded for cycles ${cycleOf.get(cy.chargeId)!.n} and ${cy.n}`,
        );
      cycleOf.set(cy.chargeId, cy);
    }
    const oldestKept = observed.cycles.length >= CYCLES_KEPT ? observed.cycles[0] : undefined;
    for (const [chargeId, c] of charges) {
      const cy = cycleOf.get(chargeId);
      if (!cy) {
        // Older than the cycles the status keeps: not judged here (earlier runs' histories have it).
        if (oldestKept && chargeId < (oldestKept.chargeId ?? '')) continue;
        add(
          'duplicate_money_movement',
          `charge ${chargeId} of ${fmt(c.authorized[0] ?? 0)} at ${c.at} is no cycle's (cycles: ${observed.cycles.map((x) => `${x.n}:${x.state}:${x.chargeId ?? '-'}`).join(', ')}): a cycle charged twice, or money no cycle asked for`,
        );
        continue;
      }
      totals.cyclesCharged++;
      const amount = minor(cy.amount.amount);
      const expected = cy.n === 0 ? [record.amountMinor] : sub.planAmountsMinor;
      if (!expected.includes(amount))
        add(
          'money_mismatch',
          `cycle ${cy.n} recorded ${fmt(amount)}; the plan's amounts were ${expected.map(fmt).join(', ')}`,
        );
      for (const got of [...c.authorized, ...c.captured])
        if (got !== amount)
          add('money_mismatch', `cycle ${cy.n}: charge ${chargeId} moved ${fmt(got)}, the cycle is ${fmt(amount)}`);
      if (c.captured.length === 0)
        add('money_mismatch', `cycle ${cy.n}: charge ${chargeId} authorized, never captured`);
    }
    for (const cy of observed.cycles)
      if (cy.state === 'Paid' && (!cy.chargeId || !charges.has(cy.chargeId)))
        add('money_mismatch', `cycle ${cy.n} is Paid with charge ${cy.chargeId ?? 'none'}, which Amazon does not have`);
    const zero = observed.cycles.find((cy) => cy.n === 0);
    if (zero) {
      if (sub.trial && zero.chargeId) add('money_mismatch', `a free trial's cycle 0 charged ${zero.chargeId}`);
      if (!sub.trial && (zero.state !== 'Paid' || !zero.chargeId))
        add('money_mismatch', `cycle 0 (charged at checkout) is ${zero.state} without its charge`);
    }

    // State.
    const { statuses, cancelAtPeriodEnd } = sub.expected;
    if (statuses.length > 0 && !statuses.includes(observed.status))
      add('subscription_state', `status ${observed.status}, expected ${statuses.join(' or ')}`);
    if (cancelAtPeriodEnd !== undefined && observed.cancelAtPeriodEnd !== cancelAtPeriodEnd)
      add('subscription_state', `cancelAtPeriodEnd ${observed.cancelAtPeriodEnd}, expected ${cancelAtPeriodEnd}`);
    if (
      observed.status === 'past_due' &&
      (!observed.lastReasonCode || (!observed.updatePaymentMethodUrl && !observed.nextBillingAt))
    )
      add(
        'subscription_state',
        `past_due without ${observed.lastReasonCode ? 'a next attempt or a page for the buyer' : 'a reason code'}`,
      );
    if (['active', 'trialing'].includes(observed.status) && !observed.cancelAtPeriodEnd && !observed.nextBillingAt)
      add('subscription_state', `${observed.status} with no next billing time and no cancel scheduled`);

    // Events.
    if (!events) {
      add('subscription_events', `events unreadable: ${error ?? 'not read'}`);
      continue;
    }
    const count = (type: string) => events.filter((e) => e.type === type).length;
    const ids = new Set<string>();
    for (const e of events) {
      if (ids.has(e.id)) add('subscription_events', `event ${e.id} (${e.type}) recorded twice`);
      ids.add(e.id);
    }
    if (count('subscription.created') !== 1)
      add('subscription_events', `${count('subscription.created')} subscription.created events, expected 1`);
    const chargedEvents = events.filter((e) => e.type === 'subscription.charged');
    const perCycle = new Map<number, number>();
    for (const e of chargedEvents) perCycle.set(e.data.cycle ?? -1, (perCycle.get(e.data.cycle ?? -1) ?? 0) + 1);
    for (const [n, k] of perCycle)
      if (k > 1) add('subscription_events', `cycle ${n}: ${k} subscription.charged events`);
    const laterCharged = [...cycleOf.values()].filter((cy) => cy.n > 0 && charges.has(cy.chargeId!)).length;
    if (!oldestKept && chargedEvents.length !== laterCharged)
      add(
        'subscription_events',
        `${chargedEvents.length} subscription.charged events for ${laterCharged} cycles charged after sign-up`,
      );
    const finalEvent = { canceled: 'subscription.canceled', ended: 'subscription.ended' }[observed.status];
    if (finalEvent && count(finalEvent) !== 1)
      add('subscription_events', `status ${observed.status} with ${count(finalEvent)} ${finalEvent} events`);
    const answered = (op: string) => sub.actions.filter((a) => a.op === op && a.status === 200).length;
    if (count('subscription.resumed') !== answered('resume'))
      add(
        'subscription_events',
        `${count('subscription.resumed')} subscription.resumed events for ${answered('resume')} resumes`,
      );
  }
  return { anomalies, totals };
}
