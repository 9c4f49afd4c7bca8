/**
 * Up to completion: the amount, the one Complete Checkout Session call every complete shares,
 * and Amazon's 24 h deadline for the buyer. What the buyer waits for (review, amount, complete)
 * calls Amazon through the interactive policy: bounded, then a clear 503 (proxies.ts).
 */
import { condition, log, patched } from '@temporalio/workflow';
import type { CheckoutReview, CompletionOutcome, FinalAmountInput, FinalAmountResult } from '../checkout-messages';
import { CHARGE_PERMISSION_LIFETIME_MS, DAY, DEADLINE_GRACE_CHECKS, READ_ONLY_THE_UNKNOWN, msUntil } from './constants';
import { samePrice } from '../payments/money';
import type { CheckoutOwner } from './owner';
import { handOverToReplacedSubscription } from './recheckout';
import { reasonCode } from '../payments/reason-codes';
import { asUpdateFailure, fail, interactive, reads, reasonOf, writes, type AmazonPayProxy } from '../payments/proxies';
import type { CheckoutSessionView } from '../payments/views';
import type { FrequencyUnit } from '../subscription-messages';

export async function review(o: CheckoutOwner): Promise<CheckoutReview> {
  const reading = interactive.getCheckoutReview(o.sid);
  o.reviewing ??= reading.then(
    (r) => r.state === 'Open',
    () => false,
  );
  try {
    const review = await reading;
    if (review.expiresAt) o.s.checkoutExpiresAt = review.expiresAt;
    return review;
  } catch (err) {
    throw asUpdateFailure(err);
  }
}

export async function setFinalAmount(o: CheckoutOwner, amount: FinalAmountInput): Promise<FinalAmountResult> {
  const s = o.s;
  if (s.completion || o.completing || s.final)
    throw fail('InvalidCheckoutSessionStatus', 'The checkout was already completed or ended');
  let session: CheckoutSessionView;
  try {
    session = await interactive.updateCheckoutSession(o.sid, amount);
  } catch (err) {
    throw asUpdateFailure(err);
  }
  if (session.expiresAt) s.checkoutExpiresAt = session.expiresAt;
  if (session.state !== 'Open') {
    await settle(o, session, interactive);
    throw fail('InvalidCheckoutSessionStatus', `The checkout session is ${session.state}`);
  }
  if (!samePrice(session.chargeAmount, amount.chargeAmount) || !session.amazonPayRedirectUrl) {
    throw fail(
      'CheckoutSessionNotReady',
      'Amazon Pay did not accept the amount or has no redirect URL yet (has the buyer signed in?)',
    );
  }
  s.finalAmount = amount;
  s.merchantReferenceId = amount.merchantReferenceId;
  o.setStatus('AwaitingCompletion');
  return { amazonPayRedirectUrl: session.amazonPayRedirectUrl };
}

export async function complete(o: CheckoutOwner): Promise<CompletionOutcome> {
  // Every complete (double click, refresh, retry, concurrent) shares the first one's answer.
  o.completing ??= o.exclusive(() => completeOnce(o));
  try {
    return await o.completing;
  } catch (err) {
    o.completing = undefined;
    throw asUpdateFailure(err);
  }
}

function outcomeOf(session: CheckoutSessionView): CompletionOutcome | null {
  if (session.state === 'Canceled') {
    const code = session.reasonCode;
    const st = code === 'Declined' || code === 'BuyerCanceled' || code === 'Expired' ? code : 'Canceled';
    return {
      completed: false,
      status: st,
      reasonCode: code,
      message: session.reasonDescription ?? `Checkout session canceled by Amazon Pay (${code ?? 'no reason given'})`,
    };
  }
  return null;
}

/**
 * Records the session's final state (Completed or Canceled). Returns null while it is still Open.
 * `via`: the buyer's interactive policy when a complete waits for the answer.
 */
async function settle(
  o: CheckoutOwner,
  session: CheckoutSessionView,
  via: AmazonPayProxy = reads,
): Promise<CompletionOutcome | null> {
  const s = o.s;
  if (session.expiresAt) s.checkoutExpiresAt = session.expiresAt;
  const notCompleted = outcomeOf(session);
  if (notCompleted) {
    s.completion = notCompleted;
    if (!notCompleted.completed) o.setStatus(notCompleted.status, notCompleted.reasonCode);
    s.final = true;
    o.publish();
    return notCompleted;
  }
  if (session.state !== 'Completed' || !session.chargePermissionId) return null;
  s.chargePermissionId = session.chargePermissionId;
  s.chargePermissionType = session.chargePermissionType;
  o.publish(); // the ids are visible before anything else can go wrong
  if (session.chargeId) {
    s.charge = null;
    o.applyCharge(await via.getCharge(session.chargeId));
  } else {
    o.setStatus('Confirmed');
    // The merchant charges later (chargeUpdate) or closes; the permission's expiry bounds the wait.
    let expiresAt: string | null = null;
    try {
      expiresAt = (await via.getChargePermission(session.chargePermissionId)).expiresAt;
    } catch (err) {
      log.warn('could not read the charge permission; assuming Amazon’s 180 days', {
        chargePermissionId: session.chargePermissionId,
        error: String(err),
      });
    }
    s.chargePermissionExpiresAt = expiresAt ?? new Date(Date.now() + CHARGE_PERMISSION_LIFETIME_MS).toISOString();
  }
  if (session.chargePermissionType === 'Recurring' && session.recurringMetadata) {
    if (!o.input.replacesSubscription) await handOverToSubscription(o, session);
    // A re-checkout moves its subscription to this permission instead (checkout/recheckout.ts).
    else if (await handOverToReplacedSubscription(o, session)) return s.completion;
  }
  s.completion = {
    completed: true,
    chargePermissionId: session.chargePermissionId,
    chargeId: session.chargeId,
    chargeState: s.charge?.state ?? null,
    status: s.status,
  };
  // Publishing has no command of its own unless an attribute changed: it emits checkout.completed.
  o.publish();
  o.version++;
  return s.completion;
}

async function completeOnce(o: CheckoutOwner): Promise<CompletionOutcome> {
  const { s, sid } = o;
  if (s.completion) return s.completion;
  const amount = s.finalAmount;
  if (!amount) throw fail('ChargeAmountNotSet', 'setFinalAmount must be called before complete');
  o.setStatus('Completing');
  let lastCode: string | null = null;
  let session: CheckoutSessionView | undefined;
  try {
    for (let tries = 0; tries < 3 && !session; tries++) {
      s.completeAttempts++;
      try {
        session = await interactive.completeCheckoutSession({
          checkoutSessionId: sid,
          chargeAmount: amount.chargeAmount,
          ...(amount.totalOrderAmount ? { totalOrderAmount: amount.totalOrderAmount } : {}),
          operationId: `checkout/${sid}/complete/${s.completeAttempts}`,
        });
      } catch (err) {
        lastCode = reasonOf(err);
        if (lastCode === 'AmountMismatch' && tries < 2) {
          // The session's amount was changed behind our back: restore ours, then complete again.
          log.warn('AmountMismatch on complete: re-updating the checkout session', { checkoutSessionId: sid });
          try {
            const updated = await interactive.updateCheckoutSession(sid, amount);
            if (updated.state !== 'Open') session = updated;
            continue;
          } catch (updateErr) {
            // Amazon refuses the update once the buyer approved the other amount: report it below.
            log.warn('checkout session could not be re-updated', {
              checkoutSessionId: sid,
              reasonCode: reasonOf(updateErr),
            });
          }
        }
        // 422 InvalidCheckoutSessionStatus, CheckoutSessionCanceled, or no answer at all: the
        // session's real state decides. Never cancel on an error: the buyer may have paid.
        session = await interactive.getCheckoutSession(sid);
      }
    }
    const outcome = session ? await settle(o, session, interactive) : null;
    if (outcome) {
      s.completionUnknown = false;
      return outcome;
    }
  } catch (err) {
    // Amazon did not answer within the buyer's budget: the session may be completed at Amazon (or
    // be about to). Nothing more is recorded and the status goes back, so the request is safe to
    // repeat; meanwhile awaitCompletion learns the outcome patiently, and a retry gets it.
    if (reasonCode(reasonOf(err))?.category !== 'business') s.completionUnknown = true;
    o.setStatus('AwaitingCompletion', reasonOf(err));
    throw err;
  }
  o.setStatus('AwaitingCompletion', lastCode);
  if (lastCode === null || reasonCode(lastCode)?.category !== 'business') {
    // Complete got no answer (or only a transient one, e.g. a 500) and the session still reads
    // Open: the call may land yet. Not the buyer's doing, so not CheckoutSessionOpen: a 503 to retry.
    s.completionUnknown = true;
    throw fail(
      'AmazonPayUnavailable',
      'Amazon Pay did not answer the Complete call in time; nothing is completed yet: retry this request',
    );
  }
  if (lastCode === 'AmountMismatch') {
    const atAmazon = session?.chargeAmount
      ? `${session.chargeAmount.amount} ${session.chargeAmount.currencyCode}`
      : 'unknown';
    throw fail(
      'AmountMismatch',
      `The buyer approved ${atAmazon} at Amazon Pay, but this order is for ${amount.chargeAmount.amount} ${amount.chargeAmount.currencyCode}; ` +
        'nothing was charged: send the buyer through checkout again',
    );
  }
  throw fail(lastCode, 'The checkout session is still Open: the buyer has not finished at Amazon Pay yet');
}

/** Reads the session (patiently) and records how it ended; false while it is still Open. */
async function readOutcome(o: CheckoutOwner): Promise<CompletionOutcome | false> {
  try {
    return (await settle(o, await reads.getCheckoutSession(o.sid))) ?? false;
  } catch (err) {
    if (reasonOf(err) !== 'ResourceNotFound') throw err;
    return endAsUnknown(o);
  }
}

/** Amazon does not know the session (never created, or deleted after 30 days): nothing to wait for. */
function endAsUnknown(o: CheckoutOwner): CompletionOutcome {
  o.s.completion = {
    completed: false,
    status: 'Canceled',
    reasonCode: 'ResourceNotFound',
    message: 'Amazon Pay does not know this checkout session',
  };
  o.setStatus('Canceled', 'ResourceNotFound');
  o.s.final = true;
  return o.s.completion;
}

/** Waits for the buyer until Amazon's deadline, then reads the session to learn how it ended. */
export async function awaitCompletion(o: CheckoutOwner): Promise<void> {
  const { s, sid } = o;
  if (!s.checkoutExpiresAt && patched(READ_ONLY_THE_UNKNOWN)) {
    // Update-with-start delivers the review in this first activation: let its handler start (a
    // condition that holds records nothing), then take the deadline from its read of the session.
    await condition(() => true);
    if (o.reviewing && !(await o.reviewing)) s.checkoutExpiresAt = null; // not Open: read it in full below
  }
  if (!s.checkoutExpiresAt) {
    try {
      const session = await reads.getCheckoutSession(sid);
      if (await settle(o, session)) return;
    } catch (err) {
      if (reasonOf(err) === 'ResourceNotFound') {
        endAsUnknown(o);
        return;
      }
      log.error('could not read the checkout session; timing 24 h from now', {
        checkoutSessionId: sid,
        error: String(err),
      });
    }
    s.checkoutExpiresAt ??= new Date(Date.now() + DAY).toISOString();
    o.publish();
  }
  let graceChecks = 0;
  while (!s.completion) {
    // Amazon's own deadline, never shortened: the buyer has the full 24 hours.
    const left = msUntil(s.checkoutExpiresAt!);
    if (left > 0 && (await condition(() => s.completion !== null || !!s.completionUnknown, left))) {
      if (s.completion) break;
      // A complete that got no answer in the buyer's budget: learn how it ended now, patiently.
      await o.guarded(() =>
        o.exclusive(async () => {
          if (!s.completionUnknown || s.completion) return;
          await readOutcome(o);
          s.completionUnknown = false;
        }),
      );
      continue;
    }
    if (o.completing) {
      await condition(() => !o.busy && (s.completion !== null || o.completing === undefined));
      continue;
    }
    // In the exclusive section, so a complete arriving now waits for this read and then decides.
    const outcome = await o.guarded(() =>
      o.exclusive(() => (s.completion ? Promise.resolve(s.completion) : readOutcome(o))),
    );
    if (outcome || s.completion) break;
    // A complete that started meanwhile decides how this checkout ends, not the deadline.
    if (o.completing) continue;
    if (++graceChecks > DEADLINE_GRACE_CHECKS) {
      // Past the deadline by an hour and Amazon still says Open: we will never complete it, so
      // Amazon cancels it (and any authorization it made) by itself.
      s.completion = {
        completed: false,
        status: 'Expired',
        reasonCode: 'Expired',
        message: 'The buyer did not complete the checkout within 24 hours',
      };
      o.setStatus('Expired', 'Expired');
      s.final = true;
      break;
    }
    s.checkoutExpiresAt = new Date(Date.now() + 10 * 60 * 1000).toISOString();
  }
  // A complete that was in flight when the session expired answers from the state recorded above.
  await condition(() => !o.busy);
}

/**
 * A Recurring checkout starts its subscription (once: the id is the charge permission's), which
 * takes the permission's notifications and bills every later cycle; the checkout then ends.
 */
async function handOverToSubscription(o: CheckoutOwner, session: CheckoutSessionView): Promise<void> {
  const { s } = o;
  const meta = session.recurringMetadata!;
  const options = s.finalAmount?.subscription ?? {};
  const { subscriptionId } = await writes.startSubscription({
    chargePermissionId: session.chargePermissionId!,
    checkoutSessionId: o.sid,
    merchantReferenceId: s.merchantReferenceId ?? s.finalAmount?.merchantReferenceId ?? null,
    plan: { unit: meta.unit as FrequencyUnit, value: meta.value, amount: meta.amount ?? s.finalAmount!.chargeAmount },
    timeZone: options.timeZone ?? 'UTC',
    anchor: new Date().toISOString(),
    firstChargeId:
      s.charge && ['Captured', 'Authorized', 'CaptureInitiated'].includes(s.charge.state) ? s.charge.chargeId : null,
    ...(options.dunning ? { dunning: options.dunning } : {}),
    ...(options.noticeDays !== undefined ? { noticeDays: options.noticeDays } : {}),
  });
  s.subscriptionId = subscriptionId;
  s.final = true;
}
