/**
 * One workflow per Amazon Pay checkout session (`checkoutWorkflowId`). It owns every step, so double
 * clicks, refreshes, IPNs and operator actions are serialized messages to one owner:
 * review -> setFinalAmount (Update Checkout Session, then the redirect URL) -> complete (once,
 * memoized) -> authorization / capture / cancel / refunds -> close. Amazon's deadlines are timers
 * (24 h session, 24 h pending authorization, 30-day authorization, refund window), each confirmed
 * by a GET. IPNs are hints: the object is read back and only forward transitions are applied.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  cancelUpdate,
  captureUpdate,
  closeUpdate,
  completeUpdate,
  refundUpdate,
  reviewUpdate,
  setFinalAmountUpdate,
  statusQuery,
  type ChargeSummary,
  type CheckoutInput,
  type CheckoutStatus,
  type CheckoutStatusName,
  type CompletionOutcome,
  type FinalAmountInput,
  type PaymentIntent,
  type RefundSummary,
} from './checkout-messages';
import { amazonPayNotificationSignal, type AmazonPayNotification } from './notification-messages';
import {
  AmazonChargeId,
  AmazonChargePermissionId,
  AmazonCheckoutSessionId,
  CheckoutStatus as CheckoutStatusKey,
  MerchantReferenceId,
} from './search-attributes';
import { fromMinor, refundLimitMinor, samePrice, toMinor } from './checkout/money';
import type { CheckoutSessionView, RefundView } from './checkout/views';

/*
 * Defaults, documented here because they are business decisions:
 * - the order stays open for refunds REFUND_WINDOW_DAYS after capture (a OneTime charge permission
 *   lives 180 days), then the workflow closes the charge permission and ends;
 * - an unused authorization is warned about AUTH_EXPIRY_WARNING_MS before Amazon cancels it
 *   (30 days after authorization, Canceled/ExpiredUnused);
 * - pending objects (AuthorizationInitiated, CaptureInitiated, RefundInitiated) are polled as a
 *   fallback to IPNs: 30 s, 1 m, 2 m ... capped at 1 h; a pending authorization is given 24 h plus
 *   a margin, then canceled so no orphan authorization can remain.
 */
const REFUND_WINDOW_DAYS = 180;
const DAY = 24 * 60 * 60 * 1000;
const AUTH_EXPIRY_WARNING_MS = 2 * DAY;
const PENDING_AUTHORIZATION_LIMIT_MS = DAY + 60 * 60 * 1000;
const POLL_INITIAL_MS = 30_000;
const POLL_MAX_MS = 60 * 60 * 1000;
const DEADLINE_GRACE_CHECKS = 6;
const HISTORY_LIMIT = 5_000;
const SEEN_NOTIFICATIONS_KEPT = 200;

/** Amazon's business answers: never retried by Temporal, handled by name in the workflow. */
const BUSINESS_REASON_CODES = [
  'AmountMismatch',
  'CheckoutSessionCanceled',
  'InvalidCheckoutSessionStatus',
  'InvalidChargePermissionStatus',
  'InvalidChargeStatus',
  'ChargePermissionNotModifiable',
  'TransactionAmountExceeded',
  'TransactionCountExceeded',
  'CurrencyMismatch',
  'SoftDeclined',
  'HardDeclined',
  'AmazonRejected',
  'PaymentMethodNotAllowed',
  'MFANotCompleted',
  'TransactionTimedOut',
  'ResourceNotFound',
  'DuplicateIdempotencyKey',
  'InvalidParameterValue',
  'InvalidParameterCombination',
  'MissingParameterValue',
  'UnrecognizedField',
  'InvalidIdempotencyKey',
  'UnauthorizedAccess',
  'InvalidAccountStatus',
  'InvalidRequestSignature',
];
const retry = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  nonRetryableErrorTypes: BUSINESS_REASON_CODES,
};
const base: ActivityOptions = { startToCloseTimeout: '30s', heartbeatTimeout: '5s' };
/** GETs are harmless to repeat: retry until they answer, within an hour. */
const reads = proxyActivities<Activities>({ ...base, scheduleToCloseTimeout: '1h', retry });
/** POSTs carry an idempotency key; bounded, after which the workflow GETs the object to learn the outcome. */
const writes = proxyActivities<Activities>({ ...base, retry: { ...retry, maximumAttempts: 10 } });
const bestEffort = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: { ...retry, maximumAttempts: 5 } });

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
  refunds: RefundSummary[];
  refundPolls: number;
  capturedAt: string | null;
  expiryWarned: boolean;
  lastReasonCode: string | null;
  notificationOwnerRegistered: boolean;
  seenNotifications: string[];
  inbox: AmazonPayNotification[];
  closeRequested: { reason: string } | null;
  final: boolean;
  updatedAt: string;
}

export interface CheckoutWorkflowInput extends CheckoutInput {
  /** Carried over by continueAsNew. */
  resume?: CheckoutState;
  /** Overrides REFUND_WINDOW_DAYS. */
  refundWindowDays?: number;
  /** Continue as new past this many history events (default HISTORY_LIMIT, or when the server suggests it). */
  historyLimit?: number;
}

const FINAL_STATUSES: CheckoutStatusName[] = ['Declined', 'BuyerCanceled', 'Expired', 'Canceled', 'Closed', 'Confirmed'];
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

const nowIso = () => new Date().toISOString();
const msUntil = (iso: string) => Date.parse(iso) - Date.now();
const pollDelay = (polls: number) => Math.min(POLL_INITIAL_MS * 2 ** Math.min(polls, 20), POLL_MAX_MS);

/** Amazon's reasonCode carried by an activity failure, or null when Amazon never answered. */
function reasonOf(err: unknown): string | null {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) return err.cause.type ?? null;
  if (err instanceof ApplicationFailure) return err.type ?? null;
  return null;
}

/** Update handlers must fail with an ApplicationFailure; anything else would fail the workflow task. */
function asUpdateFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  const type = reasonOf(err) ?? 'AmazonPayUnavailable';
  const message = cause?.message ?? (err instanceof Error ? err.message : String(err));
  return ApplicationFailure.create({ type, message, nonRetryable: true, ...(cause ? { cause } : {}) });
}

const fail = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

export async function checkoutWorkflow(input: CheckoutWorkflowInput): Promise<CheckoutStatus> {
  const sid = input.checkoutSessionId;
  const refundWindowMs = (input.refundWindowDays ?? REFUND_WINDOW_DAYS) * DAY;
  const s: CheckoutState = input.resume ?? {
    checkoutSessionId: sid,
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
  };

  // Bumped by every message that may change what the main loop waits for.
  let version = 0;
  let busy = false;
  let completing: Promise<CompletionOutcome> | undefined;

  async function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    await condition(() => !busy);
    busy = true;
    try {
      return await fn();
    } finally {
      busy = false;
      version++;
    }
  }

  function status(): CheckoutStatus {
    return {
      checkoutSessionId: sid,
      status: s.status,
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
      final: s.final,
      updatedAt: s.updatedAt,
    };
  }

  let published = '';
  function publish(): void {
    s.updatedAt = nowIso();
    const attributes = [s.status, sid, s.merchantReferenceId, s.chargePermissionId, s.charge?.chargeId].join('|');
    // Each upsert is a history event: only when something operators search by changed.
    if (attributes !== published) {
      published = attributes;
      upsertSearchAttributes([
        { key: CheckoutStatusKey, value: s.status },
        { key: AmazonCheckoutSessionId, value: sid },
        ...(s.merchantReferenceId ? [{ key: MerchantReferenceId, value: s.merchantReferenceId }] : []),
        ...(s.chargePermissionId ? [{ key: AmazonChargePermissionId, value: s.chargePermissionId }] : []),
        ...(s.charge ? [{ key: AmazonChargeId, value: s.charge.chargeId }] : []),
      ]);
    }
    const amount = s.finalAmount ? ` ${s.finalAmount.chargeAmount.amount} ${s.finalAmount.chargeAmount.currencyCode} ${s.finalAmount.paymentIntent}` : '';
    const charge = s.charge ? `, charge ${s.charge.chargeId} ${s.charge.state}` : '';
    const refunds = s.refunds.length ? `, ${s.refunds.length} refund(s)` : '';
    const reason = s.lastReasonCode ? ` (${s.lastReasonCode})` : '';
    const warning =
      s.expiryWarned && s.charge?.state === 'Authorized' ? `\n\nWarning: authorization expires unused at ${s.charge.expiresAt}: capture or cancel it` : '';
    setCurrentDetails(`**${s.status}**${reason}${amount}${charge}${refunds}${warning}`);
  }

  function setStatus(next: CheckoutStatusName, reasonCode?: string | null): void {
    if (s.final) return;
    if (reasonCode) s.lastReasonCode = reasonCode;
    if (next !== s.status) log.info('checkout status', { checkoutSessionId: sid, from: s.status, to: next });
    s.status = next;
    if (FINAL_STATUSES.includes(next) && next !== 'Canceled' && next !== 'Declined') s.final = true;
    publish();
  }

  /** Forward-only: a late or duplicate answer can never roll a charge back. */
  function applyCharge(next: ChargeSummary): void {
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
    s.charge = next;
    const mapped = STATUS_OF_CHARGE[next.state];
    if (mapped && !s.final) setStatus(mapped, next.reasonCode);
    publish();
    version++;
  }

  function applyRefund(view: RefundView): RefundSummary | undefined {
    const r = s.refunds.find((x) => x.refundId === view.refundId);
    if (!r) return undefined;
    if (r.state === 'RefundInitiated' && view.state !== 'RefundInitiated') {
      r.state = view.state;
      r.reasonCode = view.reasonCode;
      if (view.state === 'Declined') s.lastReasonCode = view.reasonCode ?? 'RefundDeclined';
      s.refundPolls = 0;
      publish();
      version++;
    }
    return r;
  }

  async function refreshCharge(): Promise<void> {
    if (s.charge) applyCharge(await reads.getCharge(s.charge.chargeId));
  }

  // ---------------------------------------------------------------- completion

  function outcomeOf(session: CheckoutSessionView): CompletionOutcome | null {
    if (session.state === 'Canceled') {
      const code = session.reasonCode;
      const st = code === 'Declined' || code === 'BuyerCanceled' || code === 'Expired' ? code : 'Canceled';
      return {
        completed: false,
        status: st,
        reasonCode: code,
        message: session.reasonDescription ?? `Checkout session canceled by Amazon Pay (${code ?? 'no reason given'})`,
      };
    }
    return null;
  }

  /** Records the session's final state (Completed or Canceled). Returns null while it is still Open. */
  async function settle(session: CheckoutSessionView): Promise<CompletionOutcome | null> {
    if (session.expiresAt) s.checkoutExpiresAt = session.expiresAt;
    const notCompleted = outcomeOf(session);
    if (notCompleted) {
      s.completion = notCompleted;
      if (!notCompleted.completed) setStatus(notCompleted.status, notCompleted.reasonCode);
      s.final = true;
      publish();
      return notCompleted;
    }
    if (session.state !== 'Completed' || !session.chargePermissionId) return null;
    s.chargePermissionId = session.chargePermissionId;
    publish(); // the ids are visible before anything else can go wrong
    if (session.chargeId) {
      s.charge = null;
      applyCharge(await reads.getCharge(session.chargeId));
    } else {
      setStatus('Confirmed');
    }
    s.completion = {
      completed: true,
      chargePermissionId: session.chargePermissionId,
      chargeId: session.chargeId,
      chargeState: s.charge?.state ?? null,
      status: s.status,
    };
    version++;
    return s.completion;
  }

  async function completeOnce(): Promise<CompletionOutcome> {
    if (s.completion) return s.completion;
    const amount = s.finalAmount;
    if (!amount) throw fail('ChargeAmountNotSet', 'setFinalAmount must be called before complete');
    setStatus('Completing');
    let lastCode: string | null = null;
    let session: CheckoutSessionView | undefined;
    for (let tries = 0; tries < 3 && !session; tries++) {
      s.completeAttempts++;
      try {
        session = await writes.completeCheckoutSession({
          checkoutSessionId: sid,
          chargeAmount: amount.chargeAmount,
          ...(amount.totalOrderAmount ? { totalOrderAmount: amount.totalOrderAmount } : {}),
          operationId: `checkout/${sid}/complete/${s.completeAttempts}`,
        });
      } catch (err) {
        lastCode = reasonOf(err);
        if (lastCode === 'AmountMismatch' && tries < 2) {
          // The session's amount was changed behind our back: restore ours, then complete again.
          log.warn('AmountMismatch on complete: re-updating the checkout session', { checkoutSessionId: sid });
          try {
            const updated = await writes.updateCheckoutSession(sid, amount);
            if (updated.state !== 'Open') session = updated;
            continue;
          } catch (updateErr) {
            // Amazon refuses the update once the buyer approved the other amount: report it below.
            log.warn('checkout session could not be re-updated', { checkoutSessionId: sid, reasonCode: reasonOf(updateErr) });
          }
        }
        // 422 InvalidCheckoutSessionStatus, CheckoutSessionCanceled, or no answer at all: the
        // session's real state decides. Never cancel on an error: the buyer may have paid.
        session = await reads.getCheckoutSession(sid);
      }
    }
    const outcome = session ? await settle(session) : null;
    if (outcome) return outcome;
    setStatus('AwaitingCompletion', lastCode);
    if (lastCode === 'AmountMismatch') {
      const atAmazon = session?.chargeAmount ? `${session.chargeAmount.amount} ${session.chargeAmount.currencyCode}` : 'unknown';
      throw fail(
        'AmountMismatch',
        `The buyer approved ${atAmazon} at Amazon Pay, but this order is for ${amount.chargeAmount.amount} ${amount.chargeAmount.currencyCode}; ` +
          'nothing was charged: send the buyer through checkout again',
      );
    }
    throw fail(lastCode ?? 'CheckoutSessionOpen', 'The checkout session is still Open: the buyer has not finished at Amazon Pay yet');
  }

  // ---------------------------------------------------------------- handlers

  setHandler(statusQuery, status);

  setHandler(amazonPayNotificationSignal, (n) => {
    if (s.seenNotifications.includes(n.messageId) || s.seenNotifications.includes(n.notificationId)) return;
    s.seenNotifications.push(n.messageId, n.notificationId);
    s.seenNotifications = s.seenNotifications.slice(-SEEN_NOTIFICATIONS_KEPT);
    s.inbox.push(n);
    version++;
  });

  setHandler(reviewUpdate, async () => {
    try {
      const review = await reads.getCheckoutReview(sid);
      if (review.expiresAt) s.checkoutExpiresAt = review.expiresAt;
      return review;
    } catch (err) {
      throw asUpdateFailure(err);
    }
  });

  setHandler(
    setFinalAmountUpdate,
    (amount) =>
      exclusive(async () => {
        if (s.completion || completing || s.final) throw fail('InvalidCheckoutSessionStatus', 'The checkout was already completed or ended');
        let session: CheckoutSessionView;
        try {
          session = await writes.updateCheckoutSession(sid, amount);
        } catch (err) {
          throw asUpdateFailure(err);
        }
        if (session.expiresAt) s.checkoutExpiresAt = session.expiresAt;
        if (session.state !== 'Open') {
          await settle(session);
          throw fail('InvalidCheckoutSessionStatus', `The checkout session is ${session.state}`);
        }
        if (!samePrice(session.chargeAmount, amount.chargeAmount) || !session.amazonPayRedirectUrl) {
          throw fail('CheckoutSessionNotReady', 'Amazon Pay did not accept the amount or has no redirect URL yet (has the buyer signed in?)');
        }
        s.finalAmount = amount;
        s.merchantReferenceId = amount.merchantReferenceId;
        setStatus('AwaitingCompletion');
        return { amazonPayRedirectUrl: session.amazonPayRedirectUrl };
      }),
    {
      validator: (amount) => {
        if (s.completion || completing || s.final) throw new Error('The checkout was already completed or ended');
        toMinor(amount.chargeAmount);
        if (amount.totalOrderAmount) toMinor(amount.totalOrderAmount);
      },
    },
  );

  setHandler(
    completeUpdate,
    async () => {
      // Every complete (double click, refresh, retry, concurrent) shares the first one's answer.
      completing ??= exclusive(completeOnce);
      try {
        return await completing;
      } catch (err) {
        completing = undefined;
        throw asUpdateFailure(err);
      }
    },
    {
      validator: () => {
        if (!s.completion && !completing && !s.finalAmount) throw new Error('Set the final amount (setFinalAmount) before complete');
      },
    },
  );

  setHandler(
    captureUpdate,
    (req) =>
      exclusive(async () => {
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
          applyCharge(
            await writes.captureCharge({
              chargeId: charge.chargeId,
              captureAmount: amount,
              ...(req.softDescriptor ? { softDescriptor: req.softDescriptor } : {}),
              operationId: `checkout/${sid}/capture/${s.captures}`,
            }),
          );
        } catch (err) {
          // A declined capture changes the charge; an unanswered one may have happened: GET decides.
          await refreshCharge();
          if (s.charge?.state === 'Authorized') throw asUpdateFailure(err);
        }
        return s.charge!;
      }),
    {
      validator: (req) => {
        if (s.charge?.state !== 'Authorized' || s.closeRequested || s.final) throw new Error(`Nothing to capture: the charge is ${s.charge?.state ?? 'missing'}`);
        if (req.amount) toMinor(req.amount);
      },
    },
  );

  setHandler(
    cancelUpdate,
    (req) =>
      exclusive(async () => {
        const charge = s.charge;
        if (!charge || (charge.state !== 'Authorized' && charge.state !== 'AuthorizationInitiated')) {
          throw fail('InvalidChargeStatus', `Nothing to cancel: the charge is ${charge?.state ?? 'missing'}`);
        }
        try {
          applyCharge(await writes.cancelCharge({ chargeId: charge.chargeId, cancellationReason: req.reason ?? 'Canceled by merchant' }));
        } catch (err) {
          await refreshCharge();
          if (s.charge?.state !== 'Canceled') throw asUpdateFailure(err);
        }
        return s.charge!;
      }),
    {
      validator: (_req) => {
        const st = s.charge?.state;
        if (st !== 'Authorized' && st !== 'AuthorizationInitiated') throw new Error(`Nothing to cancel: the charge is ${st ?? 'missing'}`);
      },
    },
  );

  function checkRefundable(amount: { amount: string; currencyCode: string }): void {
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

  setHandler(
    refundUpdate,
    (req) =>
      exclusive(async () => {
        checkRefundable(req.amount);
        const number = s.refunds.length + 1;
        let view: RefundView;
        try {
          view = await writes.createRefund({
            chargeId: s.charge!.chargeId,
            refundAmount: req.amount,
            ...(req.softDescriptor ? { softDescriptor: req.softDescriptor } : {}),
            operationId: `checkout/${sid}/refund/${number}`,
          });
        } catch (err) {
          throw asUpdateFailure(err);
        }
        const refund: RefundSummary = { number, refundId: view.refundId, state: 'RefundInitiated', reasonCode: null, amount: req.amount };
        s.refunds.push(refund);
        applyRefund(view);
        publish();
        return refund;
      }),
    { validator: (req) => checkRefundable(req.amount) },
  );

  setHandler(
    closeUpdate,
    async (req) => {
      s.closeRequested ??= { reason: req.reason ?? 'Order complete' };
      version++;
      await condition(() => s.final);
      return status();
    },
    {
      validator: (_req) => {
        if (!s.completion?.completed && !s.final) throw new Error('Nothing to close before the checkout is completed');
      },
    },
  );

  // ---------------------------------------------------------------- main

  publish();
  try {
    if (!s.completion) await awaitCompletion();
    if (s.completion?.completed) await ownOrder();
  } finally {
    // Not on continueAsNew: the next run keeps owning the notifications.
    if (s.final && s.notificationOwnerRegistered) await releaseNotifications();
  }
  await condition(allHandlersFinished);
  return status();

  async function awaitCompletion(): Promise<void> {
    if (!s.checkoutExpiresAt) {
      try {
        const session = await reads.getCheckoutSession(sid);
        if (await settle(session)) return;
      } catch (err) {
        if (reasonOf(err) === 'ResourceNotFound') {
          s.completion = { completed: false, status: 'Canceled', reasonCode: 'ResourceNotFound', message: 'Amazon Pay does not know this checkout session' };
          setStatus('Canceled', 'ResourceNotFound');
          s.final = true;
          return;
        }
        log.error('could not read the checkout session; timing 24 h from now', { checkoutSessionId: sid, error: String(err) });
      }
      s.checkoutExpiresAt ??= new Date(Date.now() + DAY).toISOString();
      publish();
    }
    let graceChecks = 0;
    while (!s.completion) {
      // Amazon's own deadline, never shortened: the buyer has the full 24 hours.
      const left = msUntil(s.checkoutExpiresAt!);
      if (left > 0 && (await condition(() => s.completion !== null, left))) break;
      if (completing) {
        await condition(() => !busy && (s.completion !== null || completing === undefined));
        continue;
      }
      const outcome = await guarded(async () => {
        const session = await reads.getCheckoutSession(sid);
        return (await settle(session)) ?? false;
      });
      if (outcome || s.completion) break;
      if (++graceChecks > DEADLINE_GRACE_CHECKS) {
        // Past the deadline by an hour and Amazon still says Open: we will never complete it, so
        // Amazon cancels it (and any authorization it made) by itself.
        s.completion = { completed: false, status: 'Expired', reasonCode: 'Expired', message: 'The buyer did not complete the checkout within 24 hours' };
        setStatus('Expired', 'Expired');
        s.final = true;
        break;
      }
      s.checkoutExpiresAt = new Date(Date.now() + 10 * 60 * 1000).toISOString();
    }
    // A complete that was in flight when the session expired answers from the state recorded above.
    await condition(() => !busy);
  }

  async function ownOrder(): Promise<void> {
    if (s.final) return; // intent Confirm: the charge permission stays Chargeable for later charges
    await registerNotifications();
    while (!s.final) {
      await guarded(step);
      const longHistory = workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > (input.historyLimit ?? HISTORY_LIMIT);
      if (longHistory && !s.final && !s.closeRequested) {
        // A close handler waits for this loop to finish the order: it must not wait for the close.
        await condition(() => (allHandlersFinished() && !busy) || s.closeRequested !== null);
        if (!s.closeRequested) await continueAsNew<typeof checkoutWorkflow>({ ...input, resume: s });
      }
    }
  }

  /** One turn of the post-completion loop: react to notifications, requests and deadlines. */
  async function step(): Promise<void> {
    await processInbox();
    const seen = version;
    const changed = () => version !== seen || s.inbox.length > 0;
    const charge = s.charge;

    if (!charge) {
      // Intent Confirm: the charge permission stays Chargeable for a later charge; nothing to wait for.
      setStatus('Confirmed');
      return;
    }
    const pendingRefund = s.refunds.find((r) => r.state === 'RefundInitiated');
    const pendingCharge = charge.state === 'AuthorizationInitiated' || charge.state === 'CaptureInitiated';

    if (s.closeRequested && !pendingRefund && charge.state !== 'CaptureInitiated') {
      await exclusive(() => closeOrder(s.closeRequested!.reason));
      return;
    }
    if (pendingCharge) {
      if (await condition(changed, pollDelay(s.pendingPolls))) return;
      s.pendingPolls++;
      await refreshCharge();
      const since = s.pendingSince ? Date.parse(s.pendingSince) : Date.now();
      if (s.charge?.state === 'AuthorizationInitiated' && Date.now() - since > PENDING_AUTHORIZATION_LIMIT_MS) {
        log.error('authorization still pending after 24 h: canceling it', { chargeId: charge.chargeId });
        await exclusive(async () => {
          applyCharge(await writes.cancelCharge({ chargeId: charge.chargeId, cancellationReason: 'Authorization pending too long' }));
        });
      }
      return;
    }
    if (pendingRefund) {
      if (await condition(changed, pollDelay(s.refundPolls))) return;
      s.refundPolls++;
      applyRefund(await reads.getRefund(pendingRefund.refundId));
      return;
    }
    switch (charge.state) {
      case 'Authorized':
        return awaitCaptureOrExpiry(charge, changed);
      case 'Captured': {
        const windowEnds = Date.parse(s.capturedAt ?? s.updatedAt) + refundWindowMs;
        if (await condition(changed, Math.max(windowEnds - Date.now(), 1))) return;
        s.closeRequested ??= { reason: 'Refund window ended' };
        return;
      }
      default:
        // Declined or Canceled: nothing can happen any more; release the charge permission.
        await exclusive(() => closeOrder('Payment ' + charge.state.toLowerCase(), charge.state as CheckoutStatusName));
    }
  }

  async function awaitCaptureOrExpiry(charge: ChargeSummary, changed: () => boolean): Promise<void> {
    const expiresAt = charge.expiresAt ? Date.parse(charge.expiresAt) : Date.parse(s.updatedAt) + 30 * DAY;
    if (!s.expiryWarned) {
      const warnIn = expiresAt - AUTH_EXPIRY_WARNING_MS - Date.now();
      if (warnIn > 0 && (await condition(changed, warnIn))) return;
      s.expiryWarned = true;
      log.warn('authorization expires soon and is not captured', { chargeId: charge.chargeId, expiresAt: charge.expiresAt });
      upsertMemo({ authorizationExpiryWarning: { chargeId: charge.chargeId, expiresAt: charge.expiresAt, warnedAt: nowIso() } });
      publish();
      return;
    }
    const left = expiresAt - Date.now();
    const wait = left > 0 ? left : pollDelay(s.pendingPolls++);
    if (await condition(changed, wait)) return;
    // Amazon cancels it (Canceled/ExpiredUnused); the GET confirms rather than assumes.
    await refreshCharge();
  }

  async function closeOrder(reason: string, finalStatus: CheckoutStatusName = 'Closed'): Promise<void> {
    const cpId = s.chargePermissionId!;
    const live = s.charge && (s.charge.state === 'Authorized' || s.charge.state === 'AuthorizationInitiated');
    try {
      await writes.closeChargePermission({ chargePermissionId: cpId, closureReason: reason.slice(0, 255), cancelPendingCharges: !!live });
    } catch (err) {
      // Amazon closes a OneTime charge permission by itself once the order is fully captured.
      if (reasonOf(err) !== 'InvalidChargePermissionStatus') throw err;
      const cp = await reads.getChargePermission(cpId);
      if (cp.state !== 'Closed' && !live) log.warn('charge permission could not be closed', { chargePermissionId: cpId, state: cp.state });
    }
    if (live) await refreshCharge();
    if (finalStatus === 'Closed') setStatus('Closed');
    s.final = true;
    publish();
  }

  async function processInbox(): Promise<void> {
    while (s.inbox.length > 0) {
      const n = s.inbox[0]!;
      // IPNs carry no state: GET the object, apply only forward transitions.
      if (n.objectType === 'CHARGE' && s.charge?.chargeId === n.objectId) {
        await refreshCharge();
      } else if (n.objectType === 'REFUND' && s.refunds.some((r) => r.refundId === n.objectId)) {
        applyRefund(await reads.getRefund(n.objectId));
      } else if (n.objectType === 'CHARGE_PERMISSION' && n.objectId === s.chargePermissionId) {
        const cp = await reads.getChargePermission(n.objectId);
        log.info('charge permission notification', { chargePermissionId: cp.chargePermissionId, state: cp.state, reasons: cp.reasonCodes });
      } else if (n.objectType === 'CHARGEBACK') {
        log.warn('chargeback filed', { chargePermissionId: n.chargePermissionId, objectId: n.objectId });
        s.lastReasonCode = 'Chargeback';
        upsertMemo({ chargeback: { objectId: n.objectId, receivedAt: n.receivedAt } });
        publish();
      } else {
        log.info('notification for an object this checkout does not track', { objectType: n.objectType, objectId: n.objectId });
      }
      s.inbox.shift();
    }
  }

  async function registerNotifications(): Promise<void> {
    try {
      await bestEffort.registerNotificationOwner({ chargePermissionId: s.chargePermissionId!, ownerWorkflowId: workflowInfo().workflowId });
      s.notificationOwnerRegistered = true;
    } catch (err) {
      // Polling is the fallback: losing IPNs only slows pending objects down.
      log.warn('could not register for notifications; relying on polling', { error: String(err) });
    }
  }

  async function releaseNotifications(): Promise<void> {
    try {
      await bestEffort.notificationOwnerClosed({ chargePermissionId: s.chargePermissionId!, ownerWorkflowId: workflowInfo().workflowId });
    } catch (err) {
      log.warn('could not release the notification inbox', { error: String(err) });
    }
  }

  /**
   * Amazon failures in the main loop never fail the workflow: the order and its ids stay
   * recorded and queryable, and the step is tried again after a backoff.
   */
  async function guarded<T>(fn: () => Promise<T>): Promise<T | false> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof ActivityFailure) && !(err instanceof ApplicationFailure)) throw err;
        s.lastReasonCode = reasonOf(err) ?? s.lastReasonCode;
        log.error('checkout step failed; retrying', { checkoutSessionId: sid, error: err.message, reasonCode: reasonOf(err) });
        publish();
        await condition(() => s.final, pollDelay(attempt));
        if (s.final) return false;
      }
    }
  }
}
