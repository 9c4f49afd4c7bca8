import { log, patched, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { Mutex } from 'async-mutex';
import { emptyOutbox, EventOutbox } from '../events/outbox';
import { Deadlines } from '../payments/deadlines';
import type { MerchantEventData, MerchantEventType } from '../events/messages';
import type { AmazonPayNotification } from '../notification-messages';
import {
  AmazonChargePermissionId,
  MerchantReferenceId,
  NextBillingAt,
  SubscriptionStatus as StatusKey,
} from '../search-attributes';
import {
  subscriptionWorkflowId,
  type BillingPlan,
  type CycleSummary,
  type SubscriptionStatus,
  type SubscriptionStatusName,
} from '../subscription-messages';
import { cycleAt, nextCycleIndex } from './calendar';
import { AMOUNT_CHANGE_NOTICE_DAYS } from './plan';
import { cyclesWithRefunds } from './refunds';
import {
  CYCLES_KEPT,
  DEFAULT_DUNNING,
  DEFAULT_NOTICE_DAYS,
  initialState,
  SEEN_NOTIFICATIONS_KEPT,
  START_ATTRIBUTES_KEPT,
  type SubscriptionState,
  type SubscriptionWorkflowInput,
} from './state';

const FINAL: SubscriptionStatusName[] = ['canceled', 'ended'];

/** The single owner of one subscription: its state, the lock its messages share, its events. */
export class SubscriptionOwner {
  readonly s: SubscriptionState;
  readonly id: string;
  readonly outbox: EventOutbox;
  /** Updates and the loop's Amazon steps run one at a time (Temporal's message-handler guidance). */
  readonly lock = new Mutex();
  /** Bumped by every message the loop may wait for. */
  version = 0;
  /** Billing dates, the grace period's end: one timer each, however often a message wakes the loop. */
  readonly deadlines = new Deadlines();

  constructor(readonly input: SubscriptionWorkflowInput) {
    this.s = initialState(input);
    this.id = subscriptionWorkflowId(input.chargePermissionId);
    this.outbox = new EventOutbox(this.id, (this.s.outbox ??= emptyOutbox()));
    // Started with its status and next billing time (startSubscription sets them): nothing to upsert.
    const sa = workflowInfo().typedSearchAttributes;
    const [status, next] = [sa.get(StatusKey), sa.get(NextBillingAt)];
    if (this.s.published === undefined && status && next && patched(START_ATTRIBUTES_KEPT))
      this.s.published = [status, next.toISOString()].join('|');
  }

  /**
   * The charge permission billed: the sign-up's, or since a re-checkout its (subscription/recheckout.ts).
   * The workflow id stays the sign-up's; the AmazonChargePermissionId search attribute follows this.
   */
  get chargePermissionId(): string {
    return this.s.chargePermission?.id ?? this.input.chargePermissionId;
  }

  /** The checkout session that made chargePermissionId. */
  get checkoutSessionId(): string {
    return this.s.chargePermission?.checkoutSessionId ?? this.input.checkoutSessionId;
  }

  get dunning() {
    return { ...DEFAULT_DUNNING, ...this.input.dunning };
  }

  get final(): boolean {
    return FINAL.includes(this.s.status);
  }

  /** The plan in force (changed plans apply from the next cycle on). */
  get plan(): BillingPlan {
    return this.s.plan ?? this.input.plan;
  }

  /** Where the calendar counts from: the sign-up, or the last change of frequency or billing date. */
  get schedule(): { anchor: string; firstCycle: number } {
    return this.s.schedule ?? { anchor: this.input.anchor, firstCycle: 0 };
  }

  /** When cycle n is due: never chained, always from the schedule's anchor. */
  cycleAt(n: number): string {
    const { anchor, firstCycle } = this.schedule;
    return cycleAt(anchor, this.plan, n - firstCycle, this.input.timeZone);
  }

  /** What cycle n charges: the plan's amount, or the previous one while a change waits for its notice. */
  amountFor(n: number): BillingPlan['amount'] {
    const change = this.s.amountChange;
    return change && n < change.fromCycle ? change.previous : this.plan.amount;
  }

  /**
   * Days before cycle n its renewal notice goes out: the merchant's setting (default 3), and at
   * least Amazon's 10 when the amount differs from the last cycle charged.
   */
  noticeDaysFor(n: number): number {
    const days = this.input.noticeDays ?? DEFAULT_NOTICE_DAYS;
    const last = this.s.cycles.filter((c) => c.state === 'Paid').at(-1)?.amount ?? this.input.plan.amount;
    const amount = this.amountFor(n);
    return amount.amount === last.amount ? days : Math.max(days, AMOUNT_CHANGE_NOTICE_DAYS);
  }

  /** The first cycle due after `at` (cycles before it are skipped, e.g. after a pause). */
  cycleAfter(at: string): number {
    const { anchor, firstCycle } = this.schedule;
    if (Date.parse(anchor) > Date.parse(at)) return firstCycle;
    return firstCycle + nextCycleIndex(anchor, this.plan, at, this.input.timeZone);
  }

  /** When the next charge is due: a dunning retry or deferral, else the next cycle from the anchor. */
  nextDueAt(): string | null {
    const s = this.s;
    if (this.final || s.pausedAt || s.awaitingBuyer || s.cancelNow || s.cancelAtPeriodEnd) return null;
    return s.retryAt ?? this.periodEnd();
  }

  /** The end of the period paid for: when the next cycle would begin. */
  periodEnd(): string {
    return this.cycleAt(this.s.nextCycle);
  }

  status(): SubscriptionStatus {
    const s = this.s;
    return {
      subscriptionId: this.id,
      chargePermissionId: this.chargePermissionId,
      checkoutSessionId: this.checkoutSessionId,
      merchantReferenceId: this.input.merchantReferenceId,
      status: s.status,
      plan: this.plan,
      timeZone: this.input.timeZone,
      anchor: this.schedule.anchor,
      anchorCycle: this.schedule.firstCycle,
      nextBillingAt: this.nextDueAt(),
      updatePaymentMethodUrl: s.awaitingBuyer ? s.updatePaymentMethodUrl : null,
      cancelAtPeriodEnd: s.cancelAtPeriodEnd,
      lastReasonCode: s.lastReasonCode,
      cycles: cyclesWithRefunds(this),
      endedReason: s.endedReason,
      updatedAt: s.updatedAt,
      previousChargePermissionIds: (s.recheckouts ?? []).map((r) => r.previousChargePermissionId),
    };
  }

  setStatus(next: SubscriptionStatusName, reasonCode?: string | null): void {
    if (this.final) return;
    if (reasonCode !== undefined) this.s.lastReasonCode = reasonCode;
    if (next !== this.s.status)
      log.info('subscription status', { subscriptionId: this.id, from: this.s.status, to: next });
    this.s.status = next;
    this.publish();
  }

  /** Search attributes and the Web UI's details; each upsert is a history event, so only on change. */
  publish(): void {
    const s = this.s;
    s.updatedAt = new Date().toISOString();
    const next = this.nextDueAt();
    const key = [s.status, next].join('|');
    // The key is carried by continue-as-new (the server carries the attributes themselves): a new
    // run upserts only what changed, not everything once more.
    if (key !== s.published) {
      s.published = key;
      upsertSearchAttributes([
        { key: StatusKey, value: s.status },
        { key: AmazonChargePermissionId, value: this.chargePermissionId },
        ...(this.input.merchantReferenceId
          ? [{ key: MerchantReferenceId, value: this.input.merchantReferenceId }]
          : []),
        // null removes it: nothing more will be charged (or not until the buyer acts).
        { key: NextBillingAt, value: next ? new Date(next) : null },
      ]);
    }
    const plan = this.plan;
    const reason = s.lastReasonCode ? ` (${s.lastReasonCode})` : '';
    setCurrentDetails(
      `**${s.status}**${reason} ${plan.amount.amount} ${plan.amount.currencyCode} every ${plan.value} ${plan.unit.toLowerCase()}(s)` +
        `${next ? `, next charge ${next}` : ''}${s.cancelAtPeriodEnd ? ', cancels at period end' : ''}, ${s.nextCycle - 1} cycle(s) billed`,
    );
  }

  recordCycle(c: CycleSummary): void {
    const s = this.s;
    const i = s.cycles.findIndex((x) => x.n === c.n);
    if (i >= 0) s.cycles[i] = c;
    else s.cycles.push(c);
    s.cycles = s.cycles.slice(-CYCLES_KEPT);
  }

  event(type: MerchantEventType, extra: Partial<MerchantEventData> = {}): void {
    this.outbox.emit(type, {
      object: 'subscription',
      checkoutSessionId: this.checkoutSessionId,
      merchantReferenceId: this.input.merchantReferenceId,
      chargePermissionId: this.chargePermissionId,
      chargeId: null,
      refundId: null,
      subscriptionId: this.id,
      status: this.s.status,
      state: null,
      amount: this.plan.amount,
      reasonCode: null,
      detail: null,
      expiresAt: null,
      nextBillingAt: this.nextDueAt(),
      cycle: null,
      ...extra,
    });
  }

  /** Queues an IPN for the loop, once per messageId/notificationId. */
  receive(n: AmazonPayNotification): void {
    const s = this.s;
    if (s.seenNotifications.includes(n.messageId) || s.seenNotifications.includes(n.notificationId)) return;
    s.seenNotifications = [...s.seenNotifications, n.messageId, n.notificationId].slice(-SEEN_NOTIFICATIONS_KEPT);
    s.inbox.push(n);
    this.version++;
  }
}
