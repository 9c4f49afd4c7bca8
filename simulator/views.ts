import type { SimulatorEngine } from './engine';
import { toPrice, type Money } from './money';
import {
  type Charge,
  type ChargePermission,
  type CheckoutSession,
  type Refund,
  type RecurringMetadata,
  amazonTimestamp,
} from './model';

const price = (m: Money | null) => (m ? toPrice(m) : null);

const recurring = (r: RecurringMetadata | null) => (r ? { frequency: r.frequency, amount: price(r.amount) } : null);

/** Key order follows a live response (the Node SDK tests compare key lists). */
export function checkoutSessionView(engine: SimulatorEngine, s: CheckoutSession, publicBaseUrl: string) {
  const constraints = engine.constraintsOf(s);
  const open = s.state === 'Open';
  const redirect = open && constraints.length === 0 ? `${publicBaseUrl}/checkout/pay/${s.checkoutSessionId}` : null;
  const pd = s.paymentDetails;
  return {
    checkoutSessionId: s.checkoutSessionId,
    webCheckoutDetails: {
      checkoutReviewReturnUrl: s.webCheckoutDetails.checkoutReviewReturnUrl,
      checkoutResultReturnUrl: s.webCheckoutDetails.checkoutResultReturnUrl,
      checkoutCancelUrl: s.webCheckoutDetails.checkoutCancelUrl,
      amazonPayRedirectUrl: redirect,
      checkoutMode: s.webCheckoutDetails.checkoutMode,
    },
    productType: s.productType,
    paymentDetails: {
      paymentIntent: pd.paymentIntent,
      canHandlePendingAuthorization: pd.canHandlePendingAuthorization,
      chargeAmount: price(pd.chargeAmount),
      totalOrderAmount: price(pd.totalOrderAmount),
      softDescriptor: pd.softDescriptor,
      presentmentCurrency: pd.presentmentCurrency,
      allowOvercharge: pd.allowOvercharge,
      extendExpiration: pd.extendExpiration,
    },
    chargePermissionType: s.chargePermissionType,
    orderType: null,
    recurringMetadata: recurring(s.recurringMetadata),
    paymentMethodOnFileMetadata: null,
    merchantDetails: null,
    merchantMetadata: s.merchantMetadata,
    supplementaryData: s.supplementaryData,
    // Buyer details are only given while the session is Open.
    buyer: open ? s.buyer : null,
    billingAddress: open ? s.billingAddress : null,
    paymentPreferences:
      open && s.buyer ? [{ paymentDescriptor: engine.buyerDescriptor(s.paymentMethod ?? 'happy') }] : [null],
    statusDetails: {
      state: s.state,
      reasonCode: s.reasonCode,
      reasonDescription: s.reasonDescription,
      lastUpdatedTimestamp: amazonTimestamp(s.lastUpdated),
    },
    shippingAddress: open ? s.shippingAddress : null,
    platformId: s.platformId,
    chargePermissionId: s.state === 'Completed' ? s.chargePermissionId : null,
    chargeId: s.state === 'Completed' ? s.chargeId : null,
    constraints,
    creationTimestamp: amazonTimestamp(s.creation),
    expirationTimestamp: amazonTimestamp(s.expiration),
    storeId: s.storeId,
    providerMetadata: s.providerMetadata,
    releaseEnvironment: s.env,
    checkoutButtonText: null,
    deliverySpecifications: s.deliverySpecifications,
    tokens: null,
  };
}

export function chargePermissionView(engine: SimulatorEngine, cp: ChargePermission) {
  const limits = engine.limitsOf(cp);
  return {
    chargePermissionId: cp.chargePermissionId,
    chargePermissionReferenceId: null,
    chargePermissionType: cp.chargePermissionType,
    recurringMetadata: recurring(cp.recurringMetadata),
    buyer: cp.buyer,
    shippingAddress: cp.shippingAddress,
    billingAddress: cp.billingAddress,
    paymentPreferences: [{ paymentDescriptor: engine.buyerDescriptor(cp.paymentMethod) }],
    merchantMetadata: cp.merchantMetadata,
    platformId: cp.platformId,
    limits: { amountLimit: toPrice(limits.amountLimit), amountBalance: toPrice(limits.amountBalance) },
    statusDetails: { state: cp.state, reasons: cp.reasons, lastUpdatedTimestamp: amazonTimestamp(cp.lastUpdated) },
    creationTimestamp: amazonTimestamp(cp.creation),
    expirationTimestamp: cp.expiration === null ? null : amazonTimestamp(cp.expiration),
    presentmentCurrency: cp.presentmentCurrency,
    releaseEnvironment: cp.env,
  };
}

export function chargeView(c: Charge) {
  const currency = c.chargeAmount.currencyCode;
  return {
    chargeId: c.chargeId,
    chargePermissionId: c.chargePermissionId,
    chargeAmount: toPrice(c.chargeAmount),
    captureAmount: price(c.captureAmount),
    refundedAmount: toPrice({ minor: c.refundedMinor, currencyCode: currency }),
    convertedAmount: null,
    conversionRate: null,
    softDescriptor: c.softDescriptor,
    providerMetadata: c.providerMetadata,
    channel: c.channel,
    chargeInitiator: c.chargeInitiator,
    statusDetails: {
      state: c.state,
      reasonCode: c.reasonCode,
      reasonDescription: c.reasonDescription,
      lastUpdatedTimestamp: amazonTimestamp(c.lastUpdated),
    },
    creationTimestamp: amazonTimestamp(c.creation),
    expirationTimestamp: amazonTimestamp(c.expiration),
    merchantMetadata: c.merchantMetadata,
    platformId: c.platformId,
    webCheckoutDetails: c.webCheckoutDetails,
    releaseEnvironment: c.env,
  };
}

export function refundView(r: Refund) {
  return {
    refundId: r.refundId,
    chargeId: r.chargeId,
    creationTimestamp: amazonTimestamp(r.creation),
    refundAmount: toPrice(r.refundAmount),
    statusDetails: {
      state: r.state,
      reasonCode: r.reasonCode,
      reasonDescription: r.reasonDescription,
      lastUpdatedTimestamp: amazonTimestamp(r.lastUpdated),
    },
    softDescriptor: r.softDescriptor,
    releaseEnvironment: r.env,
  };
}
