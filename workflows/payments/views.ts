import type { ChargeSummary, Price } from '../checkout-messages';
import type { FrequencyUnit } from '../subscription-messages';

/**
 * What the Amazon Pay activities hand back to the payment owners (checkout, subscription): only the fields the
 * workflow decides on (ids, states, reason codes, amounts, deadlines as ISO-8601), never the raw
 * Amazon objects. Buyer data appears only in CheckoutReview, which the buyer's own page asks for.
 */

export interface CheckoutSessionView {
  checkoutSessionId: string;
  state: 'Open' | 'Completed' | 'Canceled';
  reasonCode: string | null;
  reasonDescription: string | null;
  expiresAt: string | null;
  chargePermissionId: string | null;
  /** OneTime, Recurring or PaymentMethodOnFile (null when Amazon does not say); Recurring starts a subscription. */
  chargePermissionType: string | null;
  chargeId: string | null;
  chargeAmount: Price | null;
  amazonPayRedirectUrl: string | null;
  /** The agreed frequency and amount of a Recurring session (Variable frequencies are not billed by us). */
  recurringMetadata?: { unit: string; value: number; amount: Price | null } | null;
}

/**
 * Get Charge's answer: the summary the owners record, and the charge permission it belongs to, so
 * a charge id named by someone else (an operator, resolution.ts) can be checked against the order.
 */
export interface ChargeView extends ChargeSummary {
  /** Optional: histories recorded before it was read answered without it. */
  chargePermissionId?: string | null;
}

export interface RefundView {
  refundId: string;
  chargeId: string;
  state: 'RefundInitiated' | 'Refunded' | 'Declined';
  reasonCode: string | null;
  amount: Price;
}

export interface ChargePermissionView {
  chargePermissionId: string;
  state: 'Chargeable' | 'NonChargeable' | 'Closed';
  reasonCodes: string[];
  expiresAt: string | null;
}

export interface CompleteCheckoutSessionInput {
  checkoutSessionId: string;
  chargeAmount: Price;
  totalOrderAmount?: Price;
  /** Business operation, e.g. `checkout/<id>/complete/1`; the idempotency key is derived from it. */
  operationId: string;
}

export interface CaptureChargeInput {
  chargeId: string;
  captureAmount: Price;
  softDescriptor?: string;
  operationId: string;
}

export interface CreateChargeInput {
  chargePermissionId: string;
  chargeAmount: Price;
  captureNow: boolean;
  canHandlePendingAuthorization: boolean;
  softDescriptor?: string;
  operationId: string;
}

export interface CreateRefundInput {
  chargeId: string;
  refundAmount: Price;
  softDescriptor?: string;
  operationId: string;
}

export interface UpdateChargePermissionInput {
  chargePermissionId: string;
  /** The whole new recurring terms (Amazon replaces them). */
  recurringMetadata: { frequency: { unit: FrequencyUnit; value: number }; amount: Price };
}

export interface CloseChargePermissionInput {
  chargePermissionId: string;
  closureReason: string;
  cancelPendingCharges: boolean;
}
