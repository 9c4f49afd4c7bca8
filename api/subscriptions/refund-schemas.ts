import { z } from '@hono/zod-openapi';
import { PriceSchema as PriceInputSchema } from '../checkout/schemas';

/** As answered (the currency is whatever the plan was agreed in). */
const PriceSchema = z.object({ amount: z.string(), currencyCode: z.string() });

export const CycleRefundSchema = z
  .object({
    cycle: z.number().int(),
    refundId: z
      .string()
      .nullable()
      .openapi({ description: "Amazon's refund id (S01-…-R…); null while Create Refund has not answered." }),
    chargeId: z.string().openapi({ description: "The cycle's charge that is refunded." }),
    amount: PriceSchema,
    state: z.enum(['Requested', 'RefundInitiated', 'Refunded', 'Declined']).openapi({
      description:
        'Requested: sent to Amazon Pay, no answer yet (sent again under the same key); RefundInitiated: pending at Amazon; Refunded or Declined: final (refund.succeeded / refund.failed).',
    }),
    reasonCode: z.string().nullable().openapi({ description: "Amazon's reason when Declined (e.g. AmazonRejected)." }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('CycleRefund');

/** The path's cycle number (composed with the subscription id by the route; schemas.ts imports this file). */
export const CycleParamSchema = z.object({
  cycle: z.coerce
    .number()
    .int()
    .min(0)
    .max(1_000_000)
    .openapi({ param: { name: 'cycle', in: 'path' }, example: 3, description: '0 = the checkout’s own charge.' }),
});

export const RefundCycleRequestSchema = z
  .strictObject({
    amount: PriceInputSchema.openapi({
      description:
        "In the cycle's currency; at most the cycle's charge minus what its refunds (pending ones included) already took.",
    }),
  })
  .openapi('RefundCycleRequest');
