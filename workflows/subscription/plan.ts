import { currentUpdateInfo, patched } from '@temporalio/workflow';
import { samePrice } from '../payments/money';
import { asUpdateFailure, fail, interactive } from '../payments/proxies';
import type { BillingPlan, ChangeSubscriptionPlanInput, SubscriptionStatus } from '../subscription-messages';
import { isLocalDate, moveAnchor } from './calendar';
import type { SubscriptionOwner } from './owner';

/**
 * Plan changes (amount, frequency) and a moved billing date. Amazon Pay must know the new terms:
 * in NA and JP, Update Charge Permission's recurringMetadata; where PSD2 applies (EU, UK) the bank
 * must see them, so Amazon requires a new checkout and we refuse (409 recheckout_required).
 */

/** Amazon's policy: a buyer is told at least this many days before a charge of a different amount. */
export const AMOUNT_CHANGE_NOTICE_DAYS = 10;

/** patched() id: changes recorded before it compared amounts as strings ("8.0" differed from "8.00"). */
const PRICE_IN_MINOR_UNITS = 'plan-price-minor-units';
type SamePrice = (a: BillingPlan['amount'], b: BillingPlan['amount']) => boolean;
const sameString: SamePrice = (a, b) => a.amount === b.amount && a.currencyCode === b.currencyCode;

/** Plan-change update ids remembered across runs. */
const APPLIED_KEPT = 20;

/** This update is a retry of a change already applied (in an earlier run: the same run's Temporal dedupes). */
const alreadyApplied = (o: SubscriptionOwner): boolean => {
  const id = currentUpdateInfo()?.id;
  return !!id && !!o.s.appliedPlanChanges?.includes(id);
};

/** The validator: refuses before anything is written (a rejected update leaves no history). */
export function validatePlanChange(o: SubscriptionOwner, req: ChangeSubscriptionPlanInput): void {
  if (alreadyApplied(o)) return;
  const plan = o.plan;
  const amountChanges = req.amount !== undefined && !samePrice(req.amount, plan.amount);
  const frequencyChanges =
    req.frequency !== undefined && (req.frequency.unit !== plan.unit || req.frequency.value !== plan.value);
  if (!amountChanges && !frequencyChanges && req.billingDate === undefined) {
    throw fail(
      'PlanUnchanged',
      'Nothing to change: the amount and the frequency are the current ones and no billing date was given',
    );
  }
  if (req.amount && req.amount.currencyCode !== plan.amount.currencyCode) {
    throw fail(
      'CurrencyMismatch',
      `The plan is billed in ${plan.amount.currencyCode}; a charge permission keeps its currency`,
    );
  }
  if ((amountChanges || frequencyChanges) && o.input.region === 'eu') {
    throw fail(
      'recheckout_required',
      'Where PSD2 applies (EU, UK) Amazon Pay requires the buyer to check out again to agree a new amount or frequency: POST /v1/subscriptions/{subscriptionId}/recheckout with the new plan',
    );
  }
  if (req.billingDate !== undefined) {
    if (!isLocalDate(req.billingDate)) throw fail('InvalidBillingDate', 'billingDate must be a date YYYY-MM-DD');
    if (Date.parse(moveAnchor(o.periodEnd(), req.billingDate, o.input.timeZone)) <= Date.now()) {
      throw fail('InvalidBillingDate', `billingDate ${req.billingDate} is not in the future in ${o.input.timeZone}`);
    }
  }
  if (o.s.cancelAtPeriodEnd)
    throw fail('SubscriptionCancelScheduled', 'The subscription cancels at the end of the paid period');
}

/** The handler, under the owner's lock: Amazon first (the new terms), then our calendar. */
export async function changePlan(o: SubscriptionOwner, req: ChangeSubscriptionPlanInput): Promise<SubscriptionStatus> {
  const s = o.s;
  // The validator ran before the lock: a cancel may have come first.
  if (o.final || s.cancelNow || s.cancelAtPeriodEnd)
    throw fail(
      'SubscriptionEnded',
      `The subscription is ${s.cancelNow || s.cancelAtPeriodEnd ? 'canceling' : s.status}`,
    );
  if (alreadyApplied(o)) return o.status();
  // The validator needs no patch: validators do not run when a history is replayed.
  const same: SamePrice = patched(PRICE_IN_MINOR_UNITS) ? samePrice : sameString;
  const before = o.plan;
  const next: BillingPlan = {
    unit: req.frequency?.unit ?? before.unit,
    value: req.frequency?.value ?? before.value,
    amount: req.amount ?? before.amount,
  };
  const termsChange = !same(next.amount, before.amount) || next.unit !== before.unit || next.value !== before.value;
  if (termsChange) {
    try {
      // A PATCH that sets the whole recurringMetadata: repeating it (a retry, a retried request) is harmless.
      await interactive.updateChargePermission({
        chargePermissionId: o.chargePermissionId,
        recurringMetadata: { frequency: { unit: next.unit, value: next.value }, amount: next.amount },
      });
    } catch (err) {
      throw asUpdateFailure(err);
    }
  }
  // The next cycle keeps its date unless the billing date moves; later ones follow the new plan from it.
  const nextDue =
    req.billingDate !== undefined ? moveAnchor(o.periodEnd(), req.billingDate, o.input.timeZone) : o.periodEnd();
  const previous = o.amountFor(s.nextCycle);
  s.plan = next;
  s.schedule = { anchor: nextDue, firstCycle: s.nextCycle };
  const id = currentUpdateInfo()?.id;
  if (id) s.appliedPlanChanges = [...(s.appliedPlanChanges ?? []), id].slice(-APPLIED_KEPT);
  if (!same(next.amount, previous)) {
    // Amazon: the buyer hears of a new amount 10 days ahead; a cycle closer than that keeps the old one.
    let from = s.nextCycle;
    while (Date.parse(o.cycleAt(from)) - Date.now() < AMOUNT_CHANGE_NOTICE_DAYS * 86_400_000) from++;
    s.amountChange = { fromCycle: from, previous };
  }
  // The renewal notice goes out again (with the new terms) for the next cycle.
  s.noticeSentFor = Math.min(s.noticeSentFor, s.nextCycle - 1);
  o.publish();
  o.event('subscription.plan_changed', {
    amount: next.amount,
    nextBillingAt: o.nextDueAt(),
    detail: `every ${next.value} ${next.unit.toLowerCase()}(s), ${next.amount.amount} ${next.amount.currencyCode}${s.amountChange && s.amountChange.fromCycle > s.nextCycle ? ` from cycle ${s.amountChange.fromCycle}` : ''}`,
    cycle: s.amountChange?.fromCycle ?? s.nextCycle,
  });
  o.version++;
  return o.status();
}
