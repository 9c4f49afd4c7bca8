import { z } from '@hono/zod-openapi';

/**
 * Every input the storefront API accepts, validated at the edge. Objects are strict: an unknown
 * field is a 400, as it is at Amazon Pay (`UnrecognizedField`), so a typo such as `chargeAmmount`
 * never silently drops a value. The same schemas generate the OpenAPI document.
 */

/** Currencies Amazon Pay Checkout v2 accepts (the .NET SDK's Currency enum). */
export const CURRENCIES = ['AUD', 'GBP', 'DKK', 'EUR', 'HKD', 'JPY', 'NZD', 'NOK', 'ZAR', 'SEK', 'CHF', 'USD'] as const;
export type Currency = (typeof CURRENCIES)[number];

const ZERO_DECIMAL: ReadonlySet<string> = new Set(['JPY']);
/** Amazon's per-charge maximum: 150,000 in USD/GBP/EUR (applied to every currency), ¥10,000,000 in JPY. */
const MAX_AMOUNT: Partial<Record<Currency, number>> = { JPY: 10_000_000 };
const DEFAULT_MAX_AMOUNT = 150_000;

const DECIMAL = /^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$/;

export const maxAmountFor = (currency: Currency): number => MAX_AMOUNT[currency] ?? DEFAULT_MAX_AMOUNT;

/** Why `amount` is not a valid charge amount in `currency`, or null when it is. */
export function amountProblem(amount: string, currency: Currency): string | null {
  if (!DECIMAL.test(amount)) return 'must be a positive decimal string with at most 2 decimals, e.g. "14.00"';
  if (ZERO_DECIMAL.has(currency) && amount.includes('.')) return `must have no decimals in ${currency}`;
  const value = Number(amount);
  if (!(value > 0)) return 'must be greater than 0';
  const max = maxAmountFor(currency);
  if (value > max) return `must not exceed ${max} ${currency}`;
  return null;
}

export const CurrencySchema = z.enum(CURRENCIES).openapi({ description: 'ISO 4217 code accepted by Amazon Pay.' });

export const PriceSchema = z
  .strictObject({
    amount: z
      .string()
      .regex(DECIMAL, 'must be a positive decimal string with at most 2 decimals, e.g. "14.00"')
      .openapi({
        example: '14.00',
        description: 'Decimal string; at most 2 decimals (none for JPY); > 0; ≤ 150000 (JPY ≤ 10000000).',
      }),
    currencyCode: CurrencySchema,
  })
  .superRefine((price, ctx) => {
    if (!DECIMAL.test(price.amount)) return; // already reported by the field's regex
    const problem = amountProblem(price.amount, price.currencyCode);
    if (problem) ctx.addIssue({ code: 'custom', path: ['amount'], message: `amount ${problem}` });
  })
  .openapi('Price');

const httpUrl = z
  .url({ protocol: /^https?$/, hostname: z.regexes.hostname })
  .max(2048)
  .openapi({ example: 'https://shop.example/checkout/review' });

export const MerchantReferenceIdSchema = z.string().min(1).max(256).openapi({ example: 'order-1042' });
const MerchantStoreName = z.string().min(1).max(50);
const NoteToBuyer = z.string().min(1).max(255);
const SoftDescriptor = z
  .string()
  .min(1)
  .max(16)
  .openapi({ description: 'Shown on the statement as "AMZ* <descriptor>".' });
const Reason = z.string().min(1).max(255);

// Amazon's checkoutSessionId is a UUID; the character set is kept a little wider for other environments.
export const CheckoutSessionIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be an Amazon checkoutSessionId')
  .openapi({ example: 'bd504926-f659-4ad7-a1a9-9a747aaf5275' });

export const CheckoutIdParamsSchema = z.object({
  checkoutSessionId: CheckoutSessionIdSchema.openapi({ param: { name: 'checkoutSessionId', in: 'path' } }),
});

export const ResultReturnQuerySchema = z.object({
  amazonCheckoutSessionId: CheckoutSessionIdSchema.openapi({ param: { name: 'amazonCheckoutSessionId', in: 'query' } }),
});

export const IdempotencyKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9_:.-]{1,255}$/, 'must be 1..255 characters of [A-Za-z0-9_:.-]')
  .openapi({
    description: 'Retries with the same key get the first answer instead of repeating the operation.',
    example: 'refund-order-1042-1',
  });

export const OptionalIdempotencyHeadersSchema = z.object({
  'idempotency-key': IdempotencyKeySchema.optional().openapi({ param: { name: 'idempotency-key', in: 'header' } }),
});

/**
 * Money-moving requests must carry a key: without one a retry after a timeout cannot be told from a
 * second operation. A missing key is 400 idempotency_key_required (routes.ts).
 */
export const RequiredIdempotencyHeadersSchema = z.object({
  'idempotency-key': z
    .string({ error: (issue) => (issue.input === undefined ? IDEMPOTENCY_KEY_REQUIRED : undefined) })
    .pipe(IdempotencyKeySchema)
    .openapi({
      param: { name: 'idempotency-key', in: 'header', required: true },
      description: 'Required: retries with the same key get the first answer instead of moving money again.',
    }),
});
export const IDEMPOTENCY_KEY_REQUIRED =
  'an Idempotency-Key header is required: send the same key with every retry of this operation';

// ---- requests ----

export const ButtonConfigRequestSchema = z
  .strictObject({
    /** Cart total: the button's estimatedOrderAmount. */
    amount: PriceSchema,
    checkoutReviewReturnUrl: httpUrl,
    checkoutCancelUrl: httpUrl.optional(),
    merchantReferenceId: MerchantReferenceIdSchema.optional(),
    merchantStoreName: MerchantStoreName.optional(),
    productType: z.enum(['PayAndShip', 'PayOnly']).default('PayAndShip'),
    /** Recurring: the completed checkout starts a subscription that charges every cycle. */
    chargePermissionType: z.enum(['OneTime', 'Recurring']).default('OneTime'),
    recurringMetadata: z
      .strictObject({
        frequency: z.strictObject({
          unit: z.enum(['Day', 'Week', 'Month', 'Year']),
          value: z.number().int().min(1).max(365),
        }),
        amount: PriceSchema,
      })
      .optional()
      .openapi({
        description: 'Required with chargePermissionType Recurring: how often and how much each cycle charges.',
      }),
  })
  .superRefine((b, ctx) => {
    if (b.chargePermissionType === 'Recurring' && !b.recurringMetadata)
      ctx.addIssue({
        code: 'custom',
        path: ['recurringMetadata'],
        message: 'required when chargePermissionType is Recurring',
      });
    if (b.chargePermissionType !== 'Recurring' && b.recurringMetadata)
      ctx.addIssue({
        code: 'custom',
        path: ['recurringMetadata'],
        message: 'only with chargePermissionType Recurring',
      });
  })
  .openapi('ButtonConfigRequest');
export type ButtonConfigRequest = z.infer<typeof ButtonConfigRequestSchema>;

export const CreateSessionRequestSchema = ButtonConfigRequestSchema.openapi('CreateCheckoutSessionRequest');

export const ReviewRequestSchema = z
  .strictObject({ merchantReferenceId: MerchantReferenceIdSchema.optional() })
  .openapi('ReviewRequest');

export const FinalAmountRequestSchema = z
  .strictObject({
    chargeAmount: PriceSchema,
    totalOrderAmount: PriceSchema.optional(),
    paymentIntent: z.enum(['Authorize', 'AuthorizeWithCapture', 'Confirm']),
    canHandlePendingAuthorization: z.boolean(),
    merchantReferenceId: MerchantReferenceIdSchema,
    checkoutResultReturnUrl: httpUrl,
    softDescriptor: SoftDescriptor.optional(),
    merchantStoreName: MerchantStoreName.optional(),
    noteToBuyer: NoteToBuyer.optional(),
    subscription: z
      .strictObject({
        timeZone: z
          .string()
          .max(64)
          .refine((tz) => {
            try {
              new Intl.DateTimeFormat('en-US', { timeZone: tz });
              return true;
            } catch {
              return false;
            }
          }, 'must be an IANA time zone, e.g. Europe/Berlin')
          .optional(),
        noticeDays: z.number().int().min(0).max(30).optional(),
        dunning: z
          .strictObject({
            retryAfterDays: z.array(z.number().int().min(1).max(30)).max(8).optional(),
            graceDays: z.number().int().min(1).max(60).optional(),
            afterGrace: z.enum(['cancel', 'pause']).optional(),
          })
          .optional(),
      })
      .optional()
      .openapi({
        description:
          'Recurring checkouts: the zone billing dates are computed in (default UTC), days of notice before each cycle, and the dunning policy.',
      }),
  })
  .superRefine((body, ctx) => {
    if (body.totalOrderAmount && body.totalOrderAmount.currencyCode !== body.chargeAmount.currencyCode) {
      ctx.addIssue({
        code: 'custom',
        path: ['totalOrderAmount', 'currencyCode'],
        message: 'must equal chargeAmount.currencyCode',
      });
    }
    if (body.totalOrderAmount && Number(body.totalOrderAmount.amount) < Number(body.chargeAmount.amount)) {
      ctx.addIssue({
        code: 'custom',
        path: ['totalOrderAmount', 'amount'],
        message: 'must not be less than chargeAmount',
      });
    }
    if (body.softDescriptor && body.paymentIntent !== 'AuthorizeWithCapture') {
      // Amazon accepts a soft descriptor only when the charge is captured now.
      ctx.addIssue({
        code: 'custom',
        path: ['softDescriptor'],
        message: 'only allowed with paymentIntent AuthorizeWithCapture',
      });
    }
  })
  .openapi('FinalAmountRequest');

export const CaptureRequestSchema = z
  .strictObject({ amount: PriceSchema.optional(), softDescriptor: SoftDescriptor.optional() })
  .openapi('CaptureRequest', { description: 'Omit amount to capture the remaining authorized amount.' });

export const ChargeRequestSchema = z
  .strictObject({
    amount: PriceSchema.optional(),
    captureNow: z.boolean().optional(),
    canHandlePendingAuthorization: z.boolean().optional(),
    softDescriptor: SoftDescriptor.optional(),
  })
  .refine((b) => b.softDescriptor === undefined || b.captureNow === true, {
    path: ['softDescriptor'],
    message: 'softDescriptor is only allowed with captureNow: true',
  })
  .openapi('ChargeRequest', {
    description:
      'Intent Confirm only. Omit amount to charge the checkout amount; captureNow true captures at once, otherwise capture later.',
  });

export const RefundRequestSchema = z
  .strictObject({ amount: PriceSchema, softDescriptor: SoftDescriptor.optional() })
  .openapi('RefundRequest');

export const ReasonRequestSchema = z.strictObject({ reason: Reason.optional() }).openapi('ReasonRequest');

// ---- responses (shapes of workflows/checkout-messages.ts) ----

const PriceOut = z.object({ amount: z.string(), currencyCode: z.string() }).openapi('PriceOut');
const StatusName = z
  .enum([
    'AwaitingBuyer',
    'AwaitingCompletion',
    'Completing',
    'AuthorizationPending',
    'Authorized',
    'CapturePending',
    'Captured',
    'Confirmed',
    'Declined',
    'BuyerCanceled',
    'Expired',
    'Canceled',
    'Closing',
    'Closed',
  ])
  .openapi('CheckoutStatusName');

export const ButtonConfigSchema = z
  .object({
    storeId: z.string(),
    publicKeyId: z.string(),
    algorithm: z.string(),
    payloadJSON: z.string().openapi({ description: 'Pass unchanged: the signature covers these exact bytes.' }),
    signature: z.string(),
    productType: z.enum(['PayAndShip', 'PayOnly']),
    estimatedOrderAmount: PriceOut,
  })
  .openapi('ButtonConfig', {
    description:
      'Arguments for amazon.Pay.renderButton({ ..., createCheckoutSessionConfig: { payloadJSON, signature, publicKeyId, algorithm } }).',
  });

export const CreatedSessionSchema = z
  .object({ checkoutSessionId: z.string(), amazonPayRedirectUrl: z.string().nullable() })
  .openapi('CreatedCheckoutSession');

export const ReviewSchema = z
  .object({
    checkoutSessionId: z.string(),
    state: z.enum(['Open', 'Completed', 'Canceled']),
    buyer: z
      .object({ buyerId: z.string().nullable(), name: z.string().nullable(), email: z.string().nullable() })
      .nullable(),
    shippingAddress: z.record(z.string(), z.string().nullable()).nullable(),
    paymentDescriptor: z.string().nullable(),
    expiresAt: z.string(),
  })
  .openapi('CheckoutReview');

export const FinalAmountResultSchema = z.object({ amazonPayRedirectUrl: z.string() }).openapi('FinalAmountResult');

export const CompletionOutcomeSchema = z
  .union([
    z.object({
      completed: z.literal(true),
      chargePermissionId: z.string(),
      chargeId: z.string().nullable(),
      chargeState: z.string().nullable(),
      status: StatusName,
    }),
    z.object({
      completed: z.literal(false),
      status: z.enum(['Declined', 'BuyerCanceled', 'Expired', 'Canceled']),
      reasonCode: z.string().nullable(),
      message: z.string(),
    }),
  ])
  .openapi('CompletionOutcome');

export const ChargeSummarySchema = z
  .object({
    chargeId: z.string(),
    state: z.string(),
    reasonCode: z.string().nullable(),
    chargeAmount: PriceOut,
    capturedAmount: PriceOut.nullable(),
    refundedAmount: PriceOut.nullable(),
    expiresAt: z.string().nullable(),
  })
  .openapi('ChargeSummary');

export const RefundSummarySchema = z
  .object({
    number: z.number().int(),
    refundId: z.string(),
    state: z.enum(['RefundInitiated', 'Refunded', 'Declined']),
    reasonCode: z.string().nullable(),
    amount: PriceOut,
  })
  .openapi('RefundSummary');

export const CheckoutStatusSchema = z
  .object({
    checkoutSessionId: z.string(),
    status: StatusName,
    merchantReferenceId: z.string().nullable(),
    paymentIntent: z.enum(['Authorize', 'AuthorizeWithCapture', 'Confirm']).nullable(),
    chargeAmount: PriceOut.nullable(),
    chargePermissionId: z.string().nullable(),
    charge: ChargeSummarySchema.nullable(),
    refunds: z.array(RefundSummarySchema),
    deadlines: z.object({ checkoutExpiresAt: z.string().nullable(), authorizationExpiresAt: z.string().nullable() }),
    lastReasonCode: z.string().nullable(),
    final: z.boolean(),
    subscriptionId: z.string().nullable().openapi({
      description: 'Recurring checkouts: the subscription (GET /v1/subscriptions/{id}) that bills every later cycle.',
    }),
    updatedAt: z.string(),
  })
  .openapi('CheckoutStatus');

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'validation_error' }),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi('Error');
