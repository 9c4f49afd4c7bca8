import { log } from '@temporalio/workflow';
import type { CompletionOutcome, FinalAmountInput } from '../checkout-messages';
import { closeChargePermissionOnce } from '../payments/charge-permissions';
import { fail, reasonOf, writes } from '../payments/proxies';
import type { CheckoutSessionView } from '../payments/views';
import type { FrequencyUnit } from '../subscription-messages';
import type { CheckoutOwner } from './owner';

/**
 * The checkout's side of a re-checkout (workflows/subscription/recheckout.ts explains the whole):
 * a Recurring checkout started with `replacesSubscription` hands its charge permission to that
 * subscription when it completes, instead of starting a new subscription, and ends.
 *
 * Nothing is charged at the re-checkout (intent Confirm only): the subscription's next cycle bills
 * the new permission, so the buyer pays each period once, at its usual date, and a re-checkout
 * that charged would have to be matched to a cycle. Exactly once: the completion is memoized (a
 * retried complete answers the first outcome and sends nothing), the update id is
 * `recheckout:<checkoutSessionId>` (Temporal dedupes a retried activity), and the subscription
 * answers a hand-over it already applied (also after continue-as-new) with its status.
 *
 * No patch: a recorded checkout has no replacesSubscription in its input, so none reaches this.
 */

/** setFinalAmount's validator for a re-checkout: Confirm, nothing charged now. */
export function validateRecheckoutAmount(o: CheckoutOwner, amount: FinalAmountInput): void {
  if (o.input.replacesSubscription && amount.paymentIntent !== 'Confirm') {
    throw fail(
      'InvalidParameterValue',
      `A re-checkout charges nothing (the next cycle bills the new charge permission): paymentIntent must be Confirm, not ${amount.paymentIntent}`,
    );
  }
}

/**
 * Hands the completed session's permission to the subscription. False when it did (the checkout
 * ends); true when the subscription had ended meanwhile: the new permission, which nothing would
 * bill, is closed and the checkout ends Canceled (s.completion says why).
 */
export async function handOverToReplacedSubscription(o: CheckoutOwner, session: CheckoutSessionView): Promise<boolean> {
  const { s } = o;
  const subscriptionId = o.input.replacesSubscription!;
  const chargePermissionId = session.chargePermissionId!;
  const meta = session.recurringMetadata!;
  try {
    await writes.replaceSubscriptionChargePermission({
      subscriptionId,
      chargePermissionId,
      checkoutSessionId: o.sid,
      // What the buyer agreed to at Amazon, not what we asked for.
      plan: { unit: meta.unit as FrequencyUnit, value: meta.value, amount: meta.amount ?? s.finalAmount!.chargeAmount },
    });
    s.subscriptionId = subscriptionId;
    s.final = true;
    return false;
  } catch (err) {
    if (reasonOf(err) !== 'SubscriptionEnded') throw err;
  }
  const closed = await closeChargePermissionOnce(
    chargePermissionId,
    'The subscription this checkout was to continue had ended',
  );
  if (!closed.closed)
    log.warn('could not close the charge permission of a re-checkout whose subscription ended', {
      chargePermissionId,
      reasonCode: closed.reasonCode,
    });
  s.completion = {
    completed: false,
    status: 'Canceled',
    reasonCode: 'SubscriptionEnded',
    message: `Subscription ${subscriptionId} ended before this re-checkout completed; its charge permission is closed and nothing was charged`,
  } satisfies CompletionOutcome;
  o.setStatus('Canceled', 'SubscriptionEnded');
  s.final = true;
  o.publish();
  return true;
}
