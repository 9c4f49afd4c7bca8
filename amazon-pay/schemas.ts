import { z } from 'zod';

/*
 * Response schemas are loose objects: Amazon adds fields over time and answers null for anything unset, so
 * only what the product relies on is validated (ids, states, amounts as decimal strings, compact timestamps).
 * Request schemas describe what we send; Amazon rejects unknown fields (400 UnrecognizedField).
 */

/** Compact ISO-8601 UTC, `YYYYMMDDThhmmssZ`; it sorts lexicographically in time order. */
export const amazonTimestamp = z.string().regex(/^\d{8}T\d{6}Z$/, 'expected a compact timestamp YYYYMMDDThhmmssZ');

/** Parses `20250105T101414Z` into a Date. */
export function parseAmazonTimestamp(value: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) throw new RangeError(`not an Amazon Pay timestamp: ${value}`);
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

const decimalAmount = z.string().regex(/^\d+(\.\d+)?$/, 'expected a decimal amount as a string, e.g. "14.00"');
const currencyCode = z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 currency code');
const id = z.string().min(1);

export const priceSchema = z.looseObject({ amount: decimalAmount, currencyCode });
/** Amounts are decimal strings both ways ("14.00"; JPY has no decimals: "1400"). */
export type Price = { amount: string; currencyCode: string };

export const checkoutSessionStates = ['Open', 'Completed', 'Canceled'] as const;
export type CheckoutSessionState = (typeof checkoutSessionStates)[number];
export const chargePermissionStates = ['Chargeable', 'NonChargeable', 'Closed'] as const;
export type ChargePermissionState = (typeof chargePermissionStates)[number];
export const chargeStates = [
  'AuthorizationInitiated',
  'Authorized',
  'CaptureInitiated',
  'Captured',
  'Canceled',
  'Declined',
] as const;
export type ChargeState = (typeof chargeStates)[number];
export const refundStates = ['RefundInitiated', 'Refunded', 'Declined'] as const;
export type RefundState = (typeof refundStates)[number];

export const paymentIntents = ['Confirm', 'Authorize', 'AuthorizeWithCapture'] as const;
export type PaymentIntent = (typeof paymentIntents)[number];
export const chargePermissionTypes = ['OneTime', 'Recurring', 'PaymentMethodOnFile'] as const;
export type ChargePermissionType = (typeof chargePermissionTypes)[number];

function statusDetailsSchema<S extends readonly [string, ...string[]]>(states: S) {
  return z.looseObject({
    state: z.enum(states),
    reasonCode: z.string().nullish(),
    reasonDescription: z.string().nullish(),
    lastUpdatedTimestamp: amazonTimestamp,
  });
}

const addressSchema = z.looseObject({
  name: z.string().nullish(),
  addressLine1: z.string().nullish(),
  addressLine2: z.string().nullish(),
  addressLine3: z.string().nullish(),
  city: z.string().nullish(),
  county: z.string().nullish(),
  district: z.string().nullish(),
  stateOrRegion: z.string().nullish(),
  postalCode: z.string().nullish(),
  countryCode: z.string().nullish(),
  phoneNumber: z.string().nullish(),
});
export type Address = z.infer<typeof addressSchema>;

const buyerSchema = z.looseObject({
  buyerId: z.string().nullish(),
  name: z.string().nullish(),
  email: z.string().nullish(),
  phoneNumber: z.string().nullish(),
  primeMembershipTypes: z.array(z.string()).nullish(),
});

const merchantMetadataSchema = z.looseObject({
  merchantReferenceId: z.string().nullish(),
  merchantStoreName: z.string().nullish(),
  noteToBuyer: z.string().nullish(),
  customInformation: z.string().nullish(),
});

// Amazon sends `value` as a string ("1"); .NET-era answers may carry a number.
const recurringMetadataSchema = z.looseObject({
  frequency: z.looseObject({ unit: z.string(), value: z.union([z.string(), z.number().transform(String)]) }).nullish(),
  amount: priceSchema.nullish(),
});

const paymentPreferenceSchema = z.looseObject({ paymentDescriptor: z.string().nullish() }).nullable();

export const checkoutSessionSchema = z.looseObject({
  checkoutSessionId: id,
  webCheckoutDetails: z
    .looseObject({
      checkoutReviewReturnUrl: z.string().nullish(),
      checkoutResultReturnUrl: z.string().nullish(),
      checkoutCancelUrl: z.string().nullish(),
      amazonPayRedirectUrl: z.string().nullish(),
      checkoutMode: z.string().nullish(),
    })
    .nullish(),
  productType: z.string().nullish(),
  paymentDetails: z
    .looseObject({
      paymentIntent: z.enum(paymentIntents).nullish(),
      canHandlePendingAuthorization: z.boolean().nullish(),
      chargeAmount: priceSchema.nullish(),
      totalOrderAmount: priceSchema.nullish(),
      presentmentCurrency: z.string().nullish(),
      softDescriptor: z.string().nullish(),
      allowOvercharge: z.boolean().nullish(),
      extendExpiration: z.boolean().nullish(),
    })
    .nullish(),
  chargePermissionType: z.enum(chargePermissionTypes).nullish(),
  recurringMetadata: recurringMetadataSchema.nullish(),
  merchantMetadata: merchantMetadataSchema.nullish(),
  buyer: buyerSchema.nullish(),
  billingAddress: addressSchema.nullish(),
  shippingAddress: addressSchema.nullish(),
  // Amazon returns each entry as a JSON-encoded string; the official SDKs parse them, so do we.
  shippingAddressList: z
    .array(
      z.union([
        addressSchema,
        z.string().transform((s, ctx) => {
          try {
            return addressSchema.parse(JSON.parse(s));
          } catch {
            ctx.addIssue({ code: 'custom', message: 'shippingAddressList entry is not a JSON address' });
            return z.NEVER;
          }
        }),
      ]),
    )
    .nullish(),
  paymentPreferences: z.array(paymentPreferenceSchema).nullish(),
  statusDetails: statusDetailsSchema(checkoutSessionStates),
  platformId: z.string().nullish(),
  chargePermissionId: z.string().nullish(),
  chargeId: z.string().nullish(),
  constraints: z.array(z.looseObject({ constraintId: z.string(), description: z.string().nullish() })).nullish(),
  creationTimestamp: amazonTimestamp.nullish(),
  expirationTimestamp: amazonTimestamp.nullish(),
  storeId: z.string().nullish(),
  releaseEnvironment: z.string().nullish(),
});
export type CheckoutSession = z.infer<typeof checkoutSessionSchema>;

export const chargePermissionSchema = z.looseObject({
  chargePermissionId: id,
  chargePermissionReferenceId: z.string().nullish(),
  chargePermissionType: z.enum(chargePermissionTypes).nullish(),
  recurringMetadata: recurringMetadataSchema.nullish(),
  buyer: buyerSchema.nullish(),
  shippingAddress: addressSchema.nullish(),
  billingAddress: addressSchema.nullish(),
  paymentPreferences: z.array(paymentPreferenceSchema).nullish(),
  merchantMetadata: merchantMetadataSchema.nullish(),
  platformId: z.string().nullish(),
  limits: z.looseObject({ amountLimit: priceSchema.nullish(), amountBalance: priceSchema.nullish() }).nullish(),
  // Unlike the other objects, a Charge Permission lists several reasons; null becomes [] so callers can iterate.
  statusDetails: z.looseObject({
    state: z.enum(chargePermissionStates),
    reasons: z
      .array(z.looseObject({ reasonCode: z.string(), reasonDescription: z.string().nullish() }))
      .nullish()
      .transform((r) => r ?? []),
    lastUpdatedTimestamp: amazonTimestamp,
  }),
  creationTimestamp: amazonTimestamp.nullish(),
  expirationTimestamp: amazonTimestamp.nullish(),
  presentmentCurrency: z.string().nullish(),
  releaseEnvironment: z.string().nullish(),
});
export type ChargePermission = z.infer<typeof chargePermissionSchema>;

export const chargeSchema = z.looseObject({
  chargeId: id,
  chargePermissionId: id,
  chargeAmount: priceSchema,
  captureAmount: priceSchema.nullish(),
  refundedAmount: priceSchema.nullish(),
  convertedAmount: priceSchema.nullish(),
  conversionRate: z.union([z.string(), z.number()]).nullish(),
  softDescriptor: z.string().nullish(),
  providerMetadata: z.looseObject({ providerReferenceId: z.string().nullish() }).nullish(),
  merchantMetadata: merchantMetadataSchema.nullish(),
  channel: z.string().nullish(),
  chargeInitiator: z.string().nullish(),
  statusDetails: statusDetailsSchema(chargeStates),
  creationTimestamp: amazonTimestamp.nullish(),
  expirationTimestamp: amazonTimestamp.nullish(),
  platformId: z.string().nullish(),
  releaseEnvironment: z.string().nullish(),
});
export type Charge = z.infer<typeof chargeSchema>;

export const refundSchema = z.looseObject({
  refundId: id,
  chargeId: id,
  refundAmount: priceSchema,
  softDescriptor: z.string().nullish(),
  statusDetails: statusDetailsSchema(refundStates),
  creationTimestamp: amazonTimestamp.nullish(),
  releaseEnvironment: z.string().nullish(),
});
export type Refund = z.infer<typeof refundSchema>;

/** Amazon's error body: `{ reasonCode, message }`. */
export const errorBodySchema = z.looseObject({ reasonCode: z.string().min(1), message: z.string().nullish() });

// ---- Request bodies: validated before sending, strict like Amazon (400 UnrecognizedField) so typos fail here ----

/** Minor-unit digits per currency: JPY has none, every other currency Amazon Pay takes has two (§2.1). */
const currencyDecimals = (code: string): number => (code === 'JPY' ? 0 : 2);

const requestPrice = z.strictObject({ amount: decimalAmount, currencyCode }).superRefine((price, ctx) => {
  const decimals = price.amount.split('.')[1]?.length ?? 0;
  const allowed = currencyDecimals(price.currencyCode);
  if (decimals > allowed) {
    ctx.addIssue({
      code: 'custom',
      path: ['amount'],
      message:
        allowed === 0
          ? `${price.currencyCode} amounts have no decimals`
          : `${price.currencyCode} amounts have at most ${allowed} decimals`,
    });
  }
});
const merchantMetadataRequest = z.strictObject({
  merchantReferenceId: z.string().optional(),
  merchantStoreName: z.string().max(50).optional(),
  noteToBuyer: z.string().optional(),
  customInformation: z.string().optional(),
});
const recurringMetadataRequest = z.strictObject({
  frequency: z.strictObject({
    unit: z.enum(['Year', 'Month', 'Week', 'Day', 'Variable']),
    value: z.string().regex(/^\d+$/),
  }),
  amount: requestPrice.optional(),
});
export type FrequencyUnit = z.infer<typeof recurringMetadataRequest>['frequency']['unit'];
const paymentDetailsRequest = z.strictObject({
  paymentIntent: z.enum(paymentIntents).optional(),
  canHandlePendingAuthorization: z.boolean().optional(),
  chargeAmount: requestPrice.optional(),
  totalOrderAmount: requestPrice.optional(),
  presentmentCurrency: currencyCode.optional(),
  softDescriptor: z.string().max(16).optional(),
  allowOvercharge: z.boolean().optional(),
  extendExpiration: z.boolean().optional(),
  estimateOrderTotal: requestPrice.optional(),
});
const providerMetadataRequest = z.strictObject({ providerReferenceId: z.string().optional() });
const addressRequest = z.strictObject({
  name: z.string().optional(),
  addressLine1: z.string().optional(),
  addressLine2: z.string().optional(),
  addressLine3: z.string().optional(),
  city: z.string().optional(),
  county: z.string().optional(),
  district: z.string().optional(),
  stateOrRegion: z.string().optional(),
  postalCode: z.string().optional(),
  countryCode: z.string().optional(),
  phoneNumber: z.string().optional(),
});

export const createCheckoutSessionRequestSchema = z.strictObject({
  storeId: z.string().min(1),
  webCheckoutDetails: z.strictObject({
    checkoutReviewReturnUrl: z.string().optional(),
    checkoutResultReturnUrl: z.string().optional(),
    checkoutCancelUrl: z.string().optional(),
    checkoutMode: z.literal('ProcessOrder').optional(),
  }),
  scopes: z.array(z.string()).optional(),
  chargePermissionType: z.enum(chargePermissionTypes).optional(),
  recurringMetadata: recurringMetadataRequest.optional(),
  paymentDetails: paymentDetailsRequest.optional(),
  merchantMetadata: merchantMetadataRequest.optional(),
  addressDetails: addressRequest.optional(),
  deliverySpecifications: z
    .strictObject({
      specialRestrictions: z.array(z.enum(['RestrictPOBoxes', 'RestrictPackstations'])).optional(),
      addressRestrictions: z
        .strictObject({
          type: z.enum(['Allowed', 'NotAllowed']),
          restrictions: z.record(
            z.string(),
            z.strictObject({
              statesOrRegions: z.array(z.string()).optional(),
              zipCodes: z.array(z.string()).optional(),
            }),
          ),
        })
        .optional(),
    })
    .optional(),
  platformId: z.string().optional(),
  providerMetadata: providerMetadataRequest.optional(),
  supplementaryData: z.string().optional(),
  paymentMethodOnFileMetadata: z.strictObject({ setupOnly: z.boolean().optional() }).optional(),
  chargePermissionId: z.string().optional(),
});
export type CreateCheckoutSessionRequest = z.input<typeof createCheckoutSessionRequestSchema>;

export const updateCheckoutSessionRequestSchema = z.strictObject({
  webCheckoutDetails: z
    .strictObject({ checkoutResultReturnUrl: z.string().optional(), checkoutCancelUrl: z.string().optional() })
    .optional(),
  paymentDetails: paymentDetailsRequest.optional(),
  merchantMetadata: merchantMetadataRequest.optional(),
  chargePermissionType: z.enum(chargePermissionTypes).optional(),
  recurringMetadata: recurringMetadataRequest.optional(),
  supplementaryData: z.string().optional(),
  platformId: z.string().optional(),
  providerMetadata: providerMetadataRequest.optional(),
  // Multi-address checkout (§2.8): its shape is not documented in our reference, so it is passed through.
  multiAddressesCheckoutMetadata: z.array(z.record(z.string(), z.unknown())).optional(),
});
export type UpdateCheckoutSessionRequest = z.input<typeof updateCheckoutSessionRequestSchema>;

export const completeCheckoutSessionRequestSchema = z.strictObject({
  /** Must equal the session's paymentDetails.chargeAmount, otherwise 409 AmountMismatch. */
  chargeAmount: requestPrice,
  totalOrderAmount: requestPrice.optional(),
});
export type CompleteCheckoutSessionRequest = z.input<typeof completeCheckoutSessionRequestSchema>;

export const updateChargePermissionRequestSchema = z.strictObject({
  merchantMetadata: merchantMetadataRequest.optional(),
  recurringMetadata: recurringMetadataRequest.optional(),
});
export type UpdateChargePermissionRequest = z.input<typeof updateChargePermissionRequestSchema>;

export const closeChargePermissionRequestSchema = z.strictObject({
  closureReason: z.string().optional(),
  cancelPendingCharges: z.boolean().optional(),
});
export type CloseChargePermissionRequest = z.input<typeof closeChargePermissionRequestSchema>;

export const createChargeRequestSchema = z
  .strictObject({
    chargePermissionId: z.string().min(1),
    chargeAmount: requestPrice,
    captureNow: z.boolean().optional(),
    canHandlePendingAuthorization: z.boolean().optional(),
    /** At most 16 characters, shown as `AMZ* <descriptor>`; only with captureNow. */
    softDescriptor: z.string().max(16).optional(),
    merchantMetadata: merchantMetadataRequest.optional(),
    providerMetadata: providerMetadataRequest.optional(),
    platformId: z.string().optional(),
    chargeInitiator: z.enum(['CITU', 'MITU', 'CITR', 'MITR']).optional(),
    channel: z.enum(['Web', 'Phone', 'App', 'Alexa', 'PointOfSale', 'FireTv', 'Offline', 'Amazon']).optional(),
    webCheckoutDetails: z.strictObject({ checkoutResultReturnUrl: z.string().optional() }).optional(),
  })
  .superRefine((body, ctx) => {
    // §2.5: Amazon only takes a soft descriptor on a charge that is captured right away.
    if (body.softDescriptor !== undefined && body.captureNow !== true) {
      ctx.addIssue({
        code: 'custom',
        path: ['softDescriptor'],
        message: 'softDescriptor is only allowed when captureNow is true',
      });
    }
  });
export type CreateChargeRequest = z.input<typeof createChargeRequestSchema>;

export const captureChargeRequestSchema = z.strictObject({
  captureAmount: requestPrice,
  softDescriptor: z.string().max(16).optional(),
});
export type CaptureChargeRequest = z.input<typeof captureChargeRequestSchema>;

export const cancelChargeRequestSchema = z.strictObject({ cancellationReason: z.string().optional() });
export type CancelChargeRequest = z.input<typeof cancelChargeRequestSchema>;

export const createRefundRequestSchema = z.strictObject({
  chargeId: z.string().min(1),
  refundAmount: requestPrice,
  softDescriptor: z.string().max(16).optional(),
});
export type CreateRefundRequest = z.input<typeof createRefundRequestSchema>;
