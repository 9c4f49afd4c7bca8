import { ActivityFailure, ApplicationFailure, condition, workflowInfo } from '@temporalio/workflow';
import { registerNotifications } from '../payments/notifications';
import { reads, reasonOf, writes } from '../payments/proxies';
import type { ChargePermissionView } from '../payments/views';
import { reasonCode } from '../payments/reason-codes';
import type { CycleSummary } from '../subscription-messages';
import { addDays, startOfNextMonth } from './calendar';
import type { SubscriptionOwner } from './owner';
import { finishRecheckout } from './recheckout';

/**
 * The subscription's loop: react to IPNs and merchant requests, tell the merchant before each
 * cycle, charge each cycle once (Create Charge with a key from the subscription, the cycle and the
 * attempt), and follow Amazon's decline rules. One turn per wake-up; continue-as-new between turns.
 */

/** Amazon: after these, Get Charge Permission and, if Chargeable, try again later (dunning). */
const SOFT = new Set(['SoftDeclined', 'ProcessingFailure']);
/** Amazon: the buyer must update the payment method; wait for the CHARGE_PERMISSION IPN. */
const BUYER_MUST_FIX = new Set([
  'HardDeclined',
  'PaymentMethodInvalid',
  'PaymentMethodExpired',
  'PaymentMethodNotAllowed',
  'MFANotCompleted',
]);
/** The monthly recurring cap: charge again when the calendar month changes (the cap resets). */
const DEFER_TO_NEXT_MONTH = new Set(['PeriodicAmountExceeded', 'TransactionCountExceeded']);
/** Gave up retrying a charge with no answer: the same attempt (same key) is tried again after this. */
const UNANSWERED_RETRY_MS = 10 * 60 * 1000;

const UPDATE_PAYMENT_HOSTS = {
  na: 'payments.amazon.com',
  eu: 'payments.amazon.co.uk',
  jp: 'payments.amazon.co.jp',
} as const;

export async function runSubscription(o: SubscriptionOwner): Promise<'final' | 'continueAsNew'> {
  const s = o.s;
  // Unregistered, the next cycle's read finds what an IPN would have said; losing IPNs only delays.
  // Only the permission's own IPNs: a cycle's charge is answered at once (captureNow, no pending
  // authorization), so its CHARGE IPNs would be a billed signal a cycle that changes nothing.
  if (!s.notificationOwnerRegistered)
    s.notificationOwnerRegistered = await registerNotifications(o.chargePermissionId, o.id, ['CHARGE_PERMISSION']);
  if (!s.created) {
    s.created = true;
    o.publish();
    o.event('subscription.created', { cycle: 0, chargeId: o.input.firstChargeId });
  }
  const longHistory = () =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > (o.input.historyLimit ?? 2_000);
  let billedThisRun = 0;
  while (!o.final) {
    const seen = o.version;
    const changed = () => o.version !== seen || s.inbox.length > 0;
    await processInbox(o);
    if (o.final) break;
    await finishRecheckout(o); // after a re-checkout: close the replaced permission (recheckout.ts)
    if (s.cancelNow) {
      await o.lock.runExclusive(() => closePermission(o, s.cancelNow!.reason, 'canceled'));
      break;
    }
    if (s.cancelAtPeriodEnd) {
      const end = Date.parse(o.periodEnd());
      if (end > Date.now() && (await o.deadlines.until(changed, end))) continue;
      await o.lock.runExclusive(() => closePermission(o, 'Canceled at the end of the paid period', 'canceled'));
      break;
    }
    if (s.pausedAt) {
      await condition(changed);
      continue;
    }
    if (s.awaitingBuyer) {
      // Days, maybe: the CHARGE_PERMISSION IPN tells us the buyer fixed it; the grace policy bounds it.
      const graceEnds = Date.parse(addDays(s.pastDueSince!, o.dunning.graceDays, o.input.timeZone));
      if (graceEnds > Date.now() && (await o.deadlines.until(changed, graceEnds))) continue;
      await o.lock.runExclusive(() => graceRunsOut(o));
      continue;
    }
    const dueAt = o.nextDueAt()!;
    if (s.noticeSentFor < s.nextCycle && !s.retryAt) {
      const noticeAt = Date.parse(addDays(dueAt, -o.noticeDaysFor(s.nextCycle), o.input.timeZone));
      if (noticeAt > Date.now() && (await o.deadlines.until(changed, noticeAt))) continue;
      s.noticeSentFor = s.nextCycle;
      o.event('subscription.renewal_upcoming', {
        cycle: s.nextCycle,
        nextBillingAt: dueAt,
        amount: o.amountFor(s.nextCycle),
      });
    }
    const due = Date.parse(dueAt);
    if (due > Date.now() && (await o.deadlines.until(changed, due))) continue;
    const paid = await o.lock.runExclusive(() => chargeCycle(o));
    if (paid) billedThisRun++;
    // A fresh run per billed cycle (or when the server suggests it): ten years stay small runs.
    if ((billedThisRun > 0 || longHistory()) && !o.final) return 'continueAsNew';
  }
  return 'final';
}

function reasonOfFailure(err: unknown): string | null {
  if (err instanceof ActivityFailure || err instanceof ApplicationFailure) return reasonOf(err);
  throw err;
}

/** One attempt of the next cycle. True when the cycle got paid. */
async function chargeCycle(o: SubscriptionOwner): Promise<boolean> {
  const s = o.s;
  if (o.final || s.cancelNow || s.pausedAt || s.cancelAtPeriodEnd) return false;
  const n = s.nextCycle;
  const cycle: CycleSummary = s.cycles.find((c) => c.n === n) ?? {
    n,
    dueAt: o.cycleAt(n),
    state: 'Scheduled',
    attempts: 0,
    chargeId: null,
    reasonCode: null,
    amount: o.amountFor(n),
  };
  cycle.state = 'Charging';
  o.recordCycle(cycle);
  // An unanswered attempt is sent again on the permission it went to (state.ts unansweredCharge).
  const pinned = s.unansweredCharge?.cycle === n ? s.unansweredCharge.chargePermissionId : null;
  const chargePermissionId = pinned ?? o.chargePermissionId;
  let code: string | null;
  try {
    // The key names the subscription, the cycle and the attempt: every retry of this attempt (a
    // worker killed mid-request included) reuses it, so Amazon charges the cycle at most once.
    const charge = await writes.createCharge({
      chargePermissionId,
      chargeAmount: cycle.amount,
      captureNow: true,
      canHandlePendingAuthorization: false,
      operationId: `subscription/${chargePermissionId}/cycle/${n}/attempt/${s.attempts + 1}`,
    });
    s.unansweredCharge = null;
    if (charge.state === 'Captured' || charge.state === 'Authorized' || charge.state === 'CaptureInitiated') {
      const wasPastDue = s.status === 'past_due';
      o.recordCycle({
        ...cycle,
        state: 'Paid',
        attempts: cycle.attempts + 1,
        chargeId: charge.chargeId,
        reasonCode: null,
      });
      s.nextCycle = n + 1;
      s.attempts = 0;
      s.retryAt = null;
      s.pastDueSince = null;
      o.setStatus('active', null);
      o.event('subscription.charged', {
        cycle: n,
        chargeId: charge.chargeId,
        state: charge.state,
        amount: charge.chargeAmount,
      });
      if (wasPastDue) o.event('subscription.recovered', { cycle: n, chargeId: charge.chargeId });
      return true;
    }
    code = charge.reasonCode ?? charge.state;
  } catch (err) {
    code = reasonOfFailure(err);
    if (code === null || !(SOFT.has(code) || reasonCode(code)?.category === 'business')) {
      // No answer after the activity's retries: the charge may have happened. The same attempt,
      // under the same key, is sent again later; Amazon answers it once.
      s.unansweredCharge = { cycle: n, chargePermissionId };
      o.recordCycle({ ...cycle, state: 'Scheduled', reasonCode: code ?? 'NoAnswer' });
      s.retryAt = new Date(Date.now() + UNANSWERED_RETRY_MS).toISOString();
      o.publish();
      return false;
    }
  }
  s.unansweredCharge = null; // answered: refused
  s.attempts++;
  const failed: CycleSummary = { ...cycle, attempts: cycle.attempts + 1, reasonCode: code };
  if (DEFER_TO_NEXT_MONTH.has(code!)) {
    // A new attempt (attempts was counted above): the refused one's key would get the refusal again.
    s.retryAt = startOfNextMonth(new Date().toISOString(), o.input.timeZone);
    o.recordCycle({ ...failed, state: 'Deferred' });
    o.publish();
    o.event('subscription.charge_deferred', { cycle: n, reasonCode: code, nextBillingAt: s.retryAt });
    return false;
  }
  const permission = await readPermission(o);
  if (permission.state === 'Closed') {
    o.recordCycle({ ...failed, state: 'Failed' });
    endAtAmazon(o, permission);
    return false;
  }
  const retryIn = o.dunning.retryAfterDays[s.attempts - 1];
  if (SOFT.has(code!) && permission.state === 'Chargeable' && retryIn !== undefined) {
    s.retryAt = addDays(new Date().toISOString(), retryIn, o.input.timeZone);
    s.pastDueSince ??= new Date().toISOString();
    o.recordCycle({ ...failed, state: 'Scheduled' });
    o.setStatus('past_due', code);
    o.event('subscription.charge_failed', { cycle: n, reasonCode: code, nextBillingAt: s.retryAt });
    return false;
  }
  o.recordCycle({ ...failed, state: 'Failed' });
  pastDue(o, code!, BUYER_MUST_FIX.has(code!) || permission.state === 'NonChargeable' || SOFT.has(code!));
  return false;
}

/** Past due until the buyer fixes the payment method at Amazon (or checks out again). */
function pastDue(o: SubscriptionOwner, code: string, buyerCanFix: boolean): void {
  const s = o.s;
  s.awaitingBuyer = true;
  s.retryAt = null;
  s.pastDueSince ??= new Date().toISOString();
  const host = UPDATE_PAYMENT_HOSTS[o.input.region ?? 'na'];
  s.updatePaymentMethodUrl = buyerCanFix ? `https://${host}/jr/your-account/ba/${o.chargePermissionId}` : null;
  o.setStatus('past_due', code);
  o.event('subscription.past_due', {
    cycle: s.nextCycle,
    reasonCode: code,
    detail: buyerCanFix
      ? `The buyer must update the payment method at ${s.updatePaymentMethodUrl}`
      : 'Amazon Pay requires the buyer to check out again (a new charge permission)',
  });
}

async function graceRunsOut(o: SubscriptionOwner): Promise<void> {
  const s = o.s;
  if (!s.awaitingBuyer || o.final) return;
  if (o.dunning.afterGrace === 'pause') {
    s.awaitingBuyer = false;
    s.pausedAt = new Date().toISOString();
    o.setStatus('paused', 'GracePeriodOver');
    o.event('subscription.paused', { reasonCode: 'GracePeriodOver' });
    return;
  }
  await closePermission(o, 'Payment not recovered within the grace period', 'canceled', 'GracePeriodOver');
}

async function readPermission(o: SubscriptionOwner): Promise<ChargePermissionView> {
  return reads.getChargePermission(o.chargePermissionId);
}

/** The buyer or Amazon closed the permission: nothing more can be charged. */
function endAtAmazon(o: SubscriptionOwner, permission: ChargePermissionView): void {
  const reason = permission.reasonCodes[0] ?? 'Closed';
  o.s.endedReason = reason;
  o.s.awaitingBuyer = false;
  o.setStatus('ended', reason);
  o.event('subscription.ended', { reasonCode: reason, nextBillingAt: null });
}

/** Close Charge Permission (merchant cancel, end of period, grace policy), then the subscription is canceled. */
async function closePermission(
  o: SubscriptionOwner,
  closureReason: string,
  to: 'canceled',
  reasonCode = 'MerchantCanceled',
): Promise<void> {
  if (o.final) return;
  try {
    await writes.closeChargePermission({
      chargePermissionId: o.chargePermissionId,
      closureReason: closureReason.slice(0, 255),
      cancelPendingCharges: false,
    });
  } catch (err) {
    const code = reasonOfFailure(err);
    // Already closed at Amazon (the buyer was first): the subscription ended there.
    if (code !== 'InvalidChargePermissionStatus') throw err;
    const permission = await readPermission(o);
    if (permission.state === 'Closed') return endAtAmazon(o, permission);
    throw err;
  }
  o.s.endedReason = closureReason;
  o.s.cancelNow = null;
  o.setStatus(to, reasonCode);
  o.event('subscription.canceled', { reasonCode, detail: closureReason, nextBillingAt: null });
}

/** IPNs carry no state: read the permission (or charge) and act on what Amazon says now. */
async function processInbox(o: SubscriptionOwner): Promise<void> {
  const s = o.s;
  while (s.inbox.length > 0 && !o.final) {
    const n = s.inbox[0]!;
    await o.lock.runExclusive(async () => {
      if (n.objectType !== 'CHARGE_PERMISSION') return;
      const permission = await readPermission(o);
      if (permission.state === 'Closed') return endAtAmazon(o, permission);
      if (permission.state === 'Chargeable' && s.awaitingBuyer) {
        // The buyer fixed the payment method: charge the cycle now, as a new attempt.
        s.awaitingBuyer = false;
        s.retryAt = new Date().toISOString();
        o.publish();
      }
    });
    s.inbox.shift();
  }
}
