/** The merchant's operations on a completed order: charge (intent Confirm), capture, cancel, refund, close. */
import type {
  CaptureInput,
  ChargeInput,
  ChargeSummary,
  CheckoutStatus,
  Price,
  RefundInput,
  RefundSummary,
} from '../checkout-messages';
import { fromMinor, refundLimitMinor, samePrice, toMinor } from '../payments/money';
import type { CheckoutOwner } from './owner';
import { asUpdateFailure, fail, writes } from '../payments/proxies';
import { chargeCreated, refundCreated, resolveUnanswered, settles } from './unanswered';
import { unresolvedCalls } from './resolution';
import type { CreateChargeInput, CreateRefundInput, RefundView } from '../payments/views';

/**
 * Money moves only under the caller's key (the API's Idempotency-Key): without it a retry after a
 * timeout cannot be told from a second charge or refund.
 */
function requireKey(req: { requestId?: unknown }): void {
  if (typeof req.requestId !== 'string' || req.requestId === '') {
    throw fail('idempotency_key_required', 'requestId (the Idempotency-Key) is required to charge or refund');
  }
}

/** The charge update's validator; a retry with the key that charged passes (it gets that charge). */
export function validateCharge(o: CheckoutOwner, req: ChargeInput): void {
  const s = o.s;
  requireKey(req);
  if (s.givenUpCharge && !s.charge) {
    throw fail(
      'UnresolvedAmazonPayCall',
      'An earlier charge may have gone through at Amazon Pay without an answer and was handed to an operator: it is settled by resolveAmazonPayCall after checking Seller Central (docs/runbook.md)',
    );
  }
  if (s.charge && s.chargeRequestId === req.requestId) {
    if (!samePrice(req.amount ?? s.finalAmount?.chargeAmount ?? s.charge.chargeAmount, s.charge.chargeAmount)) {
      throw fail(
        'idempotency_key_reused',
        `This Idempotency-Key already charged ${s.charge.chargeAmount.amount} ${s.charge.chargeAmount.currencyCode}`,
      );
    }
    return;
  }
  if (s.status !== 'Confirmed' || !s.completion?.completed || s.charge || s.final || s.closeRequested) {
    throw fail(
      'InvalidChargePermissionStatus',
      s.charge
        ? `This order is already charged (${s.charge.chargeId})`
        : `Nothing to charge: the checkout is ${s.status}`,
    );
  }
  const amount = chargeAmountOf(o, req);
  const checkoutAmount = s.finalAmount?.chargeAmount;
  if (checkoutAmount && amount.currencyCode !== checkoutAmount.currencyCode)
    throw fail('CurrencyMismatch', 'The charge currency differs from the checkout currency');
  if (toMinor(amount) <= 0) throw fail('InvalidParameterValue', 'The charge amount must be positive');
  if (req.softDescriptor && !req.captureNow)
    throw fail('InvalidParameterCombination', 'softDescriptor is only allowed with captureNow');
}

/**
 * What a charge asks for: its own amount, else the checkout's. A checkout completed outside our
 * amount step (another system called Complete) has none of its own: the caller must say.
 */
function chargeAmountOf(o: CheckoutOwner, req: ChargeInput): Price {
  const amount = req.amount ?? o.s.finalAmount?.chargeAmount;
  if (!amount)
    throw fail(
      'ChargeAmountNotSet',
      'This checkout was completed without an amount set through this service: send the amount to charge',
    );
  return amount;
}

export async function charge(o: CheckoutOwner, req: ChargeInput): Promise<ChargeSummary> {
  const s = o.s;
  if (s.unansweredCharge) {
    // An earlier call that got no answer may have charged: send it again first, as it was.
    if (!(await resolveUnanswered(o))) throw stillUnresolved(o, 'charge');
  }
  validateCharge(o, req);
  if (s.charge) return s.charge; // the same request again (its key charged, possibly settled late)
  const input: CreateChargeInput = {
    chargePermissionId: s.chargePermissionId!,
    chargeAmount: chargeAmountOf(o, req),
    captureNow: req.captureNow ?? false,
    canHandlePendingAuthorization: req.canHandlePendingAuthorization ?? false,
    ...(req.softDescriptor ? { softDescriptor: req.softDescriptor } : {}),
    // The caller's key maps to one Amazon key, so its retries are deduplicated at Amazon as well.
    operationId: `checkout/${o.sid}/charge/request/${req.requestId}`,
  };
  s.unansweredCharge = { input, requestId: req.requestId };
  try {
    return chargeCreated(o, await writes.createCharge(input), req.requestId);
  } catch (err) {
    // SoftDeclined, HardDeclined, TransactionAmountExceeded ...: settled, the order stays Confirmed.
    if (settles(err)) s.unansweredCharge = null;
    throw asUpdateFailure(err);
  }
}

/**
 * Why a request waiting on an earlier unanswered call is refused. Still stored: Amazon may answer
 * later, so the caller retries this same request (same key). Given up: no retry can help until an
 * operator has checked Seller Central, so it is a conflict, not an invitation to try a new key.
 */
function stillUnresolved(o: CheckoutOwner, kind: 'charge' | 'refund') {
  const stored = kind === 'charge' ? o.s.unansweredCharge : o.s.unansweredRefund;
  if (stored)
    return fail(
      'AmazonPayUnavailable',
      `An earlier ${kind} got no answer from Amazon Pay yet; retry this request later with the same Idempotency-Key`,
    );
  return fail(
    'UnresolvedAmazonPayCall',
    `An earlier ${kind} may have gone through at Amazon Pay without an answer and was handed to an operator; check Seller Central before sending another`,
  );
}

/**
 * The answer a capture key already got; the same key with another amount is refused. Looked up
 * before the charge's state: a retry after a lost answer finds the charge Captured.
 */
function earlierCapture(o: CheckoutOwner, req: CaptureInput): ChargeSummary | undefined {
  const earlier = req.requestId ? o.s.captureRequests?.[req.requestId] : undefined;
  if (earlier && req.amount && !samePrice(req.amount, earlier.amount)) {
    throw fail(
      'idempotency_key_reused',
      `This Idempotency-Key already captured ${earlier.amount.amount} ${earlier.amount.currencyCode}`,
    );
  }
  return earlier?.charge;
}

/** The capture update's validator: a repeated key passes (it gets the first answer). */
export function validateCapture(o: CheckoutOwner, req: CaptureInput): void {
  if (earlierCapture(o, req)) return;
  const s = o.s;
  if (s.charge?.state !== 'Authorized' || s.closeRequested || s.final) {
    throw fail('InvalidChargeStatus', `Nothing to capture: the charge is ${s.charge?.state ?? 'missing'}`);
  }
}

export async function capture(o: CheckoutOwner, req: CaptureInput): Promise<ChargeSummary> {
  const s = o.s;
  // The same key again (a concurrent retry waited for the first) gets the first answer.
  const earlier = earlierCapture(o, req);
  if (earlier) return earlier;
  const charge = s.charge;
  if (!charge || charge.state !== 'Authorized' || s.closeRequested || s.final) {
    throw fail('InvalidChargeStatus', `Nothing to capture: the charge is ${charge?.state ?? 'missing'}`);
  }
  const amount = req.amount ?? charge.chargeAmount;
  if (amount.currencyCode !== charge.chargeAmount.currencyCode || toMinor(amount) > toMinor(charge.chargeAmount)) {
    throw fail(
      'TransactionAmountExceeded',
      `Capture ${amount.amount} ${amount.currencyCode} exceeds the authorized amount`,
    );
  }
  s.captures++;
  try {
    o.applyCharge(
      await writes.captureCharge({
        chargeId: charge.chargeId,
        captureAmount: amount,
        ...(req.softDescriptor ? { softDescriptor: req.softDescriptor } : {}),
        operationId: `checkout/${o.sid}/capture/${s.captures}`,
      }),
    );
  } catch (err) {
    // A declined capture changes the charge; an unanswered one may have happened: GET decides.
    await o.refreshCharge();
    // Not recorded: the charge is unchanged, so a retry with this key may capture.
    if (s.charge?.state === 'Authorized') throw asUpdateFailure(err);
  }
  if (req.requestId) (s.captureRequests ??= {})[req.requestId] = { amount, charge: s.charge! };
  return s.charge!;
}

export async function cancel(o: CheckoutOwner, req: { reason?: string }): Promise<ChargeSummary> {
  const s = o.s;
  const charge = s.charge;
  if (!charge || (charge.state !== 'Authorized' && charge.state !== 'AuthorizationInitiated')) {
    throw fail('InvalidChargeStatus', `Nothing to cancel: the charge is ${charge?.state ?? 'missing'}`);
  }
  try {
    o.applyCharge(
      await writes.cancelCharge({
        chargeId: charge.chargeId,
        cancellationReason: req.reason ?? 'Canceled by merchant',
      }),
    );
  } catch (err) {
    await o.refreshCharge();
    if (s.charge?.state !== 'Canceled') throw asUpdateFailure(err);
  }
  return s.charge!;
}

/** The refund an idempotency key already created; the same key with another amount is refused. */
function earlierRefund(o: CheckoutOwner, req: RefundInput): RefundSummary | undefined {
  const refundId = o.s.refundRequests?.[req.requestId];
  const earlier = refundId ? o.s.refunds.find((r) => r.refundId === refundId) : undefined;
  if (
    earlier &&
    (earlier.amount.currencyCode !== req.amount.currencyCode || toMinor(earlier.amount) !== toMinor(req.amount))
  ) {
    throw fail(
      'idempotency_key_reused',
      `This Idempotency-Key already refunded ${earlier.amount.amount} ${earlier.amount.currencyCode}`,
    );
  }
  return earlier;
}

/** The refund update's validator: a repeated request passes (it gets the first answer). */
export function validateRefund(o: CheckoutOwner, req: RefundInput): void {
  requireKey(req);
  if (earlierRefund(o, req)) return;
  // Sent again, a given-up call would be given up again while Amazon stays silent, and its amount
  // held back twice; its answer is the operator's to record. Only in the validator: it runs for
  // new requests, never on replay, so recorded histories are unaffected.
  if (unresolvedCalls(o).some((c) => c.operation === 'createRefund' && c.requestId === req.requestId))
    throw fail(
      'UnresolvedAmazonPayCall',
      'This refund got no answer from Amazon Pay and was handed to an operator: it is settled by resolveAmazonPayCall after checking Seller Central (docs/runbook.md), not by sending it again',
    );
  // Closing releases the charge permission; a refund started now could outlive the order. (Only
  // here: a refund accepted before the close still runs, and the close waits for it.)
  if (o.s.closeRequested) throw fail('InvalidChargePermissionStatus', 'The order is being closed; no new refunds');
  checkRefundable(o, req.amount);
}

export function checkRefundable(o: CheckoutOwner, amount: Price): void {
  const s = o.s;
  const charge = s.charge;
  if (!charge || charge.state !== 'Captured' || s.final)
    throw fail('InvalidChargeStatus', `Nothing to refund: the charge is ${charge?.state ?? 'missing'}`);
  const captured = charge.capturedAmount ?? charge.chargeAmount;
  if (amount.currencyCode !== captured.currencyCode)
    throw fail('CurrencyMismatch', 'Refund currency differs from the charge currency');
  // A refund given up without an answer may have happened: its amount stays held back.
  const refunded = s.refunds
    .filter((r) => r.state !== 'Declined')
    .reduce((sum, r) => sum + toMinor(r.amount), s.givenUpRefundMinor ?? 0);
  const limit = refundLimitMinor(captured);
  if (toMinor(amount) <= 0 || refunded + toMinor(amount) > limit) {
    const left = fromMinor(Math.max(0, limit - refunded), captured.currencyCode);
    throw fail(
      'TransactionAmountExceeded',
      `Refund exceeds what Amazon Pay allows for this charge (at most ${left.amount} ${left.currencyCode} left)`,
    );
  }
}

export async function refund(o: CheckoutOwner, req: RefundInput): Promise<RefundSummary> {
  const s = o.s;
  if (s.unansweredRefund) {
    // An earlier call that got no answer may have refunded: send it again first, as it was.
    if (!(await resolveUnanswered(o))) throw stillUnresolved(o, 'refund');
  }
  // The same key again (its call possibly settled late, by a resend or an IPN) gets its refund.
  const earlier = earlierRefund(o, req);
  if (earlier) return earlier;
  checkRefundable(o, req.amount);
  const input: CreateRefundInput = {
    chargeId: s.charge!.chargeId,
    refundAmount: req.amount,
    ...(req.softDescriptor ? { softDescriptor: req.softDescriptor } : {}),
    // The caller's key maps to one Amazon key, so its retries are deduplicated at Amazon as well.
    operationId: `checkout/${o.sid}/refund/request/${req.requestId}`,
  };
  // Inline: recorded histories fix how many awaits lie between the activity's result and the
  // update's answer (the main loop's timers are ordered against it).
  s.unansweredRefund = { input, requestId: req.requestId };
  let view: RefundView;
  try {
    view = await writes.createRefund(input);
  } catch (err) {
    if (settles(err)) s.unansweredRefund = null;
    throw asUpdateFailure(err);
  }
  return refundCreated(o, view, req.requestId);
}

/**
 * Records the close; the main loop closes the order once nothing is pending. The caller gets the
 * status at once (Closing, or Closed if it already was); GET the checkout for the final state.
 */
export async function close(o: CheckoutOwner, req: { reason?: string }): Promise<CheckoutStatus> {
  o.s.closeRequested ??= { reason: req.reason ?? 'Order complete' };
  o.version++;
  o.publish();
  return o.status();
}
