/** The merchant's operations on a completed order: charge (intent Confirm), capture, cancel, refund, close. */
import { condition } from '@temporalio/workflow';
import type { CaptureInput, ChargeInput, ChargeSummary, CheckoutStatus, Price, RefundInput, RefundSummary } from '../checkout-messages';
import { fromMinor, refundLimitMinor, toMinor } from './money';
import type { CheckoutOwner } from './owner';
import { answeredByAmazon, asUpdateFailure, fail, writes } from './proxies';
import type { RefundView } from './views';

/** The charge update's validator; a retry with the key that charged passes (it gets that charge). */
export function validateCharge(o: CheckoutOwner, req: ChargeInput): void {
  const s = o.s;
  if (req.requestId && s.charge && s.chargeRequestId === req.requestId) return;
  if (s.status !== 'Confirmed' || s.charge || s.final || s.closeRequested) {
    throw fail('InvalidChargePermissionStatus', s.charge ? `This order is already charged (${s.charge.chargeId})` : `Nothing to charge: the checkout is ${s.status}`);
  }
  const amount = req.amount ?? s.finalAmount!.chargeAmount;
  if (amount.currencyCode !== s.finalAmount!.chargeAmount.currencyCode) throw fail('CurrencyMismatch', 'The charge currency differs from the checkout currency');
  if (toMinor(amount) <= 0) throw fail('InvalidParameterValue', 'The charge amount must be positive');
  if (req.softDescriptor && !req.captureNow) throw fail('InvalidParameterCombination', 'softDescriptor is only allowed with captureNow');
}

export async function charge(o: CheckoutOwner, req: ChargeInput): Promise<ChargeSummary> {
  const s = o.s;
  validateCharge(o, req);
  if (s.charge) return s.charge; // the same request again
  // The key changes only once Amazon has answered: an unanswered call is retried under its key.
  const n = (s.chargeCalls ?? 0) + 1;
  const operationId = req.requestId ? `checkout/${o.sid}/charge/request/${req.requestId}` : `checkout/${o.sid}/charge/${n}`;
  try {
    const created = await writes.createCharge({
      chargePermissionId: s.chargePermissionId!,
      chargeAmount: req.amount ?? s.finalAmount!.chargeAmount,
      captureNow: req.captureNow ?? false,
      canHandlePendingAuthorization: req.canHandlePendingAuthorization ?? false,
      ...(req.softDescriptor ? { softDescriptor: req.softDescriptor } : {}),
      operationId,
    });
    s.chargeCalls = n;
    s.chargeRequestId = req.requestId ?? null;
    o.applyCharge(created);
  } catch (err) {
    // SoftDeclined, HardDeclined, TransactionAmountExceeded ...: the order stays Confirmed.
    if (answeredByAmazon(err)) s.chargeCalls = n;
    throw asUpdateFailure(err);
  }
  return s.charge!;
}

export async function capture(o: CheckoutOwner, req: CaptureInput): Promise<ChargeSummary> {
  const s = o.s;
  const charge = s.charge;
  if (!charge || charge.state !== 'Authorized' || s.closeRequested || s.final) {
    throw fail('InvalidChargeStatus', `Nothing to capture: the charge is ${charge?.state ?? 'missing'}`);
  }
  const amount = req.amount ?? charge.chargeAmount;
  if (amount.currencyCode !== charge.chargeAmount.currencyCode || toMinor(amount) > toMinor(charge.chargeAmount)) {
    throw fail('TransactionAmountExceeded', `Capture ${amount.amount} ${amount.currencyCode} exceeds the authorized amount`);
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
    if (s.charge?.state === 'Authorized') throw asUpdateFailure(err);
  }
  return s.charge!;
}

export async function cancel(o: CheckoutOwner, req: { reason?: string }): Promise<ChargeSummary> {
  const s = o.s;
  const charge = s.charge;
  if (!charge || (charge.state !== 'Authorized' && charge.state !== 'AuthorizationInitiated')) {
    throw fail('InvalidChargeStatus', `Nothing to cancel: the charge is ${charge?.state ?? 'missing'}`);
  }
  try {
    o.applyCharge(await writes.cancelCharge({ chargeId: charge.chargeId, cancellationReason: req.reason ?? 'Canceled by merchant' }));
  } catch (err) {
    await o.refreshCharge();
    if (s.charge?.state !== 'Canceled') throw asUpdateFailure(err);
  }
  return s.charge!;
}

/** The refund an idempotency key already created; the same key with another amount is refused. */
function earlierRefund(o: CheckoutOwner, req: RefundInput): RefundSummary | undefined {
  const refundId = req.requestId ? o.s.refundRequests?.[req.requestId] : undefined;
  const earlier = refundId ? o.s.refunds.find((r) => r.refundId === refundId) : undefined;
  if (earlier && (earlier.amount.currencyCode !== req.amount.currencyCode || toMinor(earlier.amount) !== toMinor(req.amount))) {
    throw fail('idempotency_key_reused', `This Idempotency-Key already refunded ${earlier.amount.amount} ${earlier.amount.currencyCode}`);
  }
  return earlier;
}

/** The refund update's validator: a repeated request passes (it gets the first answer). */
export function validateRefund(o: CheckoutOwner, req: RefundInput): void {
  if (!earlierRefund(o, req)) checkRefundable(o, req.amount);
}

export function checkRefundable(o: CheckoutOwner, amount: Price): void {
  const s = o.s;
  const charge = s.charge;
  if (!charge || charge.state !== 'Captured' || s.final) throw fail('InvalidChargeStatus', `Nothing to refund: the charge is ${charge?.state ?? 'missing'}`);
  // Closing releases the charge permission; a refund started now could outlive the order.
  if (s.closeRequested) throw fail('InvalidChargePermissionStatus', 'The order is being closed; no new refunds');
  const captured = charge.capturedAmount ?? charge.chargeAmount;
  if (amount.currencyCode !== captured.currencyCode) throw fail('CurrencyMismatch', 'Refund currency differs from the charge currency');
  const refunded = s.refunds.filter((r) => r.state !== 'Declined').reduce((sum, r) => sum + toMinor(r.amount), 0);
  const limit = refundLimitMinor(captured);
  if (toMinor(amount) <= 0 || refunded + toMinor(amount) > limit) {
    const left = fromMinor(Math.max(0, limit - refunded), captured.currencyCode);
    throw fail('TransactionAmountExceeded', `Refund exceeds what Amazon Pay allows for this charge (at most ${left.amount} ${left.currencyCode} left)`);
  }
}

export async function refund(o: CheckoutOwner, req: RefundInput): Promise<RefundSummary> {
  const s = o.s;
  const earlier = earlierRefund(o, req);
  if (earlier) return earlier;
  checkRefundable(o, req.amount);
  // A key is used up once Amazon answered (it stores refusals too); an unanswered call may have
  // refunded, so the next one reuses its key. A caller's key maps to one Amazon key, so its
  // retries are deduplicated at Amazon as well.
  const n = (s.refundAttempts ?? s.refunds.length) + 1;
  const operationId = req.requestId ? `checkout/${o.sid}/refund/request/${req.requestId}` : `checkout/${o.sid}/refund/${n}`;
  let view: RefundView;
  try {
    view = await writes.createRefund({
      chargeId: s.charge!.chargeId,
      refundAmount: req.amount,
      ...(req.softDescriptor ? { softDescriptor: req.softDescriptor } : {}),
      operationId,
    });
    s.refundAttempts = n;
  } catch (err) {
    if (answeredByAmazon(err)) s.refundAttempts = n;
    throw asUpdateFailure(err);
  }
  const known = s.refunds.find((r) => r.refundId === view.refundId);
  if (known) return known;
  const refund: RefundSummary = { number: s.refunds.length + 1, refundId: view.refundId, state: 'RefundInitiated', reasonCode: null, amount: req.amount };
  s.refunds.push(refund);
  if (req.requestId) (s.refundRequests ??= {})[req.requestId] = view.refundId;
  o.applyRefund(view);
  o.publish();
  return refund;
}

/** The main loop closes the order once nothing is pending; the caller gets the final status. */
export async function close(o: CheckoutOwner, req: { reason?: string }): Promise<CheckoutStatus> {
  o.s.closeRequested ??= { reason: req.reason ?? 'Order complete' };
  o.version++;
  await condition(() => o.s.final);
  return o.status();
}
