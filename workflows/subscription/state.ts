import type { AmazonPayNotification } from '../notification-messages';
import type { OutboxState } from '../events/outbox';
import type { RefundsState } from './refunds';
import type {
  BillingPlan,
  CycleSummary,
  DunningPolicy,
  SubscriptionInput,
  SubscriptionStatusName,
} from '../subscription-messages';

export const DEFAULT_DUNNING: DunningPolicy = { retryAfterDays: [1, 3, 5], graceDays: 14, afterGrace: 'cancel' };
export const DEFAULT_NOTICE_DAYS = 3;
/** Cycles kept in the state and the status (older ones are in earlier runs' histories). */
export const CYCLES_KEPT = 12;
export const SEEN_NOTIFICATIONS_KEPT = 100;
/** patched() id: subscriptions recorded before it ended without telling their notification inbox. */
export const RELEASES_INBOX = 'subscription-releases-inbox';
/** patched() id: a run started with its status and next billing time does not upsert them again. */
export const START_ATTRIBUTES_KEPT = 'subscription-start-attributes-kept';

/** Everything a run knows about its subscription; compact, carried over by continueAsNew. */
export interface SubscriptionState {
  status: SubscriptionStatusName;
  /** The next cycle to charge (cycle 0 is the checkout's own charge, or the trial). */
  nextCycle: number;
  /** Attempts of nextCycle that got a definitive answer; the next attempt's key includes it. */
  attempts: number;
  /** A dunning retry or a deferral moves the next attempt here (else the cycle's own time). */
  retryAt: string | null;
  /** Past due while waiting for the buyer to fix the payment method (hard decline, NonChargeable). */
  awaitingBuyer: boolean;
  pastDueSince: string | null;
  updatePaymentMethodUrl: string | null;
  cancelAtPeriodEnd: boolean;
  /** Cancel now, asked by the merchant (or the grace policy): the loop closes the permission. */
  cancelNow: { reason: string } | null;
  /** The paused subscription resumes from the anchor: cycles due while paused are skipped. */
  pausedAt: string | null;
  noticeSentFor: number;
  lastReasonCode: string | null;
  endedReason: string | null;
  cycles: CycleSummary[];
  notificationOwnerRegistered: boolean;
  seenNotifications: string[];
  inbox: AmazonPayNotification[];
  outbox?: OutboxState;
  /** The plan since the last change (absent: the plan signed up for). */
  plan?: BillingPlan;
  /**
   * Where the calendar counts from since a change of frequency: cycle n ≥ firstCycle is due at
   * anchor + (n − firstCycle) periods of the new plan (absent: the sign-up's anchor, from cycle 0).
   */
  schedule?: { anchor: string; firstCycle: number };
  /** A new amount applies from this cycle (Amazon's notice period); earlier cycles keep `previous`. */
  amountChange?: { fromCycle: number; previous: BillingPlan['amount'] };
  created: boolean;
  /**
   * Update ids of the plan changes applied (the API's is `plan:<Idempotency-Key>`), the last few:
   * Temporal dedupes an update id within a run only, and a retry after continue-as-new must
   * answer as the first did rather than 422 PlanUnchanged.
   */
  appliedPlanChanges?: string[];
  /** Cycle refunds and their tracking (subscription/refunds.ts); absent until the first refund. */
  refunds?: RefundsState;
  /** The search attributes last upserted (status and next billing time); absent: none yet this run. */
  published?: string;
  updatedAt: string;
  /** Since a re-checkout (subscription/recheckout.ts): the permission billed, and the checkout that made it. */
  chargePermission?: { id: string; checkoutSessionId: string };
  /** Permissions a re-checkout replaced that are still to close at Amazon (and their inboxes to release). */
  retiring?: RetiringPermission[];
  /**
   * A cycle's Create Charge that got no answer, and the permission it was sent on: it is sent
   * again there, under its key, even if a re-checkout moved the subscription meanwhile (under the
   * new permission the key would differ and a charge that did land would be charged again), and
   * that permission is not closed until it is answered.
   */
  unansweredCharge?: { cycle: number; chargePermissionId: string } | null;
  /** The re-checkouts applied (the last few), so that a retried hand-over changes nothing twice. */
  recheckouts?: { checkoutSessionId: string; chargePermissionId: string; previousChargePermissionId: string }[];
}

export interface RetiringPermission {
  chargePermissionId: string;
  /** Its inbox forwarded to this workflow: released once the permission is closed. */
  inboxRegistered: boolean;
  /** The permission that replaced it. */
  replacedBy: string;
  /** Close Charge Permission got no final answer this many times (tried again at the loop's next turn). */
  closeAttempts: number;
}

export interface SubscriptionWorkflowInput extends SubscriptionInput {
  resume?: SubscriptionState;
  /** Continue as new past this many history events (or when the server suggests it). */
  historyLimit?: number;
}

export function initialState(input: SubscriptionWorkflowInput): SubscriptionState {
  if (input.resume) return input.resume;
  const first: CycleSummary = {
    n: 0,
    dueAt: input.anchor,
    state: input.firstChargeId ? 'Paid' : 'Skipped',
    attempts: input.firstChargeId ? 1 : 0,
    chargeId: input.firstChargeId,
    reasonCode: input.firstChargeId ? null : 'FreeTrial',
    amount: input.plan.amount,
  };
  return {
    status: input.firstChargeId ? 'active' : 'trialing',
    nextCycle: 1,
    attempts: 0,
    retryAt: null,
    awaitingBuyer: false,
    pastDueSince: null,
    updatePaymentMethodUrl: null,
    cancelAtPeriodEnd: false,
    cancelNow: null,
    pausedAt: null,
    noticeSentFor: 0,
    lastReasonCode: null,
    endedReason: null,
    cycles: [first],
    notificationOwnerRegistered: false,
    seenNotifications: [],
    inbox: [],
    created: false,
    updatedAt: new Date().toISOString(),
  };
}
