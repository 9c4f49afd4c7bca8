import { z } from '@hono/zod-openapi';
import { MERCHANT_EVENT_TYPES, type MerchantEventType } from '../../workflows/events/messages';

/** What each event type means, for the OpenAPI webhooks section and the README. */
export const EVENT_TYPE_DESCRIPTIONS: Record<MerchantEventType, string> = {
  'checkout.completed':
    'The buyer paid and Complete Checkout Session succeeded: the charge permission (and the charge, unless Confirm) exists.',
  'checkout.declined': 'The checkout ended without a payment: Amazon declined it at completion.',
  'checkout.expired': 'The buyer did not complete within the 24-hour window; nothing was charged.',
  'checkout.canceled': 'The buyer canceled at Amazon Pay, or Amazon does not know the session; nothing was charged.',
  'payment.authorized': 'The charge is authorized (expiresAt: when Amazon cancels it unused); capture or cancel it.',
  'payment.authorization_pending':
    'The authorization is pending at Amazon (AuthorizationInitiated); an outcome event follows.',
  'payment.authorization_expiring': 'An authorization is about to expire unused (sent 2 days before expiresAt).',
  'payment.captured': 'Money was captured (amount: the captured amount).',
  'payment.capture_pending':
    'A capture is pending at Amazon (CaptureInitiated); payment.captured or payment.declined follows.',
  'payment.canceled': 'The authorization was canceled (by the merchant, or expired unused); no money moved.',
  'payment.declined': 'Amazon declined the charge (reasonCode says why).',
  'refund.pending':
    "A refund was created and is pending at Amazon (refundId, amount). A subscription's refund (object subscription) also names the cycle and its chargeId.",
  'refund.succeeded': 'A refund completed (refundId, amount; cycle and chargeId for a subscription).',
  'refund.failed': 'Amazon declined a refund (reasonCode says why; cycle and chargeId for a subscription).',
  'order.closed': 'The order is done: the charge permission is closed; no further events for this checkout.',
  'operator.attention_required':
    'Something needs a person: an Amazon Pay call that may have moved money never got an answer, or a step cannot succeed (detail says which).',
  'operator.call_resolved':
    'An operator recorded what Seller Central shows for a call that had needed attention (reasonCode UnresolvedAmazonPayCall): detail says whether it was executed; an executed charge or refund also has its own payment.* or refund.* event.',
  'subscription.created':
    'A recurring checkout completed and its subscription started (status trialing or active; nextBillingAt).',
  'subscription.renewal_upcoming':
    'A cycle will be charged soon (3 days before by default): tell the buyer (Amazon asks for 10 days when the amount changed).',
  'subscription.charged': 'A billing cycle was charged (cycle, chargeId, amount).',
  'subscription.charge_failed': 'A cycle was softly declined; it is retried at nextBillingAt (dunning).',
  'subscription.charge_deferred':
    "Amazon's monthly recurring limit was reached: the cycle is charged when the next calendar month begins (nextBillingAt).",
  'subscription.past_due':
    'The buyer must act: detail is the Amazon page to update the payment method (or says a new checkout is needed); charging resumes once Amazon says the permission is Chargeable.',
  'subscription.recovered': 'A past-due subscription was charged again successfully.',
  'subscription.paused': 'No cycles are charged until it is resumed (by the merchant, or by the grace policy).',
  'subscription.resumed': 'Billing continues from the anchor; cycles due while paused are not charged.',
  'subscription.cancel_scheduled':
    'The subscription cancels at the end of the paid period (nextBillingAt is null; expiresAt is when).',
  'subscription.plan_changed':
    'The amount, the frequency or the billing date changed (Amazon has the new terms): amount is the new amount, cycle the first cycle it applies to (at least 10 days after the change when the amount changed), nextBillingAt the next charge, detail the new plan.',
  'subscription.canceled':
    'Canceled by the merchant or the grace policy: the charge permission is closed, nothing more is charged.',
  'subscription.ended':
    'Ended at Amazon (the buyer closed the permission, Amazon closed it or it expired): reasonCode says which; nothing more is charged.',
  'subscription.charge_permission_replaced':
    'A re-checkout (EU, UK: new terms need a new checkout) completed: the subscription bills chargePermissionId from its next cycle, and previousChargePermissionId is closed at Amazon (reasonCode set: Amazon refused the close). The subscription keeps its id.',
};

const AmountSchema = z.object({ amount: z.string(), currencyCode: z.string() }).openapi('EventAmount');

export const MerchantEventSchema = z
  .object({
    id: z.string().openapi({
      description: "Stable id, also the webhook-id header: the receiver's deduplication key.",
      example: 'evt_checkout-bd504926-f659-4ad7-a1a9-9a747aaf5275_2',
    }),
    type: z.enum(MERCHANT_EVENT_TYPES),
    timestamp: z.string().openapi({ description: 'When the transition happened (ISO-8601).' }),
    data: z.object({
      object: z.enum(['checkout', 'subscription']),
      checkoutSessionId: z.string().nullable(),
      merchantReferenceId: z.string().nullable(),
      chargePermissionId: z.string().nullable(),
      chargeId: z.string().nullable(),
      refundId: z.string().nullable(),
      subscriptionId: z.string().nullable(),
      status: z.string().openapi({ description: "The checkout's (or subscription's) status after the transition." }),
      state: z
        .string()
        .nullable()
        .openapi({ description: "The charge's or refund's Amazon state, for payment.* and refund.* events." }),
      amount: AmountSchema.nullable(),
      reasonCode: z.string().nullable(),
      detail: z.string().nullable(),
      expiresAt: z.string().nullable(),
      nextBillingAt: z.string().nullable().optional(),
      cycle: z.number().int().nullable().optional().openapi({
        description: 'Subscriptions: the billing cycle the event is about (subscription.* and refund.* events).',
      }),
      previousChargePermissionId: z
        .string()
        .nullable()
        .optional()
        .openapi({ description: 'subscription.charge_permission_replaced: the permission the re-checkout replaced.' }),
    }),
  })
  .openapi('MerchantEvent', { description: 'The JSON body of every webhook. No buyer personal data.' });

const DeliverySchema = z
  .object({
    endpointId: z.string(),
    status: z.enum(['Pending', 'Delivered', 'Failed', 'EndpointDisabled']),
    attempts: z.array(
      z.object({ at: z.string(), statusCode: z.number().int().nullable(), error: z.string().nullable() }),
    ),
    nextAttemptAt: z.string().nullable(),
  })
  .openapi('EventDelivery');

export const EventViewSchema = MerchantEventSchema.extend({ deliveries: z.array(DeliverySchema) }).openapi(
  'EventWithDeliveries',
);
export const EventListSchema = z.object({ data: z.array(EventViewSchema) }).openapi('EventList');

export const EventIdParamsSchema = z.object({
  eventId: z
    .string()
    .regex(/^evt_[A-Za-z0-9._-]{1,200}_\d{1,9}$/, 'must be an event id (evt_…)')
    .openapi({ param: { name: 'eventId', in: 'path' } }),
});

export const EndpointIdParamsSchema = z.object({
  endpointId: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be an endpoint id (letters, digits, _ and -)')
    .openapi({ param: { name: 'endpointId', in: 'path' } }),
});

export const RedeliverySchema = z
  .object({
    redeliveryId: z.string(),
    status: z.enum(['Pending', 'Done']),
    event: EventViewSchema.nullable().openapi({ description: "The event with this redelivery's attempts, once done." }),
  })
  .openapi('Redelivery');

export const EndpointStatusSchema = z
  .object({
    endpointId: z.string(),
    status: z.enum(['Enabled', 'Disabled']),
    disabledAt: z.string().nullable(),
    reason: z.string().nullable(),
  })
  .openapi('WebhookEndpointStatus');
