/** The merchant's operations on a completed order: capture, cancel, refund, close. */
import { condition } from '@temporalio/workflow';
import type { CaptureInput, ChargeSummary, CheckoutStatus, Price, RefundInput, RefundSummary } from '../checkout-messages';
import { fromMinor, refundLimitMinor, toMinor } from './money';
import type { CheckoutOwner } from './owner';
import { asUpdateFailure, fail, writes } from './proxies';
import type { RefundView } from './views';

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

export function checkRefundable(o: CheckoutOwner, amount: Price): void {
  const s = o.s;
  const charge = s.charge;
  if (!charge || charge.state !== 'Captured' || s.final) throw fail('InvalidChargeStatus', `Nothing to refund: the charge is ${charge?.state ?? 'missing'}`);
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
  checkRefundable(o, req.amount);
  const number = s.refunds.length + 1;
  let view: RefundView;
  try {
    view = await writes.createRefund({
      chargeId: s.charge!.chargeId,
      refundAmount: req.amount,
      ...(req.softDescriptor ? { softDescriptor: req.softDescriptor } : {}),
      operationId: `checkout/${o.sid}/refund/${number}`,
    });
  } catch (err) {
    throw asUpdateFailure(err);
  }
  const refund: RefundSummary = { number, refundId: view.refundId, state: 'RefundInitiated', reasonCode: null, amount: req.amount };
  s.refunds.push(refund);
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
