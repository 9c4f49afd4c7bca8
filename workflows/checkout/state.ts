import type {
  ChargeSummary,
  CheckoutInput,
  CheckoutStatusName,
  CompletionOutcome,
  FinalAmountInput,
  Price,
  RefundSummary,
  ResolveAmazonPayCallInput,
} from '../checkout-messages';
import type { OutboxState } from '../events/outbox';
import type { AmazonPayNotification } from '../notification-messages';
import type { ObservedCheckout } from './events';
import { nowIso } from './constants';
import type { CreateChargeInput, CreateRefundInput } from '../payments/views';

/** Everything a run knows about its checkout; carried over by continueAsNew. */
export interface CheckoutState {
  checkoutSessionId: string;
  status: CheckoutStatusName;
  merchantReferenceId: string | null;
  finalAmount: FinalAmountInput | null;
  checkoutExpiresAt: string | null;
  completion: CompletionOutcome | null;
  completeAttempts: number;
  /** A complete failed without an answer: Amazon may have completed the session (awaitCompletion reads it). */
  completionUnknown?: boolean;
  chargePermissionId: string | null;
  /** From the completed session: Amazon closes a OneTime permission by itself once the order total is captured. */
  chargePermissionType?: string | null;
  charge: ChargeSummary | null;
  /** The notification of the charge's creation (whose state we read from the answer) was met. */
  chargeCreationNoticed?: boolean;
  pendingSince: string | null;
  pendingPolls: number;
  captures: number;
  /** The caller's capture key -> the amount it asked for and the answer it got. */
  captureRequests?: Record<string, { amount: Price; charge: ChargeSummary }>;
  /** Intent Confirm: the caller's key of the charge that charged, when the permission expires. */
  chargeRequestId?: string | null;
  chargePermissionExpiresAt?: string | null;
  /** A Create Charge / Create Refund that got no answer: it may have happened, so it is sent again, as it was, before anything new. */
  unansweredCharge?: UnansweredCall<CreateChargeInput> | null;
  unansweredRefund?: UnansweredCall<CreateRefundInput> | null;
  /** Resends so far that got no answer either (unanswered.ts gives up after UNANSWERED_RESENDS). */
  unansweredResends?: number;
  /** Given up calls that may have moved money: refund headroom kept back, and no second charge. */
  givenUpRefundMinor?: number;
  givenUpCharge?: boolean;
  /** The given-up calls themselves, until an operator records what Seller Central shows (resolution.ts). */
  unresolvedCalls?: UnresolvedCall[];
  /** What operators recorded for given-up calls (resolveAmazonPayCall), oldest first. */
  resolutions?: AmazonPayCallResolution[];
  refunds: RefundSummary[];
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
  /** A step that cannot succeed on its own (CheckoutOwner.needsOperator), and order-loop steps failed in a row. */
  attention?: { reason: string; since: string } | null;
  stepFailures?: number;
  final: boolean;
  updatedAt: string;
  /** A Recurring checkout handed its charge permission to this subscription workflow, then ended. */
  subscriptionId?: string | null;
  /** Merchant events recorded and their deliveries (events/outbox.ts). */
  outbox?: OutboxState;
  /** The checkout as last turned into merchant events (checkout/events.ts). */
  observed?: ObservedCheckout;
}

export interface UnansweredCall<T> {
  input: T;
  /** The caller's key: a retry of the request that made the call is recognised by it. */
  requestId: string;
}

/** A Create Charge / Create Refund given up without an answer (unanswered.ts); the memo's unresolvedAmazonPayCall. */
export type UnresolvedCall = (
  { operation: 'createCharge'; input: CreateChargeInput } | { operation: 'createRefund'; input: CreateRefundInput }
) & {
  requestId: string;
  gaveUpAt: string;
  error: string;
  /** Shown as the OperatorAttention search attribute (false: given up before it was; see UNRESOLVED_CALL_ATTENTION). */
  searchable: boolean;
};

export type AmazonPayCallResolution = Pick<ResolveAmazonPayCallInput, 'operation' | 'outcome' | 'note'> & {
  requestId: string;
  /** executed: the charge or refund adopted. */
  objectId: string | null;
  resolvedAt: string;
};

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
