import { z } from '@hono/zod-openapi';
import { PriceSchema as PriceInputSchema } from '../checkout/schemas';
import { CycleRefundSchema } from './refund-schemas';

/** As answered (the currency is whatever the plan was agreed in). */
const PriceSchema = z.object({ amount: z.string(), currencyCode: z.string() });

export const SubscriptionIdParamsSchema = z.object({
  subscriptionId: z
    .string()
    .regex(
      /^subscription-[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
      'must be a subscription id (subscription-<chargePermissionId>)',
    )
    .openapi({ param: { name: 'subscriptionId', in: 'path' }, example: 'subscription-S01-1234567-1234567' }),
});

const CycleSchema = z.object({
  n: z.number().int(),
  dueAt: z.string(),
  state: z.enum(['Scheduled', 'Charging', 'Paid', 'Pending', 'Failed', 'Skipped', 'Deferred']),
  attempts: z.number().int(),
  chargeId: z.string().nullable(),
  reasonCode: z.string().nullable(),
  amount: PriceSchema,
  refunds: z.array(CycleRefundSchema).optional().openapi({ description: "The cycle's refunds, oldest first." }),
  refundedAmount: PriceSchema.optional().openapi({ description: 'What its refunds gave back so far (Refunded).' }),
});

export const SubscriptionStatusSchema = z
  .object({
    subscriptionId: z.string(),
    chargePermissionId: z.string(),
    checkoutSessionId: z.string(),
    merchantReferenceId: z.string().nullable(),
    status: z.enum(['trialing', 'active', 'past_due', 'paused', 'canceled', 'ended']),
    plan: z.object({ unit: z.enum(['Day', 'Week', 'Month', 'Year']), value: z.number().int(), amount: PriceSchema }),
    timeZone: z.string(),
    anchor: z.string().openapi({
      description:
        'Cycle n ≥ anchorCycle is due at anchor + (n − anchorCycle) periods in timeZone, clamped to the month end.',
    }),
    anchorCycle: z.number().int().openapi({
      description: 'The cycle due at anchor: 0 from sign-up; a change of frequency or billing date moves both.',
    }),
    nextBillingAt: z.string().nullable(),
    updatePaymentMethodUrl: z
      .string()
      .nullable()
      .openapi({ description: 'While past due: the Amazon page where the buyer fixes the payment method.' }),
    cancelAtPeriodEnd: z.boolean(),
    lastReasonCode: z.string().nullable(),
    cycles: z.array(CycleSchema).openapi({ description: 'The 12 most recent cycles, oldest first.' }),
    endedReason: z.string().nullable(),
    updatedAt: z.string(),
    previousChargePermissionIds: z.array(z.string()).optional().openapi({
      description:
        'Permissions billed before a re-checkout moved the subscription on (closed at Amazon), oldest first; chargePermissionId is the one billed now.',
    }),
  })
  .openapi('SubscriptionStatus');

export const CancelSubscriptionRequestSchema = z
  .strictObject({
    atPeriodEnd: z
      .boolean()
      .default(false)
      .openapi({ description: 'true: nothing more is charged and the permission closes when the paid period ends.' }),
    reason: z.string().min(1).max(255).optional(),
  })
  .openapi('CancelSubscriptionRequest');

export const ChangePlanRequestSchema = z
  .strictObject({
    amount: PriceInputSchema.optional().openapi({
      description:
        "The new amount per cycle, in the plan's currency. The buyer is told 10 days ahead (Amazon's policy), so a cycle due sooner keeps the old amount.",
    }),
    frequency: z
      .strictObject({ unit: z.enum(['Day', 'Week', 'Month', 'Year']), value: z.number().int().min(1).max(365) })
      .optional(),
    billingDate: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
      .optional()
      .openapi({
        description:
          "The next cycle's date in the subscription's zone (the anchor's time of day); later cycles follow from it.",
      }),
  })
  .refine((b) => b.amount !== undefined || b.frequency !== undefined || b.billingDate !== undefined, {
    message: 'give amount, frequency or billingDate',
  })
  .openapi('ChangePlanRequest');
