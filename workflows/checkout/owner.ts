import { RetryState } from '@temporalio/common';
import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  log,
  patched,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { Mutex } from 'async-mutex';
import type {
  ChargeSummary,
  CheckoutStatus,
  CheckoutStatusName,
  CompletionOutcome,
  PaymentIntent,
  RefundSummary,
} from '../checkout-messages';
import type { AmazonPayNotification } from '../notification-messages';
import {
  AmazonChargeId,
  AmazonChargePermissionId,
  AmazonCheckoutSessionId,
  CheckoutStatus as CheckoutStatusKey,
  MerchantReferenceId,
  OperatorAttention,
} from '../search-attributes';
import {
  ATTENTION_AFTER_FAILURES,
  ATTENTION_AFTER_REFUSALS,
  AUTHORIZATION_LIFETIME_MS,
  DAY,
  SEEN_NOTIFICATIONS_KEPT,
  START_ATTRIBUTES_KEPT,
  nowIso,
  pollDelay,
} from './constants';
import { checkoutWorkflowId } from '../checkout-messages';
import { emptyOutbox, EventOutbox } from '../events/outbox';
import { checkoutEventData, checkoutEvents, NOTHING_OBSERVED, observe } from './events';
import { Deadlines } from '../payments/deadlines';
import { reads, reasonOf } from '../payments/proxies';
import { initialState, type CheckoutState, type CheckoutWorkflowInput } from './state';
import { refundAdvances } from '../payments/refunds';
import type { RefundView } from '../payments/views';

const FINAL_STATUSES: CheckoutStatusName[] = ['Declined', 'BuyerCanceled', 'Expired', 'Canceled', 'Closed'];
const CHARGE_RANK: Record<string, number> = {
  AuthorizationInitiated: 1,
  Authorized: 2,
  CaptureInitiated: 3,
  Captured: 4,
  Canceled: 5,
  Declined: 5,
};
const STATUS_OF_CHARGE: Record<string, CheckoutStatusName> = {
  AuthorizationInitiated: 'AuthorizationPending',
  Authorized: 'Authorized',
  CaptureInitiated: 'CapturePending',
  Captured: 'Captured',
  Canceled: 'Canceled',
  Declined: 'Declined',
};

/**
 * The single owner of one checkout: its state, the forward-only transitions applied to it, and
 * what one run needs besides (the message serialization and the last published attributes).
 */
export class CheckoutOwner {
  readonly sid: string;
  /** The durable part, handed to the next run by continueAsNew. */
  readonly s: CheckoutState;
  /** Bumped by every message that may change what the main loop waits for. */
  version = 0;
  /** The refund window, an authorization's expiry: one timer each, however often a message wakes the loop. */
  readonly deadlines = new Deadlines();
  /**
   * Temporal runs update handlers and the main loop interleaved: every await (an activity) lets
   * another one run. Whatever reads the state, calls Amazon and writes the result holds this lock,
   * so those steps never interleave. Promise-based (no timers), hence deterministic in the sandbox.
   */
  private readonly lock = new Mutex();
  /** The first complete's answer, shared by every later complete. */
  completing: Promise<CompletionOutcome> | undefined;
  /** The first review's read of the session, settled (it may fail); whether it saw the session Open. */
  reviewing: Promise<boolean> | undefined;
  private published = '';
  /** Merchant events: recorded in the state at each transition, delivered by this workflow. */
  readonly outbox: EventOutbox;
  /** OperatorAttention is set on this execution (carried over by continueAsNew with the state). */
  private attentionPublished: boolean;

  constructor(readonly input: CheckoutWorkflowInput) {
    this.sid = input.checkoutSessionId;
    this.s = initialState(input);
    this.outbox = new EventOutbox(checkoutWorkflowId(this.sid), (this.s.outbox ??= emptyOutbox()));
    this.attentionPublished = !!this.s.attention;
    const started = attributesAtStart();
    if (started && patched(START_ATTRIBUTES_KEPT)) this.published = started;
  }

  /** An exclusive section (an update, or a loop step that reads or changes the order) is running. */
  get busy(): boolean {
    return this.lock.isLocked();
  }

  /** Runs fn under the lock, in arrival order. Not reentrant: never call it from inside fn. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.runExclusive(async () => {
      try {
        return await fn();
      } finally {
        this.version++;
      }
    });
  }

  status(): CheckoutStatus {
    const s = this.s;
    return {
      checkoutSessionId: this.sid,
      status: this.shownStatus(),
      merchantReferenceId: s.merchantReferenceId,
      paymentIntent: (s.finalAmount?.paymentIntent ?? null) as PaymentIntent | null,
      chargeAmount: s.finalAmount?.chargeAmount ?? null,
      chargePermissionId: s.chargePermissionId,
      charge: s.charge,
      refunds: s.refunds,
      deadlines: {
        checkoutExpiresAt: s.checkoutExpiresAt,
        authorizationExpiresAt: s.charge?.state === 'Authorized' ? s.charge.expiresAt : null,
      },
      lastReasonCode: s.lastReasonCode,
      completion: s.completion,
      attention: this.attention(),
      final: s.final,
      subscriptionId: s.subscriptionId ?? null,
      updatedAt: s.updatedAt,
    };
  }

  /** What callers and operators see: Closing while a close answered at once is being finished. */
  shownStatus(): CheckoutStatusName {
    const s = this.s;
    return s.closeRequested && !s.final ? 'Closing' : s.status;
  }

  /**
   * What needs an operator, while the order is not final: a step that cannot succeed on its own,
   * else an Amazon Pay call given up without an answer (resolution.ts clears it).
   */
  attention(): CheckoutStatus['attention'] {
    return this.s.final ? null : (this.s.attention ?? unresolvedAttention(this.s));
  }

  /**
   * A step that cannot succeed on its own: operators find the checkout by the OperatorAttention
   * search attribute and read `attention` in its status. The one place that decides it, so a
   * merchant event (operator.attention_required) can be emitted from here.
   */
  needsOperator(reason: string): void {
    if (this.s.attention?.reason === reason) return;
    this.s.attention = { reason, since: nowIso() };
    log.error('checkout needs an operator', { checkoutSessionId: this.sid, reason });
    this.publish();
  }

  /** The step that needed an operator succeeded. */
  attentionResolved(): void {
    if (!this.s.attention) return;
    log.info('checkout no longer needs an operator', { checkoutSessionId: this.sid, reason: this.s.attention.reason });
    this.s.attention = null;
    this.publish();
  }

  publish(): void {
    const s = this.s;
    s.updatedAt = nowIso();
    const status = this.shownStatus();
    const attention = this.attention()?.reason ?? null;
    const attributes = attributesKey(
      status,
      this.sid,
      s.merchantReferenceId,
      s.chargePermissionId,
      s.charge?.chargeId,
      attention,
    );
    // Each upsert is a history event: only when something operators search by changed.
    if (attributes !== this.published) {
      this.published = attributes;
      // Only ever touched once set: histories without attention upsert exactly what they did before.
      const attentionPair = attention || this.attentionPublished ? [{ key: OperatorAttention, value: attention }] : [];
      this.attentionPublished = !!attention;
      upsertSearchAttributes([
        { key: CheckoutStatusKey, value: status },
        { key: AmazonCheckoutSessionId, value: this.sid },
        ...(s.merchantReferenceId ? [{ key: MerchantReferenceId, value: s.merchantReferenceId }] : []),
        ...(s.chargePermissionId ? [{ key: AmazonChargePermissionId, value: s.chargePermissionId }] : []),
        ...(s.charge ? [{ key: AmazonChargeId, value: s.charge.chargeId }] : []),
        ...attentionPair,
      ]);
    }
    const amount = s.finalAmount
      ? ` ${s.finalAmount.chargeAmount.amount} ${s.finalAmount.chargeAmount.currencyCode} ${s.finalAmount.paymentIntent}`
      : '';
    const charge = s.charge ? `, charge ${s.charge.chargeId} ${s.charge.state}` : '';
    const refunds = s.refunds.length ? `, ${s.refunds.length} refund(s)` : '';
    const reason = s.lastReasonCode ? ` (${s.lastReasonCode})` : '';
    const warning =
      s.expiryWarned && s.charge?.state === 'Authorized'
        ? `\n\nWarning: authorization expires unused at ${s.charge.expiresAt}: capture or cancel it`
        : '';
    const operator = attention ? `\n\nNeeds an operator: ${attention}` : '';
    setCurrentDetails(`**${status}**${reason}${amount}${charge}${refunds}${warning}${operator}`);
    this.emitEvents(status);
  }

  /** Every change is published: what changed since the last one becomes merchant events. */
  private emitEvents(status: CheckoutStatusName): void {
    const s = this.s;
    const next = observe(s, status);
    for (const e of checkoutEvents(s.observed ?? NOTHING_OBSERVED, next, s))
      this.outbox.emit(e.type, checkoutEventData(s, status, e.data));
    s.observed = next;
  }

  setStatus(next: CheckoutStatusName, reasonCode?: string | null): void {
    const s = this.s;
    if (s.final) return;
    if (reasonCode) s.lastReasonCode = reasonCode;
    if (next !== s.status) log.info('checkout status', { checkoutSessionId: this.sid, from: s.status, to: next });
    s.status = next;
    if (FINAL_STATUSES.includes(next) && next !== 'Canceled' && next !== 'Declined') s.final = true;
    this.publish();
  }

  /** Forward-only: a late or duplicate answer can never roll a charge back. */
  applyCharge(next: ChargeSummary): void {
    const s = this.s;
    const cur = s.charge;
    if (cur && cur.chargeId !== next.chargeId) return;
    if (cur && next.state !== cur.state) {
      const regress = (CHARGE_RANK[next.state] ?? 0) <= (CHARGE_RANK[cur.state] ?? 0) || cur.state === 'Captured';
      if (regress) {
        log.warn('ignored backward charge transition', { chargeId: next.chargeId, from: cur.state, to: next.state });
        return;
      }
    }
    if (cur?.state !== next.state) {
      s.pendingSince = next.state.endsWith('Initiated') ? nowIso() : null;
      s.pendingPolls = 0;
    }
    if (next.state === 'Captured' && !s.capturedAt) s.capturedAt = nowIso();
    // Amazon states when an authorization expires; should an answer lack it, count Amazon's 30
    // days from when we first saw it authorized, fixed once, so the deadline cannot drift.
    const expiresAt =
      next.expiresAt ??
      cur?.expiresAt ??
      (next.state === 'Authorized' ? new Date(Date.now() + AUTHORIZATION_LIFETIME_MS).toISOString() : null);
    // The summary's fields only: a Get Charge answer also names its charge permission (ChargeView),
    // which the status does not show.
    const { chargeId, state, reasonCode, chargeAmount, capturedAmount, refundedAmount } = next;
    s.charge = { chargeId, state, reasonCode, chargeAmount, capturedAmount, refundedAmount, expiresAt };
    const mapped = STATUS_OF_CHARGE[next.state];
    if (mapped && !s.final) this.setStatus(mapped, next.reasonCode);
    this.publish();
    this.version++;
  }

  /** A refund Amazon created for our charge (answered to us, or learned from its IPN), once. */
  recordRefund(view: RefundView): RefundSummary {
    const s = this.s;
    let r = s.refunds.find((x) => x.refundId === view.refundId);
    if (!r) {
      r = {
        number: s.refunds.length + 1,
        refundId: view.refundId,
        state: 'RefundInitiated',
        reasonCode: null,
        amount: view.amount,
      };
      s.refunds.push(r);
    }
    this.applyRefund(view);
    this.publish();
    return r;
  }

  applyRefund(view: RefundView): RefundSummary | undefined {
    const s = this.s;
    const r = s.refunds.find((x) => x.refundId === view.refundId);
    if (!r) return undefined;
    if (refundAdvances(r.state, view.state)) {
      r.state = view.state;
      r.reasonCode = view.reasonCode;
      if (view.state === 'Declined') s.lastReasonCode = view.reasonCode ?? 'RefundDeclined';
      s.refundPolls = 0;
      this.publish();
      this.version++;
    }
    return r;
  }

  async refreshCharge(): Promise<void> {
    if (this.s.charge) this.applyCharge(await reads.getCharge(this.s.charge.chargeId));
  }

  /** Queues an IPN for the main loop, once per messageId/notificationId. */
  receive(n: AmazonPayNotification): void {
    const s = this.s;
    if (s.seenNotifications.includes(n.messageId) || s.seenNotifications.includes(n.notificationId)) return;
    s.seenNotifications.push(n.messageId, n.notificationId);
    s.seenNotifications = s.seenNotifications.slice(-SEEN_NOTIFICATIONS_KEPT);
    s.inbox.push(n);
    this.version++;
  }

  /**
   * Amazon failures in the main loop never fail the workflow: the order and its ids stay
   * recorded and queryable, and the step is tried again after a backoff. A step that cannot
   * succeed on its own goes to an operator (needsOperator) and is then retried only when something
   * changes (an IPN, a request) or after a day, so it never spins.
   */
  async guarded<T>(fn: () => Promise<T>, opts: { yieldWhen?: () => boolean } = {}): Promise<T | false> {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await fn();
        if (this.s.stepFailures) {
          this.s.stepFailures = 0;
          this.attentionResolved();
        }
        return result;
      } catch (err) {
        if (!(err instanceof ActivityFailure) && !(err instanceof ApplicationFailure)) throw err;
        this.s.lastReasonCode = reasonOf(err) ?? this.s.lastReasonCode;
        log.error('checkout step failed; retrying', {
          checkoutSessionId: this.sid,
          error: err.message,
          reasonCode: reasonOf(err),
        });
        // Counted in the state: a run that continues as new meanwhile keeps the count.
        const failures = (this.s.stepFailures = (this.s.stepFailures ?? 0) + 1);
        // Refused, or answered so that the same call cannot do better (an unreadable body): stuck.
        const stuck =
          err instanceof ActivityFailure ? err.retryState === RetryState.NON_RETRYABLE_FAILURE : err.nonRetryable;
        if (failures >= (stuck ? ATTENTION_AFTER_REFUSALS : ATTENTION_AFTER_FAILURES)) {
          const what = err instanceof ActivityFailure ? err.activityType : 'checkout step';
          this.needsOperator(`${what}: ${(stuck && reasonOf(err)) || 'no answer'}`);
        }
        this.publish();
        // Days of failures grow the history: let the caller continue as new, then try again there.
        if (opts.yieldWhen?.()) return false;
        const seen = this.version;
        const waiting = !!this.s.attention;
        await condition(() => this.s.final || (waiting && this.version !== seen), waiting ? DAY : pollDelay(attempt));
        if (this.s.final) return false;
      }
    }
  }
}

/**
 * The first given-up call recorded as searchable (unanswered.ts: a call given up before that
 * patch never set OperatorAttention, and its replay must not start to).
 */
function unresolvedAttention(s: CheckoutState): CheckoutStatus['attention'] {
  const call = s.unresolvedCalls?.find((c) => c.searchable);
  return call ? { reason: `UnresolvedAmazonPayCall: ${call.operation}`, since: call.gaveUpAt } : null;
}

const attributesKey = (...values: (string | null | undefined)[]): string => values.map((v) => v ?? '').join('|');

/** What this run was started with, as publish() keys it; '' when it was not started with a status. */
function attributesAtStart(): string {
  const sa = workflowInfo().typedSearchAttributes;
  const status = sa.get(CheckoutStatusKey);
  if (!status) return '';
  return attributesKey(
    status,
    sa.get(AmazonCheckoutSessionId),
    sa.get(MerchantReferenceId),
    sa.get(AmazonChargePermissionId),
    sa.get(AmazonChargeId),
    sa.get(OperatorAttention),
  );
}
