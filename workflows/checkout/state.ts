import type { ChargeSummary, CheckoutInput, CheckoutStatusName, CompletionOutcome, FinalAmountInput, Price, RefundSummary } from '../checkout-messages';
import type { AmazonPayNotification } from '../notification-messages';
import { nowIso } from './constants';
import type { CreateChargeInput, CreateRefundInput } from './views';

/** Everything a run knows about its checkout; carried over by continueAsNew. */
export interface CheckoutState {
  checkoutSessionId: string;
  status: CheckoutStatusName;
  merchantReferenceId: string | null;
  finalAmount: FinalAmountInput | null;
  checkoutExpiresAt: string | null;
  completion: CompletionOutcome | null;
  completeAttempts: number;
  chargePermissionId: string | null;
  charge: ChargeSummary | null;
  pendingSince: string | null;
  pendingPolls: number;
  captures: number;
  /** Intent Confirm: Create Charge calls made, the caller's key of the one that charged, when the permission expires. */
  chargeCalls?: number;
  chargeRequestId?: string | null;
  chargePermissionExpiresAt?: string | null;
  /** A Create Charge / Create Refund that got no answer: it may have happened, so it is sent again, as it was, before anything new. */
  unansweredCharge?: UnansweredCall<CreateChargeInput> | null;
  unansweredRefund?: UnansweredCall<CreateRefundInput> | null;
  /** Resends so far that got no answer either (unanswered.ts gives up after UNANSWERED_RESENDS). */
  unansweredResends?: number;
  /** A stored call without a caller's key, settled later (resend or IPN): a plain retry of it gets its result. */
  resolvedUnkeyedRefund?: { amount: Price; softDescriptor: string | null; refundId: string } | null;
  resolvedUnkeyedCharge?: CreateChargeInput | null;
  /** Given up calls that may have moved money: refund headroom kept back, and no second charge. */
  givenUpRefundMinor?: number;
  givenUpCharge?: boolean;
  refunds: RefundSummary[];
  /** Refund calls made without a caller's key (each one has a key of its own, never reused for another body). */
  refundAttempts?: number;
  /** The caller's idempotency key -> refundId of the refund it created. */
  refundRequests?: Record<string, string>;
  refundPolls: number;
  capturedAt: string | null;
  expiryWarned: boolean;
  lastReasonCode: string | null;
  notificationOwnerRegistered: boolean;
  seenNotifications: string[];
  inbox: AmazonPayNotification[];
  /** Failed reads of the notification at the head of the inbox. */
  inboxHeadFailures?: number;
  closeRequested: { reason: string } | null;
  final: boolean;
  updatedAt: string;
}

export interface UnansweredCall<T> {
  input: T;
  requestId: string | null;
}

export interface CheckoutWorkflowInput extends CheckoutInput {
  /** Carried over by continueAsNew. */
  resume?: CheckoutState;
  /** Overrides REFUND_WINDOW_DAYS. */
  refundWindowDays?: number;
  /** Continue as new past this many history events (default HISTORY_LIMIT, or when the server suggests it). */
  historyLimit?: number;
}

export function initialState(input: CheckoutWorkflowInput): CheckoutState {
  return (
    input.resume ?? {
      checkoutSessionId: input.checkoutSessionId,
      status: 'AwaitingBuyer',
      merchantReferenceId: input.merchantReferenceId ?? null,
      finalAmount: null,
      checkoutExpiresAt: null,
      completion: null,
      completeAttempts: 0,
      chargePermissionId: null,
      charge: null,
      pendingSince: null,
      pendingPolls: 0,
      captures: 0,
      refunds: [],
      refundAttempts: 0,
      refundRequests: {},
      refundPolls: 0,
      capturedAt: null,
      expiryWarned: false,
      lastReasonCode: null,
      notificationOwnerRegistered: false,
      seenNotifications: [],
      inbox: [],
      closeRequested: null,
      final: false,
      updatedAt: nowIso(),
    }
  );
}
