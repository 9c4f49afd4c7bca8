import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { DunningPolicy } from './subscription-messages';

/**
 * The messages a checkout workflow accepts. The API and tests import these; the workflow
 * implements them. One workflow owns one Amazon Pay checkout session, so double clicks,
 * refreshes, IPNs and operator actions are all serialized messages to one owner.
 */

export const checkoutWorkflowId = (checkoutSessionId: string): string => `checkout-${checkoutSessionId}`;

/** The one-line summary operators see for a checkout in the Web UI (no personal data). */
export const checkoutSummary = (checkoutSessionId: string, merchantReferenceId?: string): string =>
  `Amazon Pay checkout ${checkoutSessionId}${merchantReferenceId ? ` for order ${merchantReferenceId}` : ''}`;

export interface Price {
  /** Decimal string, e.g. "14.00" (JPY: no decimals). */
  amount: string;
  currencyCode: string;
}

export type PaymentIntent = 'Authorize' | 'AuthorizeWithCapture' | 'Confirm';

export interface CheckoutInput {
  checkoutSessionId: string;
  /** Set when the session was created server-side, so the Web UI shows it from the start. */
  merchantReferenceId?: string;
  /**
   * A re-checkout (workflows/checkout/recheckout.ts): once completed, this subscription bills the
   * new charge permission instead of a new subscription starting. Set by the API's
   * POST /v1/subscriptions/{subscriptionId}/recheckout, which creates the session.
   */
  replacesSubscription?: string;
}

export type CheckoutStatusName =
  | 'AwaitingBuyer' // session open, waiting for the final amount / the buyer at Amazon
  | 'AwaitingCompletion' // amount set, buyer sent to amazonPayRedirectUrl
  | 'Completing'
  | 'AuthorizationPending' // AuthorizationInitiated
  | 'Authorized'
  | 'CapturePending' // CaptureInitiated
  | 'Captured' // fully or partially captured; refunds possible
  | 'Confirmed' // intent Confirm: charge permission Chargeable, no charge yet (charge it later, or close)
  | 'Declined'
  | 'BuyerCanceled'
  | 'Expired' // 24 h window passed without completion: nothing charged
  | 'Canceled' // merchant canceled the authorization, or it expired unused
  | 'Closing' // close requested: the order closes the charge permission once nothing is pending
  | 'Closed'; // order done, charge permission closed

export interface CheckoutReview {
  checkoutSessionId: string;
  state: 'Open' | 'Completed' | 'Canceled';
  buyer: { buyerId: string | null; name: string | null; email: string | null } | null;
  shippingAddress: Record<string, string | null> | null;
  paymentDescriptor: string | null;
  /** ISO-8601; the 24 h completion deadline. */
  expiresAt: string;
}

export interface FinalAmountInput {
  chargeAmount: Price;
  totalOrderAmount?: Price;
  paymentIntent: PaymentIntent;
  canHandlePendingAuthorization: boolean;
  merchantReferenceId: string;
  checkoutResultReturnUrl: string;
  softDescriptor?: string;
  merchantStoreName?: string;
  noteToBuyer?: string;
  /** A Recurring checkout's subscription settings (workflows/subscription-messages.ts). */
  subscription?: { timeZone?: string; noticeDays?: number; dunning?: Partial<DunningPolicy> };
}

export interface FinalAmountResult {
  amazonPayRedirectUrl: string;
}

export type CompletionOutcome =
  | {
      completed: true;
      chargePermissionId: string;
      /** null for intent Confirm. */
      chargeId: string | null;
      chargeState: string | null;
      status: CheckoutStatusName;
    }
  | {
      completed: false;
      status: 'Declined' | 'BuyerCanceled' | 'Expired' | 'Canceled';
      reasonCode: string | null;
      message: string;
    };

export interface CaptureInput {
  /** Omitted: capture the remaining authorized amount. */
  amount?: Price;
  softDescriptor?: string;
  /**
   * The caller's idempotency key (the API always sends its Idempotency-Key): a capture with a key
   * already used on this checkout gets that capture's answer, also after continue-as-new. Without
   * one (recorded histories, direct workflow clients) the capture is not deduplicated.
   */
  requestId?: string;
}

/** Intent Confirm: charge the confirmed charge permission later (Amazon's Create Charge). */
export interface ChargeInput {
  /** Omitted: the checkout's charge amount. At most what the charge permission still allows. */
  amount?: Price;
  /** Capture at once (like AuthorizeWithCapture); otherwise authorize and capture later. Default false. */
  captureNow?: boolean;
  /** Accept an asynchronous authorization (AuthorizationInitiated). Default false. */
  canHandlePendingAuthorization?: boolean;
  /** Only with captureNow. */
  softDescriptor?: string;
  /** Required: the caller's idempotency key; a retry with it returns the first charge (see RefundInput). */
  requestId: string;
}

export interface RefundInput {
  amount: Price;
  softDescriptor?: string;
  /**
   * Required: the caller's idempotency key (the API's Idempotency-Key). A refund with a key already
   * used on this checkout returns the first refund, also after continue-as-new (where Temporal's
   * update-id deduplication no longer reaches), and the key Amazon sees is derived from it. Without
   * one the update is refused (idempotency_key_required).
   */
  requestId: string;
}

export interface ChargeSummary {
  chargeId: string;
  state: string;
  reasonCode: string | null;
  chargeAmount: Price;
  capturedAmount: Price | null;
  refundedAmount: Price | null;
  expiresAt: string | null;
}

export interface RefundSummary {
  /** Our sequence number for this refund on the checkout (1, 2, ...). */
  number: number;
  refundId: string;
  state: 'RefundInitiated' | 'Refunded' | 'Declined';
  reasonCode: string | null;
  amount: Price;
}

export interface CheckoutStatus {
  checkoutSessionId: string;
  status: CheckoutStatusName;
  merchantReferenceId: string | null;
  paymentIntent: PaymentIntent | null;
  chargeAmount: Price | null;
  chargePermissionId: string | null;
  charge: ChargeSummary | null;
  refunds: RefundSummary[];
  /** ISO-8601 deadlines the workflow is timing: session expiry, authorization expiry, ... */
  deadlines: { checkoutExpiresAt: string | null; authorizationExpiresAt: string | null };
  /** Last Amazon reason code seen (decline, cancel, ...). */
  lastReasonCode: string | null;
  /** The answer every complete gets (null until the outcome is known), kept after the workflow ends. */
  completion: CompletionOutcome | null;
  /**
   * Set while a step of this order cannot succeed on its own (a final failure Amazon keeps giving,
   * or hours without an answer): what failed and since when. Also the OperatorAttention search
   * attribute. The order retries once something changes (an IPN, a request such as a repeated
   * close) or after a day; cleared when the step succeeds.
   */
  attention: { reason: string; since: string } | null;
  final: boolean;
  /** Recurring checkouts: the subscription that owns the charge permission from completion on. */
  subscriptionId: string | null;
  updatedAt: string;
}

/**
 * An operator's answer for an Amazon Pay call the checkout gave up on (memo unresolvedAmazonPayCall,
 * reason UnresolvedAmazonPayCall), after looking the order up in Seller Central. docs/runbook.md.
 */
export interface ResolveAmazonPayCallInput {
  /** The memo's `operation`. */
  operation: 'createCharge' | 'createRefund';
  /**
   * executed: Seller Central shows the charge / refund; the checkout reads it from Amazon Pay and
   * records it as if the call had answered. not_executed: it does not exist; the storefront may
   * send the request again (with a new Idempotency-Key).
   */
  outcome: 'executed' | 'not_executed';
  /** executed createCharge: the Charge id in Seller Central (S01-...-C...). */
  chargeId?: string;
  /** executed createRefund: the Refund id in Seller Central (S01-...-R...). */
  refundId?: string;
  /** The memo's `requestId`: needed only when several calls of that operation are unresolved. */
  requestId?: string;
  /** Who resolved it and why (logged and kept in the memo; no buyer data). */
  note: string;
}

export const reviewUpdate = defineUpdate<CheckoutReview>('review');
export const setFinalAmountUpdate = defineUpdate<FinalAmountResult, [FinalAmountInput]>('setFinalAmount');
export const completeUpdate = defineUpdate<CompletionOutcome>('complete');
export const captureUpdate = defineUpdate<ChargeSummary, [CaptureInput]>('capture');
/** Intent Confirm only: create the order's charge on the confirmed charge permission. */
export const chargeUpdate = defineUpdate<ChargeSummary, [ChargeInput]>('charge');
export const cancelUpdate = defineUpdate<ChargeSummary, [{ reason?: string }]>('cancel');
export const refundUpdate = defineUpdate<RefundSummary, [RefundInput]>('refund');
/** The merchant says the order is done: close the charge permission and end the workflow. */
export const closeUpdate = defineUpdate<CheckoutStatus, [{ reason?: string }]>('close');
/** Operators only: record what Seller Central shows for a given-up call (ResolveAmazonPayCallInput). */
export const resolveAmazonPayCallUpdate = defineUpdate<CheckoutStatus, [ResolveAmazonPayCallInput]>(
  'resolveAmazonPayCall',
);
export const statusQuery = defineQuery<CheckoutStatus>('status');
