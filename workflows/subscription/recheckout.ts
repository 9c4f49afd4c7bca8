import { log, upsertSearchAttributes } from '@temporalio/workflow';
import { closeChargePermissionOnce } from '../payments/charge-permissions';
import { samePrice } from '../payments/money';
import { registerNotifications, releaseNotifications } from '../payments/notifications';
import { fail } from '../payments/proxies';
import { AmazonChargePermissionId } from '../search-attributes';
import type {
  BillingPlan,
  RecheckoutRequest,
  RecheckoutTerms,
  ReplaceChargePermissionInput,
  SubscriptionStatus,
} from '../subscription-messages';
import type { SubscriptionOwner } from './owner';

/**
 * The re-checkout: where PSD2 applies (EU, UK) Amazon Pay accepts no new amount or frequency on a
 * charge permission (plan.ts answers 409 recheckout_required); the buyer agrees the new terms in a
 * new recurring checkout, and its charge permission replaces the old one in this same workflow.
 *
 * 1. offerRecheckout (the API's POST /v1/subscriptions/{id}/recheckout): refuses what a plan change
 *    would refuse and answers the full new plan; it records nothing, so an abandoned re-checkout
 *    (the buyer never pays, the session expires or is canceled) leaves the subscription as it was.
 * 2. The API creates a Recurring checkout session with that plan; its checkout workflow carries
 *    `replacesSubscription`, and when it completes (intent Confirm: nothing is charged at the
 *    re-checkout) it does not start a subscription but sends replaceChargePermission here
 *    (checkout/recheckout.ts), update id `recheckout:<checkoutSessionId>`.
 * 3. replaceChargePermission switches the billed permission and the plan at once (the next cycle's
 *    Create Charge uses the new permission, at the new amount: the buyer agreed it at Amazon, so no
 *    10-day notice holds it back; a new frequency counts from the next billing date, as in plan.ts).
 * 4. The loop (finishRecheckout, at each turn) then registers the new permission's inbox, closes the
 *    old permission at Amazon (only now: the new one is complete) and releases its inbox.
 *
 * The workflow id stays `subscription-<sign-up permission>`. Found by the new permission: the
 * AmazonChargePermissionId search attribute is upserted with it, the new permission's IPNs reach
 * this workflow through its inbox registration, and the status answers chargePermissionId (the new
 * one) and previousChargePermissionIds.
 */

/** Re-checkouts remembered across runs (a retried hand-over after continue-as-new changes nothing). */
const RECHECKOUTS_KEPT = 10;
const CLOSURE_REASON = 'Replaced by a new recurring checkout with new terms (PSD2)';

/** The plan a re-checkout would move to: the current one with the requested changes. */
function nextPlan(o: SubscriptionOwner, req: RecheckoutRequest): BillingPlan {
  const plan = o.plan;
  return {
    unit: req.frequency?.unit ?? plan.unit,
    value: req.frequency?.value ?? plan.value,
    amount: req.amount ?? plan.amount,
  };
}

/** offerRecheckout's validator: the refusals of a plan change (plan.ts), and only where PSD2 applies. */
export function validateRecheckout(o: SubscriptionOwner, req: RecheckoutRequest): void {
  if (o.input.region !== 'eu') {
    throw fail(
      'RecheckoutNotRequired',
      'Outside the EU and UK Amazon Pay takes new terms on the charge permission: POST /v1/subscriptions/{subscriptionId}/plan',
    );
  }
  const plan = o.plan;
  const next = nextPlan(o, req);
  if (req.amount && req.amount.currencyCode !== plan.amount.currencyCode) {
    throw fail('CurrencyMismatch', `The plan is billed in ${plan.amount.currencyCode}`);
  }
  if (samePrice(next.amount, plan.amount) && next.unit === plan.unit && next.value === plan.value) {
    throw fail('PlanUnchanged', 'Nothing to change: the amount and the frequency are the current ones');
  }
  if (o.s.cancelAtPeriodEnd)
    throw fail('SubscriptionCancelScheduled', 'The subscription cancels at the end of the paid period');
}

/** offerRecheckout's handler: the terms only (records nothing; see 1. above). */
export function recheckoutTerms(o: SubscriptionOwner, req: RecheckoutRequest): RecheckoutTerms {
  return { subscriptionId: o.id, chargePermissionId: o.chargePermissionId, plan: nextPlan(o, req) };
}

/** This permission (or this checkout's) was handed over already: a retry answers the status. */
function alreadyReplaced(o: SubscriptionOwner, req: ReplaceChargePermissionInput): boolean {
  return (
    req.chargePermissionId === o.chargePermissionId ||
    !!o.s.recheckouts?.some((r) => r.checkoutSessionId === req.checkoutSessionId)
  );
}

/** replaceChargePermission's validator; an ended subscription refuses (the checkout then closes the new permission). */
export function validateReplacement(o: SubscriptionOwner, req: ReplaceChargePermissionInput): void {
  if (alreadyReplaced(o, req)) return;
  if (o.final || o.s.cancelNow)
    throw fail('SubscriptionEnded', `The subscription is ${o.s.cancelNow ? 'canceling' : o.s.status}`);
}

/** replaceChargePermission's handler, under the owner's lock (a cycle being charged finishes first on the old permission). */
export function replaceChargePermission(o: SubscriptionOwner, req: ReplaceChargePermissionInput): SubscriptionStatus {
  const s = o.s;
  if (alreadyReplaced(o, req)) return o.status();
  if (o.final || s.cancelNow)
    throw fail('SubscriptionEnded', `The subscription is ${s.cancelNow ? 'canceling' : s.status}`);
  const previous = o.chargePermissionId;
  const before = o.plan;
  const nextDue = o.periodEnd(); // under the old plan: the paid period runs to its end
  s.retiring = [
    ...(s.retiring ?? []),
    {
      chargePermissionId: previous,
      inboxRegistered: s.notificationOwnerRegistered,
      replacedBy: req.chargePermissionId,
      closeAttempts: 0,
    },
  ];
  s.chargePermission = { id: req.chargePermissionId, checkoutSessionId: req.checkoutSessionId };
  s.notificationOwnerRegistered = false; // the new permission's inbox: finishRecheckout registers it
  s.recheckouts = [
    ...(s.recheckouts ?? []),
    {
      checkoutSessionId: req.checkoutSessionId,
      chargePermissionId: req.chargePermissionId,
      previousChargePermissionId: previous,
    },
  ].slice(-RECHECKOUTS_KEPT);
  s.plan = req.plan;
  // A new frequency counts from the next billing date; the same frequency keeps the anchor (re-anchoring
  // at a clamped month end, 28 February, would move every later cycle off the 31st).
  if (req.plan.unit !== before.unit || req.plan.value !== before.value)
    s.schedule = { anchor: nextDue, firstCycle: s.nextCycle };
  // The buyer agreed the new amount at Amazon, and the new permission knows no other: no old amount is kept.
  delete s.amountChange;
  s.noticeSentFor = Math.min(s.noticeSentFor, s.nextCycle - 1); // the renewal notice again, with the new terms
  if (s.awaitingBuyer) {
    // Past due until the buyer checked out again (or fixed the method): this was that checkout.
    s.awaitingBuyer = false;
    s.updatePaymentMethodUrl = null;
    s.retryAt = new Date().toISOString();
  }
  upsertSearchAttributes([{ key: AmazonChargePermissionId, value: req.chargePermissionId }]);
  o.publish();
  o.event('subscription.plan_changed', {
    amount: req.plan.amount,
    detail: `every ${req.plan.value} ${req.plan.unit.toLowerCase()}(s), ${req.plan.amount.amount} ${req.plan.amount.currencyCode}, on charge permission ${req.chargePermissionId} (re-checkout)`,
    cycle: s.nextCycle,
  });
  o.version++;
  return o.status();
}

/**
 * The loop's step after a hand-over: register the new permission's inbox, close each replaced
 * permission and release its inbox. Nothing to do (no command) unless replaceChargePermission ran,
 * which no history recorded before it can contain: hence no patch. A close without a final answer
 * is tried again at the loop's next turn (nothing is charged on the old permission meanwhile).
 */
export async function finishRecheckout(o: SubscriptionOwner): Promise<void> {
  const s = o.s;
  if (!s.retiring?.length) return;
  await o.lock.runExclusive(async () => {
    if (!s.notificationOwnerRegistered)
      s.notificationOwnerRegistered = await registerNotifications(o.chargePermissionId, o.id, ['CHARGE_PERMISSION']);
    for (const r of [...(s.retiring ?? [])]) {
      // A cycle's charge sent there without an answer is sent again there first (billing.ts).
      if (s.unansweredCharge?.chargePermissionId === r.chargePermissionId) continue;
      const outcome = await closeChargePermissionOnce(r.chargePermissionId, CLOSURE_REASON);
      if (!outcome.closed && outcome.reasonCode === null) {
        r.closeAttempts++;
        log.warn('replaced charge permission not closed yet; trying again later', {
          subscriptionId: o.id,
          chargePermissionId: r.chargePermissionId,
          attempts: r.closeAttempts,
        });
        continue;
      }
      if (r.inboxRegistered) await releaseNotifications(r.chargePermissionId, o.id);
      s.retiring = (s.retiring ?? []).filter((x) => x.chargePermissionId !== r.chargePermissionId);
      o.event('subscription.charge_permission_replaced', {
        chargePermissionId: r.replacedBy,
        previousChargePermissionId: r.chargePermissionId,
        reasonCode: outcome.closed ? null : outcome.reasonCode,
        detail: outcome.closed
          ? `charge permission ${r.chargePermissionId} is closed; ${r.replacedBy} is billed from the next cycle`
          : `Amazon refused to close ${r.chargePermissionId} (${outcome.reasonCode}); ${r.replacedBy} is billed from the next cycle`,
      });
    }
  });
}
