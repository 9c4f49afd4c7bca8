import type { CurrencyCode, Money } from './money';

export type Environment = 'Sandbox' | 'Live';

export type PaymentMethodChoice =
  | 'happy'
  | 'softDecline'
  | 'hardDecline'
  | 'pendingThenAuthorized'
  | 'pendingThenDeclined'
  | 'declinedAtAmazon'
  | 'buyerCancel';

export const PAYMENT_METHODS: Record<PaymentMethodChoice, { descriptor: string; label: string }> = {
  happy: { descriptor: 'Visa ****1111', label: 'Succeeds' },
  softDecline: { descriptor: 'Visa ****7007', label: 'Checkout succeeds; later merchant charges are SoftDeclined' },
  hardDecline: { descriptor: 'Visa ****9009', label: 'Checkout succeeds; later merchant charges are HardDeclined' },
  pendingThenAuthorized: { descriptor: 'Visa ****0701', label: 'Authorization pending, then Authorized' },
  pendingThenDeclined: { descriptor: 'Visa ****4354', label: 'Authorization pending, then Declined (HardDeclined)' },
  declinedAtAmazon: { descriptor: 'Visa ****3434', label: 'Checkout Session Canceled / Declined' },
  buyerCancel: { descriptor: 'Visa ****3064', label: 'Checkout Session Canceled / BuyerCanceled' },
};

export const PAYMENT_METHOD_CHOICES = Object.keys(PAYMENT_METHODS) as PaymentMethodChoice[];

export type OperationName =
  | 'createCheckoutSession'
  | 'getCheckoutSession'
  | 'updateCheckoutSession'
  | 'completeCheckoutSession'
  | 'getChargePermission'
  | 'updateChargePermission'
  | 'closeChargePermission'
  | 'createCharge'
  | 'getCharge'
  | 'captureCharge'
  | 'cancelCharge'
  | 'createRefund'
  | 'getRefund';

export interface Buyer {
  buyerId: string;
  name: string;
  email: string;
  phoneNumber: string | null;
  primeMembershipTypes: string[] | null;
}

export type Address = Record<string, string | null>;

export interface MerchantMetadata {
  merchantReferenceId: string | null;
  merchantStoreName: string | null;
  noteToBuyer: string | null;
  customInformation: string | null;
}

export interface RecurringMetadata {
  frequency: { unit: string; value: string } | null;
  amount: Money | null;
}

export type PaymentIntent = 'Confirm' | 'Authorize' | 'AuthorizeWithCapture';

export interface CheckoutSession {
  checkoutSessionId: string;
  merchantId: string;
  env: Environment;
  storeId: string;
  webCheckoutDetails: {
    checkoutReviewReturnUrl: string | null;
    checkoutResultReturnUrl: string | null;
    checkoutCancelUrl: string | null;
    checkoutMode: string | null;
  };
  productType: string;
  paymentDetails: {
    paymentIntent: PaymentIntent | null;
    canHandlePendingAuthorization: boolean;
    chargeAmount: Money | null;
    totalOrderAmount: Money | null;
    softDescriptor: string | null;
    presentmentCurrency: string | null;
    allowOvercharge: boolean | null;
    extendExpiration: boolean | null;
  };
  chargePermissionType: 'OneTime' | 'Recurring' | 'PaymentMethodOnFile';
  recurringMetadata: RecurringMetadata | null;
  merchantMetadata: MerchantMetadata;
  platformId: string | null;
  providerMetadata: { providerReferenceId: string | null };
  supplementaryData: string | null;
  deliverySpecifications: unknown;
  buyer: Buyer | null;
  shippingAddress: Address | null;
  billingAddress: Address | null;
  paymentMethod: PaymentMethodChoice | null;
  state: 'Open' | 'Completed' | 'Canceled';
  reasonCode: string | null;
  reasonDescription: string | null;
  lastUpdated: number;
  creation: number;
  expiration: number;
  chargePermissionId: string | null;
  chargeId: string | null;
  /** The buyer went through the payment page and was sent back to checkoutResultReturnUrl. */
  buyerPaid: boolean;
  expiryDeadline: number | undefined;
}

export interface ChargePermissionReason {
  reasonCode: string;
  reasonDescription: string;
}

export interface ChargePermission {
  chargePermissionId: string;
  merchantId: string;
  env: Environment;
  chargePermissionType: 'OneTime' | 'Recurring' | 'PaymentMethodOnFile';
  recurringMetadata: RecurringMetadata | null;
  buyer: Buyer;
  shippingAddress: Address | null;
  billingAddress: Address | null;
  paymentMethod: PaymentMethodChoice;
  merchantMetadata: MerchantMetadata;
  platformId: string | null;
  state: 'Chargeable' | 'NonChargeable' | 'Closed';
  reasons: ChargePermissionReason[] | null;
  lastUpdated: number;
  creation: number;
  expiration: number | null;
  currency: CurrencyCode;
  /** OneTime: the order amount; closes once captured in full. */
  amountLimit: Money | null;
  presentmentCurrency: string;
  checkoutSessionId: string;
  /** Objects created at the payment page stay invisible to the merchant until Complete. */
  visible: boolean;
  closeDeadline: number | undefined;
}

export type ChargeState =
  'AuthorizationInitiated' | 'Authorized' | 'CaptureInitiated' | 'Captured' | 'Canceled' | 'Declined';

export interface Charge {
  chargeId: string;
  chargePermissionId: string;
  checkoutSessionId: string | null;
  merchantId: string;
  env: Environment;
  chargeAmount: Money;
  captureAmount: Money | null;
  refundedMinor: number;
  softDescriptor: string | null;
  providerMetadata: { providerReferenceId: string | null };
  merchantMetadata: MerchantMetadata;
  channel: string | null;
  chargeInitiator: string | null;
  platformId: string | null;
  webCheckoutDetails: { checkoutResultReturnUrl: string | null } | null;
  state: ChargeState;
  reasonCode: string | null;
  reasonDescription: string | null;
  lastUpdated: number;
  creation: number;
  expiration: number;
  authorizedAt: number | null;
  captureNow: boolean;
  canHandlePendingAuthorization: boolean;
  visible: boolean;
  deadlines: number[];
}

export interface Refund {
  refundId: string;
  chargeId: string;
  chargePermissionId: string;
  merchantId: string;
  env: Environment;
  refundAmount: Money;
  softDescriptor: string | null;
  state: 'RefundInitiated' | 'Refunded' | 'Declined';
  reasonCode: string | null;
  reasonDescription: string | null;
  lastUpdated: number;
  creation: number;
}

export type MovementKind = 'authorization' | 'authorizationRelease' | 'capture' | 'refund';

export interface MoneyMovement {
  kind: MovementKind;
  minor: number;
  currencyCode: CurrencyCode;
  chargePermissionId: string;
  checkoutSessionId: string | null;
  chargeId?: string;
  refundId?: string;
  at: number;
}

export type NotificationObjectType = 'CHARGE' | 'REFUND' | 'CHARGE_PERMISSION' | 'CHARGEBACK';

export interface Notification {
  objectType: NotificationObjectType;
  objectId: string;
  chargePermissionId: string;
  notificationType: 'STATE_CHANGE' | 'ATTRIBUTE_CHANGE';
}

/** `YYYYMMDDThhmmssZ`, the compact form every Amazon Pay v2 response uses. */
export function amazonTimestamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}
