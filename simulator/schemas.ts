import { z } from 'zod';
import { AmazonPayApiError } from './errors';

const opt = <T extends z.ZodType>(schema: T) => schema.nullable().optional();

export const priceSchema = z.strictObject({
  amount: z.union([z.string().min(1), z.number().positive()]),
  currencyCode: z.string().length(3),
});
export type PriceInput = z.infer<typeof priceSchema>;

const urlSchema = z.string().url().max(1024);

const merchantMetadataSchema = z.strictObject({
  merchantReferenceId: opt(z.string().max(256)),
  merchantStoreName: opt(z.string().max(50)),
  noteToBuyer: opt(z.string().max(255)),
  customInformation: opt(z.string().max(4096)),
});
export type MerchantMetadataInput = z.infer<typeof merchantMetadataSchema>;

const recurringMetadataSchema = z.strictObject({
  frequency: opt(
    z.strictObject({
      unit: z.enum(['Year', 'Month', 'Week', 'Day', 'Variable']),
      value: z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]),
    }),
  ),
  amount: opt(priceSchema),
});
export type RecurringMetadataInput = z.infer<typeof recurringMetadataSchema>;

const paymentDetailsSchema = z.strictObject({
  paymentIntent: opt(z.enum(['Confirm', 'Authorize', 'AuthorizeWithCapture'])),
  canHandlePendingAuthorization: opt(z.boolean()),
  chargeAmount: opt(priceSchema),
  totalOrderAmount: opt(priceSchema),
  softDescriptor: opt(z.string().max(16)),
  presentmentCurrency: opt(z.string().length(3)),
  allowOvercharge: opt(z.boolean()),
  extendExpiration: opt(z.boolean()),
  estimateOrderTotal: opt(priceSchema),
});
export type PaymentDetailsInput = z.infer<typeof paymentDetailsSchema>;

const providerMetadataSchema = z.strictObject({ providerReferenceId: opt(z.string().max(256)) });

const SCOPES = ['name', 'email', 'postalcode', 'shippingaddress', 'phonenumber', 'primestatus', 'billingaddress'];

export const createCheckoutSessionSchema = z.strictObject({
  storeId: z.string().min(1),
  webCheckoutDetails: z.strictObject({
    checkoutReviewReturnUrl: opt(urlSchema),
    checkoutResultReturnUrl: opt(urlSchema),
    checkoutCancelUrl: opt(urlSchema),
    checkoutMode: opt(z.literal('ProcessOrder')),
  }),
  productType: opt(z.enum(['PayAndShip', 'PayOnly', 'SignIn'])),
  // .NET sends the enum in PascalCase, the docs lower camel case.
  scopes: opt(z.array(z.string().refine((s) => SCOPES.includes(s.toLowerCase())))),
  deliverySpecifications: opt(z.record(z.string(), z.unknown())),
  paymentDetails: opt(paymentDetailsSchema),
  merchantMetadata: opt(merchantMetadataSchema),
  chargePermissionType: opt(z.enum(['OneTime', 'Recurring', 'PaymentMethodOnFile'])),
  recurringMetadata: opt(recurringMetadataSchema),
  platformId: opt(z.string().max(64)),
  providerMetadata: opt(providerMetadataSchema),
  supplementaryData: opt(z.string()),
  addressDetails: opt(z.record(z.string(), z.unknown())),
  paymentMethodOnFileMetadata: opt(z.record(z.string(), z.unknown())),
  chargePermissionId: opt(z.string()),
});
export type CreateCheckoutSessionInput = z.infer<typeof createCheckoutSessionSchema>;

export const updateCheckoutSessionSchema = z.strictObject({
  webCheckoutDetails: opt(
    z.strictObject({
      checkoutReviewReturnUrl: opt(urlSchema),
      checkoutResultReturnUrl: opt(urlSchema),
      checkoutCancelUrl: opt(urlSchema),
    }),
  ),
  paymentDetails: opt(paymentDetailsSchema),
  merchantMetadata: opt(merchantMetadataSchema),
  chargePermissionType: opt(z.enum(['OneTime', 'Recurring', 'PaymentMethodOnFile'])),
  recurringMetadata: opt(recurringMetadataSchema),
  supplementaryData: opt(z.string()),
  platformId: opt(z.string().max(64)),
  providerMetadata: opt(providerMetadataSchema),
  multiAddressesCheckoutMetadata: opt(z.unknown()),
});
export type UpdateCheckoutSessionInput = z.infer<typeof updateCheckoutSessionSchema>;

export const completeCheckoutSessionSchema = z.strictObject({
  chargeAmount: priceSchema,
  totalOrderAmount: opt(priceSchema),
});
export type CompleteCheckoutSessionInput = z.infer<typeof completeCheckoutSessionSchema>;

export const updateChargePermissionSchema = z.strictObject({
  merchantMetadata: opt(merchantMetadataSchema),
  recurringMetadata: opt(recurringMetadataSchema),
});
export type UpdateChargePermissionInput = z.infer<typeof updateChargePermissionSchema>;

export const closeChargePermissionSchema = z.strictObject({
  closureReason: opt(z.string().max(255)),
  cancelPendingCharges: opt(z.boolean()),
});
export type CloseChargePermissionInput = z.infer<typeof closeChargePermissionSchema>;

export const createChargeSchema = z.strictObject({
  chargePermissionId: z.string().min(1),
  chargeAmount: priceSchema,
  captureNow: opt(z.boolean()),
  canHandlePendingAuthorization: opt(z.boolean()),
  softDescriptor: opt(z.string().max(16)),
  merchantMetadata: opt(merchantMetadataSchema),
  providerMetadata: opt(providerMetadataSchema),
  platformId: opt(z.string().max(64)),
  chargeInitiator: opt(z.enum(['CITU', 'MITU', 'CITR', 'MITR'])),
  channel: opt(z.enum(['Web', 'Phone', 'App', 'Alexa', 'PointOfSale', 'FireTv', 'Offline', 'Amazon'])),
  webCheckoutDetails: opt(z.strictObject({ checkoutResultReturnUrl: opt(urlSchema) })),
});
export type CreateChargeInput = z.infer<typeof createChargeSchema>;

export const captureChargeSchema = z.strictObject({
  captureAmount: priceSchema,
  softDescriptor: opt(z.string().max(16)),
});
export type CaptureChargeInput = z.infer<typeof captureChargeSchema>;

export const cancelChargeSchema = z.strictObject({ cancellationReason: opt(z.string().max(255)) });
export type CancelChargeInput = z.infer<typeof cancelChargeSchema>;

export const createRefundSchema = z.strictObject({
  chargeId: z.string().min(1),
  refundAmount: priceSchema,
  softDescriptor: opt(z.string().max(16)),
});
export type CreateRefundInput = z.infer<typeof createRefundSchema>;

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let current = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** Validates a request body, answering with Amazon's reason codes instead of zod's messages. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new AmazonPayApiError(400, 'InvalidRequestFormat', 'The request body must be a JSON object.');
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const unrecognized = result.error.issues.find((i) => i.code === 'unrecognized_keys');
  if (unrecognized && unrecognized.code === 'unrecognized_keys') {
    throw new AmazonPayApiError(
      400,
      'UnrecognizedField',
      `The field '${unrecognized.keys[0]}' is invalid for this API.`,
    );
  }
  const issue = result.error.issues[0]!;
  const name = issue.path.map(String).join('.');
  if (valueAt(body, issue.path) === undefined) {
    throw new AmazonPayApiError(400, 'MissingParameterValue', `Value is missing for the required parameter ${name}`);
  }
  throw new AmazonPayApiError(400, 'InvalidParameterValue', `The value provided for ${name} is invalid.`);
}
