import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { Price } from './checkout-messages';

/**
 * The messages a subscription workflow accepts. One workflow per recurring charge permission owns
 * the subscription from sign-up to its last charge: Amazon Pay does no billing, so each cycle is a
 * Create Charge this workflow makes, at a time computed from the anchor in the subscription's zone.
 */

export const subscriptionWorkflowId = (chargePermissionId: string): string => `subscription-${chargePermissionId}`;

export const subscriptionSummary = (chargePermissionId: string, merchantReferenceId: string | null): string =>
  `Amazon Pay subscription ${chargePermissionId}${merchantReferenceId ? ` for ${merchantReferenceId}` : ''}`;

export type FrequencyUnit = 'Day' | 'Week' | 'Month' | 'Year';

export interface BillingPlan {
  unit: FrequencyUnit;
  /** Every `value` units (1 = every month). */
  value: number;
  amount: Price;
}

/** Stripe's words, which merchants know. */
export type SubscriptionStatusName = 'trialing' | 'active' | 'past_due' | 'paused' | 'canceled' | 'ended';

export interface DunningPolicy {
  /** Days after a soft decline before each new attempt (default 1, 3, 5). */
  retryAfterDays: number[];
  /** Days past due before the policy applies (default 14). */
  graceDays: number;
  /** What happens when the grace period runs out (default cancel). */
  afterGrace: 'cancel' | 'pause';
}

export interface SubscriptionInput {
  chargePermissionId: string;
  checkoutSessionId: string;
  merchantReferenceId: string | null;
  plan: BillingPlan;
  /** IANA zone the billing dates are computed in (default UTC). */
  timeZone: string;
  /** ISO instant of cycle 0; cycle n is anchor + n periods in timeZone, clamped to the month's end. */
  anchor: string;
  /** Cycle 0 was charged at checkout (AuthorizeWithCapture); else it is a free trial until cycle 1. */
  firstChargeId: string | null;
  dunning?: Partial<DunningPolicy>;
  /** Days before a cycle the renewal_upcoming event goes out (default 3; 10 when the amount changed). */
  noticeDays?: number;
  /** Amazon region of the account, for the buyer's update-payment-method link. */
  region?: 'na' | 'eu' | 'jp';
}

export interface CycleSummary {
  /** 0 = the checkout's own charge (or the trial). */
  n: number;
  dueAt: string;
  state: 'Scheduled' | 'Charging' | 'Paid' | 'Pending' | 'Failed' | 'Skipped' | 'Deferred';
  attempts: number;
  chargeId: string | null;
  reasonCode: string | null;
  amount: Price;
  /** In the status only: the cycle's refunds (subscription/refunds.ts), oldest first. */
  refunds?: CycleRefund[];
  /** In the status only: what its refunds gave back so far (Refunded ones). */
  refundedAmount?: Price;
}

/** A refund of one cycle's charge, as the API answers it. */
export interface CycleRefund {
  cycle: number;
  /** Amazon's refund id; null while Create Refund has not answered (it is sent again under the same key). */
  refundId: string | null;
  chargeId: string;
  amount: Price;
  /** Requested: sent, not answered yet; RefundInitiated: pending at Amazon; then Refunded or Declined. */
  state: 'Requested' | 'RefundInitiated' | 'Refunded' | 'Declined';
  reasonCode: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface RefundCycleInput {
  cycle: number;
  amount: Price;
  /**
   * Required: the caller's idempotency key (the API's Idempotency-Key). The same key answers the
   * same refund, also after continue-as-new; the key Amazon sees is derived from it.
   */
  requestId: string;
}

export interface SubscriptionStatus {
  subscriptionId: string;
  chargePermissionId: string;
  checkoutSessionId: string;
  merchantReferenceId: string | null;
  status: SubscriptionStatusName;
  plan: BillingPlan;
  timeZone: string;
  /** Cycle n ≥ anchorCycle is due at anchor + (n − anchorCycle) periods (a plan change or a moved billing date sets them). */
  anchor: string;
  anchorCycle: number;
  nextBillingAt: string | null;
  /** Set while past due: where the buyer fixes the payment method at Amazon. */
  updatePaymentMethodUrl: string | null;
  cancelAtPeriodEnd: boolean;
  lastReasonCode: string | null;
  /** The most recent cycles, newest last. */
  cycles: CycleSummary[];
  endedReason: string | null;
  updatedAt: string;
  /** Permissions this subscription billed before a re-checkout moved it on (closed at Amazon), oldest first. */
  previousChargePermissionIds?: string[];
}

export const subscriptionStatusQuery = defineQuery<SubscriptionStatus>('subscriptionStatus');

export interface CancelSubscriptionInput {
  /** true: nothing more is charged, the permission is closed when the paid period ends. */
  atPeriodEnd: boolean;
  reason?: string;
}

/**
 * A change of the amount, the frequency or the billing date (any of them); it applies from the next
 * cycle on: the next cycle stays due when it was (unless the billing date moves), later ones follow
 * the new frequency from there.
 */
export interface ChangeSubscriptionPlanInput {
  amount?: Price;
  frequency?: { unit: FrequencyUnit; value: number };
  /** The next cycle's local date (`YYYY-MM-DD` in the subscription's zone, at the anchor's time of day); later cycles follow from it. */
  billingDate?: string;
}

export const cancelSubscriptionUpdate = defineUpdate<SubscriptionStatus, [CancelSubscriptionInput]>(
  'cancelSubscription',
);
export const pauseSubscriptionUpdate = defineUpdate<SubscriptionStatus, []>('pauseSubscription');
export const resumeSubscriptionUpdate = defineUpdate<SubscriptionStatus, []>('resumeSubscription');
export const changeSubscriptionPlanUpdate = defineUpdate<SubscriptionStatus, [ChangeSubscriptionPlanInput]>(
  'changeSubscriptionPlan',
);
/** Refund part or all of one cycle's charge; answered with the refund (usually RefundInitiated). */
export const refundCycleUpdate = defineUpdate<CycleRefund, [RefundCycleInput]>('refundSubscriptionCycle');

// --- Re-checkout (workflows/subscription/recheckout.ts): where PSD2 applies (EU, UK) a new amount
// or frequency needs a new recurring checkout, whose charge permission then replaces the old one.

/** The new terms a re-checkout asks the buyer to agree to (at least one of them changes). */
export interface RecheckoutRequest {
  amount?: Price;
  frequency?: { unit: FrequencyUnit; value: number };
}

/** What the subscription agrees to be moved to: the API puts it in the new checkout's recurringMetadata. */
export interface RecheckoutTerms {
  subscriptionId: string;
  /** The permission billed now, which the completed re-checkout's permission replaces. */
  chargePermissionId: string;
  plan: BillingPlan;
}

/** Sent by a completed re-checkout (activity replaceSubscriptionChargePermission), update id `recheckout:<checkoutSessionId>`. */
export interface ReplaceChargePermissionInput {
  chargePermissionId: string;
  checkoutSessionId: string;
  /** The completed session's recurringMetadata: what the buyer agreed to at Amazon. */
  plan: BillingPlan;
}

/** Validates a re-checkout (the same refusals as a plan change) and answers its terms; changes nothing. */
export const offerRecheckoutUpdate = defineUpdate<RecheckoutTerms, [RecheckoutRequest]>('offerRecheckout');
export const replaceChargePermissionUpdate = defineUpdate<SubscriptionStatus, [ReplaceChargePermissionInput]>(
  'replaceChargePermission',
);
