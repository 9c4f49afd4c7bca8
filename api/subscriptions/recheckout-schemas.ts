import { z } from '@hono/zod-openapi';
import { ButtonConfigRequestSchema, PriceSchema as PriceInputSchema } from '../checkout/schemas';

/** The re-checkout's request and answer (recheckout-routes.ts); the plan fields are those of a plan change. */

const PriceSchema = z.object({ amount: z.string(), currencyCode: z.string() });
const button = ButtonConfigRequestSchema.shape;

export const RecheckoutRequestSchema = z
  .strictObject({
    amount: PriceInputSchema.optional().openapi({ description: "The new amount per cycle, in the plan's currency." }),
    frequency: z
      .strictObject({ unit: z.enum(['Day', 'Week', 'Month', 'Year']), value: z.number().int().min(1).max(365) })
      .optional(),
    checkoutReviewReturnUrl: button.checkoutReviewReturnUrl.openapi({
      description: 'Where Amazon sends the buyer after sign-in (with amazonCheckoutSessionId), as for any checkout.',
    }),
    checkoutCancelUrl: button.checkoutCancelUrl,
    merchantStoreName: button.merchantStoreName,
  })
  .refine((b) => b.amount !== undefined || b.frequency !== undefined, { message: 'give amount or frequency' })
  .openapi('RecheckoutRequest');

export const RecheckoutSchema = z
  .object({
    subscriptionId: z.string(),
    checkoutSessionId: z.string().openapi({
      description:
        'The new Recurring checkout session. Its workflow hands the new charge permission to the subscription when it completes.',
    }),
    amazonPayRedirectUrl: z
      .string()
      .nullable()
      .openapi({ description: 'Send the buyer here to sign in and agree the new terms at Amazon Pay.' }),
    replacesChargePermissionId: z.string().openapi({
      description: 'The permission billed now; closed at Amazon only once the re-checkout has completed.',
    }),
    plan: z
      .object({ unit: z.enum(['Day', 'Week', 'Month', 'Year']), value: z.number().int(), amount: PriceSchema })
      .openapi({ description: "The new terms, the session's recurringMetadata: they apply from the next cycle." }),
    paymentIntent: z.literal('Confirm').openapi({
      description:
        'What to set with POST /v1/checkouts/{checkoutSessionId}/amount (chargeAmount: the new amount): nothing is charged at the re-checkout, the next cycle bills the new permission.',
    }),
  })
  .openapi('Recheckout');
