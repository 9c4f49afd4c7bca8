/**
 * Create Charge and Create Refund calls whose answer never reached us (timeouts, 5xx, throttling
 * after every retry). Amazon may have acted on them, so such a call is never replaced by another
 * under a new key: it is remembered in the state and sent again, as it was (same key, same body),
 * before anything new, before the order closes, and on its own from the order loop. Amazon then
 * replays what it did, or does it now. An IPN for the object settles it too (order.ts). Every such
 * call carries its caller's key (requestId), so a retry of the request is recognised by that key.
 */
import { log, patched, upsertMemo } from '@temporalio/workflow';
import type { ChargeSummary, RefundSummary } from '../checkout-messages';
import { nowIso, UNRESOLVED_CALL_ATTENTION } from './constants';
import type { UnresolvedCall } from './state';
import { samePrice, toMinor } from '../payments/money';
import type { CheckoutOwner } from './owner';
import { settlesTheCall } from '../payments/reason-codes';
import { reasonOf, writes } from '../payments/proxies';
import type { RefundView } from '../payments/views';

/** Resends before a call is given up and left to an operator (logged, and in the memo). */
export const UNANSWERED_RESENDS = 5;

/** Whether a failed call is settled for good: Amazon refused it, or our client never sent it (reason-codes.ts). */
export function settles(err: unknown): boolean {
  return settlesTheCall(reasonOf(err));
}

/** Records a refund Amazon created under the caller's key; clears the stored call it answers. */
export function refundCreated(o: CheckoutOwner, view: RefundView, requestId: string): RefundSummary {
  const s = o.s;
  s.unansweredRefund = null;
  const refund = o.recordRefund(view);
  (s.refundRequests ??= {})[requestId] = view.refundId;
  return refund;
}

/** Records the charge Amazon created under the caller's key; clears the stored call it answers. */
export function chargeCreated(o: CheckoutOwner, charge: ChargeSummary, requestId: string): ChargeSummary {
  const s = o.s;
  s.unansweredCharge = null;
  s.chargeRequestId = requestId;
  o.applyCharge(charge);
  return s.charge!;
}

/** Records a charge learned from its IPN; if it answers the stored call, that call is settled. */
export function adoptCharge(o: CheckoutOwner, charge: ChargeSummary): void {
  const stored = o.s.unansweredCharge;
  if (stored && samePrice(charge.chargeAmount, stored.input.chargeAmount)) chargeCreated(o, charge, stored.requestId);
  else o.applyCharge(charge);
}

/** Records a refund learned from its IPN; if it answers the stored call, that call is settled. */
export function adoptRefund(o: CheckoutOwner, refund: RefundView): void {
  const stored = o.s.unansweredRefund;
  if (stored && stored.input.chargeId === refund.chargeId && samePrice(stored.input.refundAmount, refund.amount))
    refundCreated(o, refund, stored.requestId);
  else o.recordRefund(refund);
}

/**
 * Sends the stored calls again; true when nothing is left unanswered. Never throws: what is still
 * unanswered stays stored (or is given up).
 */
export async function resolveUnanswered(o: CheckoutOwner): Promise<boolean> {
  const s = o.s;
  let gaveUp = false;
  for (const kind of ['charge', 'refund'] as const) {
    const stored = kind === 'charge' ? s.unansweredCharge : s.unansweredRefund;
    if (!stored) continue;
    try {
      if (kind === 'charge') chargeCreated(o, await writes.createCharge(s.unansweredCharge!.input), stored.requestId);
      else refundCreated(o, await writes.createRefund(s.unansweredRefund!.input), stored.requestId);
    } catch (err) {
      if (settles(err)) {
        // Refused now means refused then: the key holds one answer.
        log.info('an unanswered call was refused when sent again', { kind, reasonCode: reasonOf(err) });
        forget(o, kind);
      } else {
        s.unansweredResends = (s.unansweredResends ?? 0) + 1;
        if (s.unansweredResends >= UNANSWERED_RESENDS) {
          giveUp(o, kind, String(err));
          gaveUp = true;
        }
      }
    }
  }
  // A call given up in this pass may have moved money: the request that led here is refused.
  const resolved = !s.unansweredCharge && !s.unansweredRefund && !gaveUp;
  if (resolved) s.unansweredResends = 0;
  return resolved;
}

function forget(o: CheckoutOwner, kind: 'charge' | 'refund'): void {
  if (kind === 'charge') o.s.unansweredCharge = null;
  else o.s.unansweredRefund = null;
}

function giveUp(o: CheckoutOwner, kind: 'charge' | 'refund', error: string): void {
  const s = o.s;
  const call =
    kind === 'charge'
      ? { operation: 'createCharge', ...s.unansweredCharge }
      : { operation: 'createRefund', ...s.unansweredRefund };
  log.error('Amazon Pay never answered a call that may have moved money; check it in Seller Central', {
    ...call,
    error,
  });
  const unresolved = { ...call, gaveUpAt: nowIso(), error: error.slice(0, 500) };
  upsertMemo({ unresolvedAmazonPayCall: unresolved });
  // Kept in the state for resolveAmazonPayCall (resolution.ts); state only, no command. Searchable
  // only behind the patch: publish() below upserts OperatorAttention for it, which a history that
  // gave up before this change did not do.
  const searchable = patched(UNRESOLVED_CALL_ATTENTION);
  (s.unresolvedCalls ??= []).push({ ...unresolved, searchable } as UnresolvedCall);
  s.lastReasonCode = 'UnresolvedAmazonPayCall';
  if (kind === 'refund')
    s.givenUpRefundMinor = (s.givenUpRefundMinor ?? 0) + toMinor(s.unansweredRefund!.input.refundAmount);
  else s.givenUpCharge = true;
  forget(o, kind);
  s.unansweredResends = 0;
  o.publish();
}
