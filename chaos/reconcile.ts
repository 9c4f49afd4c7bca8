// The verdict of a chaos run, as a pure function of what was collected: what each storefront asked
// for, what our API says about each checkout, the simulator's own money movements, every notable
// HTTP answer, and the text of the processes' logs, search attributes and histories read without
// the payload key. Each broken promise is an anomaly; the run fails on any.
import type { MoneyMovementView } from '../simulator/admin-client';
import type { NotableAnswer } from './http';
import type { CheckoutRecord } from './load';
import { reconcileSubscriptions, type CycleTotals, type SubscriptionInput } from './reconcile-subscriptions';

export interface ObservedCheckout {
  /** GET /v1/checkouts/{id}, after settling. */
  status: string | null;
  final: boolean | null;
  chargePermissionId?: string | null;
  subscriptionStatus?: string | null;
  /** Why it could not be read. */
  error?: string;
}

export interface ReconcileInput {
  checkouts: Array<{ record: CheckoutRecord; observed: ObservedCheckout | null; movements: MoneyMovementView[] }>;
  /** Every movement the simulator recorded (all checkouts). */
  allMovements: MoneyMovementView[];
  notable: NotableAnswer[];
  /** Text to search for buyer personal data, by where it came from (a log file, a workflow's search attributes, a history). */
  texts: Array<{ source: string; text: string }>;
  /** The buyer personal data the simulator hands out (name, email, address lines, phone). */
  pii: string[];
  /** Recurring sign-ups, judged per cycle (chaos/reconcile-subscriptions.ts). */
  subscriptions?: SubscriptionInput[];
}

export type AnomalyKind =
  | 'storefront_refused'
  | 'not_settled'
  | 'money_mismatch'
  | 'duplicate_money_movement'
  | 'foreign_money_movement'
  | 'server_error_to_valid_request'
  | 'hostile_input_not_refused'
  | 'personal_data_leak'
  | 'charge_after_cancel'
  | 'charge_while_paused'
  | 'subscription_state'
  | 'subscription_events';

export interface Anomaly {
  kind: AnomalyKind;
  detail: string;
  checkoutSessionId?: string;
}

export interface MoneyTotals {
  checkouts: number;
  movements: number;
  authorizedMinor: number;
  capturedMinor: number;
  refundedMinor: number;
}

const minor = (amount: string) => Math.round(Number(amount) * 100);
const fmt = (m: number) => (m / 100).toFixed(2);

export function reconcile(input: ReconcileInput): {
  anomalies: Anomaly[];
  money: MoneyTotals;
  cycles: CycleTotals;
} {
  const anomalies: Anomaly[] = [];
  const add = (kind: AnomalyKind, detail: string, checkoutSessionId?: string) =>
    anomalies.push({ kind, detail, ...(checkoutSessionId ? { checkoutSessionId } : {}) });
  const ours = new Set<string>();
  const permissions = new Set<string>();
  const money: MoneyTotals = { checkouts: 0, movements: 0, authorizedMinor: 0, capturedMinor: 0, refundedMinor: 0 };

  for (const { record, observed, movements } of input.checkouts) {
    const id = record.checkoutSessionId ?? undefined;
    if (record.problem) add('storefront_refused', `#${record.n} ${record.scenario}: ${record.problem}`, id);
    if (!id) continue;
    ours.add(id);
    money.checkouts++;
    for (const m of movements) permissions.add(m.chargePermissionId);

    // State: what the storefront's last request should have led to, once everything settled.
    if (!record.problem) {
      if (!observed || observed.error)
        add('not_settled', `#${record.n} ${record.scenario}: status unreadable: ${observed?.error ?? 'not read'}`, id);
      else {
        const { statuses, subscriptionStatuses } = record.expected;
        if (statuses.length > 0 && !statuses.includes(observed.status ?? ''))
          add(
            'not_settled',
            `#${record.n} ${record.scenario}: status ${observed.status}, expected ${statuses.join(' or ')}`,
            id,
          );
        else if (record.expected.final && observed.final !== true)
          add('not_settled', `#${record.n} ${record.scenario}: status ${observed.status} has not ended`, id);
        if (subscriptionStatuses && !subscriptionStatuses.includes(observed.subscriptionStatus ?? '')) {
          add(
            'not_settled',
            `#${record.n} ${record.scenario}: subscription ${record.subscriptionId} is ${observed.subscriptionStatus}, expected ${subscriptionStatuses.join(' or ')}`,
            id,
          );
        }
      }
    }

    // A recurring sign-up's money is its subscription's, judged per cycle below (cycle 0 is this
    // checkout's charge; later cycles' charges carry this session id too).
    if (record.subscription) continue;

    // Money: exactly what was asked (or, for a storefront that stopped early, never more).
    const of = (kind: MoneyMovementView['kind']) => movements.filter((m) => m.kind === kind);
    const sum = (kind: MoneyMovementView['kind']) => of(kind).reduce((s, m) => s + minor(m.amount), 0);
    const authorizations = of('authorization');
    const captures = of('capture');
    const refunds = of('refund');
    money.movements += movements.length;
    money.authorizedMinor += sum('authorization');
    money.capturedMinor += sum('capture');
    money.refundedMinor += sum('refund');
    const e = record.expected;
    const chargesSeen = new Set(authorizations.map((m) => m.chargeId ?? '?'));
    if (authorizations.length > Math.max(1, e.charges) || chargesSeen.size > Math.max(1, e.charges)) {
      add(
        'duplicate_money_movement',
        `#${record.n}: ${authorizations.length} authorizations on ${chargesSeen.size} charges, the storefront asked for ${e.charges}`,
        id,
      );
    }
    const capturesPerCharge = new Map<string, number>();
    for (const c of captures)
      capturesPerCharge.set(c.chargeId ?? '?', (capturesPerCharge.get(c.chargeId ?? '?') ?? 0) + 1);
    for (const [charge, n] of capturesPerCharge)
      if (n > 1) add('duplicate_money_movement', `#${record.n}: charge ${charge} captured ${n} times`, id);
    const refundIds = new Set(refunds.map((r) => r.refundId ?? '?'));
    if (refunds.length > e.refunds || refundIds.size !== refunds.length)
      add(
        'duplicate_money_movement',
        `#${record.n}: ${refunds.length} refunds, the storefront asked for ${e.refunds}`,
        id,
      );
    if (record.problem) {
      if (sum('capture') > record.amountMinor)
        add(
          'money_mismatch',
          `#${record.n}: captured ${fmt(sum('capture'))} of an order of ${fmt(record.amountMinor)}`,
          id,
        );
      if (sum('refund') > e.refundedMinor)
        add('money_mismatch', `#${record.n}: refunded ${fmt(sum('refund'))}, asked ${fmt(e.refundedMinor)}`, id);
    } else {
      if (authorizations.length !== e.charges)
        add(
          'money_mismatch',
          `#${record.n} ${record.scenario}: ${authorizations.length} authorizations, expected ${e.charges}`,
          id,
        );
      if (sum('capture') !== e.capturedMinor)
        add(
          'money_mismatch',
          `#${record.n} ${record.scenario}: captured ${fmt(sum('capture'))}, the storefront asked ${fmt(e.capturedMinor)}`,
          id,
        );
      if (sum('refund') !== e.refundedMinor || refunds.length !== e.refunds)
        add(
          'money_mismatch',
          `#${record.n} ${record.scenario}: refunded ${fmt(sum('refund'))} in ${refunds.length}, asked ${fmt(e.refundedMinor)} in ${e.refunds}`,
          id,
        );
    }
  }

  const subs = reconcileSubscriptions(input.subscriptions ?? []);
  anomalies.push(...subs.anomalies);
  for (const sub of input.subscriptions ?? []) {
    for (const m of sub.movements) permissions.add(m.chargePermissionId);
    money.movements += sub.movements.length;
    money.authorizedMinor += sub.movements
      .filter((m) => m.kind === 'authorization')
      .reduce((t, m) => t + minor(m.amount), 0);
    money.capturedMinor += sub.movements.filter((m) => m.kind === 'capture').reduce((t, m) => t + minor(m.amount), 0);
  }

  // Nothing moved that no storefront asked for (hostile input, forged IPNs, a later cycle).
  const foreign = input.allMovements.filter(
    (m) => !(m.checkoutSessionId && ours.has(m.checkoutSessionId)) && !permissions.has(m.chargePermissionId),
  );
  if (foreign.length > 0)
    add(
      'foreign_money_movement',
      `${foreign.length} movements no storefront asked for, e.g. ${JSON.stringify(foreign[0])}`,
    );

  // HTTP: valid requests get no 5xx but the documented 503/504 with Retry-After (http.ts only
  // keeps the others); hostile input is refused with 4xx.
  const groups = new Map<string, { n: number; sample: NotableAnswer }>();
  for (const a of input.notable) {
    const key = `${a.kind} ${a.method} ${a.route} ${a.status}${a.what ? ` ${a.what}` : ''}`;
    const g = groups.get(key);
    if (g) g.n++;
    else groups.set(key, { n: 1, sample: a });
  }
  for (const [key, { n, sample }] of groups) {
    if (sample.kind === 'valid') {
      add(
        'server_error_to_valid_request',
        `${n}x ${key}${sample.retryAfter ? '' : ' (no Retry-After)'}: ${sample.body.slice(0, 200)}`,
      );
    } else {
      add(
        'hostile_input_not_refused',
        `${n}x ${key} (expected ${sample.expect === 'not5xx' ? 'no 5xx' : '4xx'}${sample.url ? `, e.g. ${sample.url}` : ''}): ${sample.body.slice(0, 200)}`,
      );
    }
  }

  // Buyer personal data never leaves the payload codec.
  const needles = input.pii.filter((p) => p.length >= 6);
  for (const { source, text } of input.texts) {
    const hits = needles.filter((p) => text.includes(p));
    if (hits.length === 0) continue;
    const line = text.split('\n').find((l) => hits.some((h) => l.includes(h))) ?? '';
    add('personal_data_leak', `${source}: ${hits.join(', ')} in: ${line.slice(0, 240)}`);
  }
  return { anomalies, money, cycles: subs.totals };
}
