import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/**
 * Merchant events: what an owner (checkout, subscription) tells the merchant's systems, signed on
 * the Standard Webhooks specification. The owner records each event at its transition and delivers
 * it itself (events/outbox.ts), so the id is fixed by the workflow's history and a replay, a retry
 * or a worker crash can only send the same event again, never under another id.
 */

export const MERCHANT_EVENT_TYPES = [
  'checkout.completed',
  'checkout.declined',
  'checkout.expired',
  'checkout.canceled',
  'payment.authorized',
  'payment.authorization_pending',
  'payment.authorization_expiring',
  'payment.captured',
  'payment.capture_pending',
  'payment.canceled',
  'payment.declined',
  'refund.pending',
  'refund.succeeded',
  'refund.failed',
  'order.closed',
  'operator.attention_required',
  'operator.call_resolved',
  'subscription.created',
  'subscription.renewal_upcoming',
  'subscription.charged',
  'subscription.charge_failed',
  'subscription.charge_deferred',
  'subscription.past_due',
  'subscription.recovered',
  'subscription.paused',
  'subscription.resumed',
  'subscription.cancel_scheduled',
  'subscription.plan_changed',
  'subscription.canceled',
  'subscription.ended',
  'subscription.charge_permission_replaced',
] as const;

export type MerchantEventType = (typeof MERCHANT_EVENT_TYPES)[number];

export interface EventAmount {
  amount: string;
  currencyCode: string;
}

/** The object an event is about: ids, amounts and states only, never buyer data. */
export interface MerchantEventData {
  /** The owner's kind and workflow id, so a receiver can ask us about it. */
  object: 'checkout' | 'subscription';
  checkoutSessionId: string | null;
  merchantReferenceId: string | null;
  chargePermissionId: string | null;
  chargeId: string | null;
  refundId: string | null;
  subscriptionId: string | null;
  /** The checkout's or subscription's status after the transition. */
  status: string;
  /** The charge's or refund's state when the event is about one. */
  state: string | null;
  amount: EventAmount | null;
  reasonCode: string | null;
  /** Human-readable why, for operator.attention_required and expiring authorizations. */
  detail: string | null;
  /** ISO-8601, for payment.authorization_expiring. */
  expiresAt: string | null;
  /** Subscriptions: when the next charge is due (null: none scheduled). */
  nextBillingAt?: string | null;
  /** Subscriptions: the billing cycle the event is about (0 = the checkout's own charge or the trial). */
  cycle?: number | null;
  /** subscription.charge_permission_replaced: the permission a re-checkout replaced (chargePermissionId: the new one). */
  previousChargePermissionId?: string | null;
}

/** The JSON body every endpoint receives; `id` is also the `webhook-id` header. */
export interface MerchantEvent {
  id: string;
  type: MerchantEventType;
  /** When it happened (workflow time), ISO-8601. */
  timestamp: string;
  data: MerchantEventData;
}

export type DeliveryOutcome = 'Delivered' | 'Failed' | 'EndpointDisabled';

export interface DeliveryAttempt {
  at: string;
  /** The receiver's HTTP status; null for a timeout or a connection error. */
  statusCode: number | null;
  error: string | null;
}

export interface EventDelivery {
  endpointId: string;
  status: 'Pending' | DeliveryOutcome;
  attempts: DeliveryAttempt[];
  /** When the next attempt is due while Pending after a failure. */
  nextAttemptAt: string | null;
}

export interface EventView extends MerchantEvent {
  deliveries: EventDelivery[];
}

/** The owner's events, oldest first, with their deliveries (also answered by closed owners). */
export const eventsQuery = defineQuery<EventView[]>('merchantEvents');

/** `evt_<owner workflow id>_<n>`: the owner is found from the id (redelivery), n counts its transitions. */
export const merchantEventId = (ownerWorkflowId: string, n: number): string => `evt_${ownerWorkflowId}_${n}`;

export function ownerOfEventId(eventId: string): { ownerWorkflowId: string; n: number } | null {
  const m = /^evt_(.+)_(\d{1,9})$/.exec(eventId);
  return m ? { ownerWorkflowId: m[1]!, n: Number(m[2]) } : null;
}

// --- Webhook endpoints: each one's delivery status lives in a workflow of its own ---

export const webhookEndpointWorkflowId = (endpointId: string): string => `webhook-endpoint-${endpointId}`;

export interface WebhookEndpointStatus {
  endpointId: string;
  status: 'Enabled' | 'Disabled';
  disabledAt: string | null;
  reason: string | null;
}

export const disableEndpointSignal = defineSignal<[{ reason: string }]>('disableWebhookEndpoint');
/** An update, so the caller's answer is the status after it was applied. */
export const enableEndpointUpdate = defineUpdate<WebhookEndpointStatus, []>('enableWebhookEndpoint');
export const endpointStatusQuery = defineQuery<WebhookEndpointStatus>('webhookEndpointStatus');
