import { log, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { Mutex } from 'async-mutex';
import { emptyOutbox, EventOutbox } from '../events/outbox';
import type { MerchantEventData, MerchantEventType } from '../events/messages';
import type { AmazonPayNotification } from '../notification-messages';
import { AmazonChargePermissionId, MerchantReferenceId, NextBillingAt, SubscriptionStatus as StatusKey } from '../search-attributes';
import {
  subscriptionWorkflowId,
  type CycleSummary,
  type SubscriptionStatus,
  type SubscriptionStatusName,
} from '../subscription-messages';
import { cycleAt } from './calendar';
import { CYCLES_KEPT, DEFAULT_DUNNING, initialState, SEEN_NOTIFICATIONS_KEPT, type SubscriptionState, type SubscriptionWorkflowInput } from './state';

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
  private published = '';

  constructor(readonly input: SubscriptionWorkflowInput) {
    this.s = initialState(input);
    this.id = subscriptionWorkflowId(input.chargePermissionId);
    this.outbox = new EventOutbox(this.id, (this.s.outbox ??= emptyOutbox()));
  }

  get dunning() {
    return { ...DEFAULT_DUNNING, ...this.input.dunning };
  }

  get final(): boolean {
    return FINAL.includes(this.s.status);
  }

  /** When the next charge is due: a dunning retry or deferral, else the next cycle from the anchor. */
  nextDueAt(): string | null {
    const s = this.s;
    if (this.final || s.pausedAt || s.awaitingBuyer || s.cancelNow || s.cancelAtPeriodEnd) return null;
    return s.retryAt ?? this.periodEnd();
  }

  /** The end of the period paid for: when the next cycle would begin. */
  periodEnd(): string {
    return cycleAt(this.input.anchor, this.input.plan, this.s.nextCycle, this.input.timeZone);
  }

  status(): SubscriptionStatus {
    const s = this.s;
    return {
      subscriptionId: this.id,
      chargePermissionId: this.input.chargePermissionId,
      checkoutSessionId: this.input.checkoutSessionId,
      merchantReferenceId: this.input.merchantReferenceId,
      status: s.status,
      plan: this.input.plan,
      timeZone: this.input.timeZone,
      anchor: this.input.anchor,
      nextBillingAt: this.nextDueAt(),
      updatePaymentMethodUrl: s.awaitingBuyer ? s.updatePaymentMethodUrl : null,
      cancelAtPeriodEnd: s.cancelAtPeriodEnd,
      lastReasonCode: s.lastReasonCode,
      cycles: s.cycles,
      endedReason: s.endedReason,
      updatedAt: s.updatedAt,
    };
  }

  setStatus(next: SubscriptionStatusName, reasonCode?: string | null): void {
    if (this.final) return;
    if (reasonCode !== undefined) this.s.lastReasonCode = reasonCode;
    if (next !== this.s.status) log.info('subscription status', { subscriptionId: this.id, from: this.s.status, to: next });
    this.s.status = next;
    this.publish();
  }

  /** Search attributes and the Web UI's details; each upsert is a history event, so only on change. */
  publish(): void {
    const s = this.s;
    s.updatedAt = new Date().toISOString();
    const next = this.nextDueAt();
    const key = [s.status, next].join('|');
    if (key !== this.published) {
      this.published = key;
      upsertSearchAttributes([
        { key: StatusKey, value: s.status },
        { key: AmazonChargePermissionId, value: this.input.chargePermissionId },
        ...(this.input.merchantReferenceId ? [{ key: MerchantReferenceId, value: this.input.merchantReferenceId }] : []),
        // null removes it: nothing more will be charged (or not until the buyer acts).
        { key: NextBillingAt, value: next ? new Date(next) : null },
      ]);
    }
    const plan = this.input.plan;
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
      checkoutSessionId: this.input.checkoutSessionId,
      merchantReferenceId: this.input.merchantReferenceId,
      chargePermissionId: this.input.chargePermissionId,
      chargeId: null,
      refundId: null,
      subscriptionId: this.id,
      status: this.s.status,
      state: null,
      amount: this.input.plan.amount,
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
