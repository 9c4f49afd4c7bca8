// A recurring sign-up's life after its checkout, as a storefront and its buyer live it through the
// public HTTP API and Amazon's account page: cancel now or at the end of the paid period, pause and
// resume, a plan change, a buyer whose instrument declines later charges fixing it at Amazon, a
// buyer closing the agreement at Amazon. Each request the subscription's money depends on carries
// an Idempotency-Key and is retried with it; what was answered, and when, is recorded for the
// reconciler (chaos/reconcile-subscriptions.ts): nothing may be charged after a cancel or while
// paused, and the subscription must end in the state the storefront's last request leads to.
//
// Later billing cycles are not reached within a run: a cycle is a durable timer on Temporal's
// clock (workflows/subscription/billing.ts) at least a day after sign-up (the shortest plan is
// one Day), and the dev server's clock is the host's; the simulator's admin clock moves only
// Amazon's side. The reconciler checks every cycle it finds all the same, so a long run (or an
// attached cluster whose subscriptions reach their dates) is judged per cycle.
import type { PaymentMethodChoice } from '../simulator/admin-client';
import { retrying } from './http';
import { money, Unexpected, type CheckoutRecord, type LoadDeps } from './load';

export const LIFECYCLES = [
  'cancelNow',
  'cancelAtPeriodEnd',
  'pauseResume',
  'pausedThenCanceled',
  'planChange',
  'buyerFixesMethod',
  'buyerCloses',
  'declined',
  'keepActive',
] as const;
export type SubscriptionLifecycle = (typeof LIFECYCLES)[number];

export interface SubscriptionAction {
  op: 'read' | 'cancel' | 'cancelAtPeriodEnd' | 'pause' | 'resume' | 'plan' | 'buyerFixesMethod' | 'buyerCloses';
  /** The Idempotency-Key it was sent with (none for reads and the buyer's pages at Amazon). */
  key: string | null;
  requestedAt: string;
  answeredAt: string;
  status: number;
  /** Sent more than once (5xx or no answer, retried with the same key). */
  attempts: number;
}

export interface SubscriptionRecord {
  lifecycle: SubscriptionLifecycle;
  /** Signed up with Confirm: cycle 0 is a free trial, nothing charged at checkout. */
  trial: boolean;
  paymentMethod: PaymentMethodChoice;
  frequency: { unit: 'Day' | 'Week' | 'Month'; value: number };
  /** Every amount the storefront set for the plan (the sign-up's first), minor units. */
  planAmountsMinor: number[];
  chargePermissionId: string | null;
  actions: SubscriptionAction[];
  /** The state the storefront's last request leads to, once everything settled. */
  expected: { statuses: string[]; cancelAtPeriodEnd?: boolean };
  /** Answered cancel (now or at period end) or the buyer's close: nothing may be charged after. */
  noChargeAfter: string | null;
  /** From the pause's answer to the resume's request (null: still paused). */
  pausedWindows: Array<{ from: string; to: string | null }>;
}

/** Each lifecycle as often as the others; `declined` and `keepActive` less. */
const WEIGHTS: Record<SubscriptionLifecycle, number> = {
  cancelNow: 2,
  cancelAtPeriodEnd: 2,
  pauseResume: 2,
  pausedThenCanceled: 1,
  planChange: 2,
  buyerFixesMethod: 2,
  buyerCloses: 2,
  declined: 1,
  keepActive: 1,
};

export function pickLifecycle(random: () => number): SubscriptionLifecycle {
  const total = Object.values(WEIGHTS).reduce((s, w) => s + w, 0);
  let x = random() * total;
  for (const l of LIFECYCLES) {
    x -= WEIGHTS[l];
    if (x < 0) return l;
  }
  return 'keepActive';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the recorded lifecycle once the sign-up completed (record.subscriptionId set). Throws
 * Unexpected on an answer a storefront would not expect; the caller records it.
 */
export async function runSubscriptionLife(
  deps: LoadDeps,
  record: CheckoutRecord,
  key: (op: string) => string,
  shouldStop: () => boolean,
): Promise<void> {
  const { client, admin, random } = deps;
  const sub = record.subscription!;
  const id = encodeURIComponent(record.subscriptionId!);
  const initial = sub.trial ? 'trialing' : 'active';
  sub.expected = { statuses: [initial], cancelAtPeriodEnd: false };

  const act = async (
    op: SubscriptionAction['op'],
    path: string | null,
    body?: unknown,
    accept: (status: number, json: Record<string, unknown>, attempts: number) => boolean = (st) => st === 200,
  ): Promise<Record<string, unknown>> => {
    const requestedAt = new Date().toISOString();
    const k = path && op !== 'read' ? key(`subscription-${op}-${sub.actions.length}`) : null;
    const a =
      path === null
        ? { status: 200, json: {}, attempts: 1 }
        : await client.send(op === 'read' ? 'GET' : 'POST', path, body, k ?? undefined);
    sub.actions.push({
      op,
      key: k,
      requestedAt,
      answeredAt: new Date().toISOString(),
      status: a.status,
      attempts: a.attempts,
    });
    if (!accept(a.status, a.json, a.attempts))
      throw new Unexpected(`subscription ${op}: ${a.status} ${JSON.stringify(a.json).slice(0, 300)}`);
    return a.json;
  };
  const read = () => act('read', `/v1/subscriptions/${id}`);
  // A retried cancel-now may find the workflow already ended by the first attempt: 409 then means done.
  const endedByOurRetry = (st: number, json: Record<string, unknown>, attempts: number) =>
    st === 200 || (st === 409 && attempts > 1 && json.code === 'subscription_closed');
  const cancelNow = async () => {
    await act(
      'cancel',
      `/v1/subscriptions/${id}/cancel`,
      { atPeriodEnd: false, reason: 'chaos: canceled by the storefront' },
      endedByOurRetry,
    );
    sub.noChargeAfter = sub.actions.at(-1)!.answeredAt;
    sub.expected = { statuses: ['canceled'] };
  };
  const pause = async () => {
    await act('pause', `/v1/subscriptions/${id}/pause`);
    sub.pausedWindows.push({ from: sub.actions.at(-1)!.answeredAt, to: null });
    sub.expected = { statuses: ['paused'], cancelAtPeriodEnd: false };
  };

  const first = await read();
  if (first.status !== initial) throw new Unexpected(`new subscription is ${String(first.status)}, not ${initial}`);
  if (shouldStop()) {
    sub.lifecycle = 'keepActive';
    return;
  }
  switch (sub.lifecycle) {
    case 'cancelNow':
      return cancelNow();
    case 'cancelAtPeriodEnd': {
      const s = await act('cancelAtPeriodEnd', `/v1/subscriptions/${id}/cancel`, {
        atPeriodEnd: true,
        reason: 'chaos: ends with the paid period',
      });
      if (s.cancelAtPeriodEnd !== true || s.nextBillingAt !== null)
        throw new Unexpected(`cancel at period end answered ${JSON.stringify(s).slice(0, 300)}`);
      // The period is paid (or a trial): nothing more is charged.
      sub.noChargeAfter = sub.actions.at(-1)!.answeredAt;
      sub.expected = { statuses: [initial], cancelAtPeriodEnd: true };
      return;
    }
    case 'pauseResume': {
      await pause();
      await sleep(1000 + Math.floor(random() * 9000));
      const requestedAt = new Date().toISOString();
      await act('resume', `/v1/subscriptions/${id}/resume`);
      sub.pausedWindows.at(-1)!.to = requestedAt;
      // Resumed from a trial, too, it is active (billing continues from the anchor).
      sub.expected = { statuses: ['active'], cancelAtPeriodEnd: false };
      return;
    }
    case 'pausedThenCanceled':
      await pause();
      await sleep(1000 + Math.floor(random() * 4000));
      return cancelNow();
    case 'planChange': {
      const next = Math.max(100, Math.round(sub.planAmountsMinor[0]! * (0.5 + random())));
      if (next === sub.planAmountsMinor[0]) return;
      sub.planAmountsMinor.push(next);
      const s = await act('plan', `/v1/subscriptions/${id}/plan`, { amount: money(next) });
      if ((s.plan as { amount?: { amount?: string } } | undefined)?.amount?.amount !== money(next).amount)
        throw new Unexpected(`plan change answered ${JSON.stringify(s).slice(0, 300)}`);
      return;
    }
    case 'buyerFixesMethod': {
      // Later charges would decline (dunning); the buyer puts a good card on the agreement at Amazon.
      await sleep(500 + Math.floor(random() * 3000));
      await act('buyerFixesMethod', null);
      await retrying('fix payment method', () => admin.fixPaymentMethod(sub.chargePermissionId!, 'happy'));
      sub.actions.at(-1)!.answeredAt = new Date().toISOString();
      return;
    }
    case 'buyerCloses': {
      await sleep(500 + Math.floor(random() * 3000));
      await act('buyerCloses', null);
      await retrying('buyer closes', () => admin.closeChargePermissionAsBuyer(sub.chargePermissionId!));
      sub.noChargeAfter = sub.actions.at(-1)!.answeredAt = new Date().toISOString();
      // Told by the CHARGE_PERMISSION IPN; with every IPN dropped, the next cycle's read finds out.
      sub.expected = { statuses: deps.ipnsDropped ? ['ended', initial] : ['ended'] };
      return;
    }
    case 'declined':
    case 'keepActive':
      return;
  }
}
