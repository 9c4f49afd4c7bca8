import { randomInt, randomUUID } from 'node:crypto';
import type { SimClock } from './clock';
import { AmazonPayApiError, BuyerPageError, invalidParameter, notFound } from './errors';
import { type CurrencyCode, type Money, decimalsOf, maxTransactionMinor, parsePrice, toPrice, money } from './money';
import {
  type Charge,
  type ChargePermission,
  type ChargePermissionReason,
  type ChargeState,
  type CheckoutSession,
  type Environment,
  type MerchantMetadata,
  type MoneyMovement,
  type MovementKind,
  type Notification,
  type PaymentMethodChoice,
  type RecurringMetadata,
  type Refund,
  PAYMENT_METHODS,
} from './model';
import type {
  CancelChargeInput,
  CaptureChargeInput,
  CloseChargePermissionInput,
  CompleteCheckoutSessionInput,
  CreateChargeInput,
  CreateCheckoutSessionInput,
  CreateRefundInput,
  MerchantMetadataInput,
  PaymentDetailsInput,
  RecurringMetadataInput,
  UpdateChargePermissionInput,
  UpdateCheckoutSessionInput,
} from './schemas';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface EngineTimings {
  /** Open sessions are Canceled/Expired this long after creation (24 h). */
  sessionLifetimeMs: number;
  /** AuthorizationInitiated resolves after this delay (sandbox: about 30 s). */
  pendingAuthorizationMs: number;
  /** CaptureInitiated resolves after this delay. */
  captureInitiatedMs: number;
  /** RefundInitiated resolves after this delay. */
  refundMs: number;
  /** Authorized charges expire (Canceled/ExpiredUnused) this long after authorization (30 d). */
  authorizationValidityMs: number;
  /** Captures later than this after authorization go through CaptureInitiated (7 d). */
  synchronousCaptureWindowMs: number;
  /** OneTime charge permissions close (Expired) this long after creation (180 d). */
  oneTimeChargePermissionLifetimeMs: number;
  /** Recurring charge permissions close after this long without a charge (about 13 months). */
  recurringInactivityMs: number;
  /** Delay used by the ExpiredUnused and AmazonCanceled simulation codes. */
  simulatedCancellationMs: number;
}

export const DEFAULT_TIMINGS: EngineTimings = {
  sessionLifetimeMs: DAY,
  pendingAuthorizationMs: 30_000,
  captureInitiatedMs: 30_000,
  refundMs: 30_000,
  authorizationValidityMs: 30 * DAY,
  synchronousCaptureWindowMs: 7 * DAY,
  oneTimeChargePermissionLifetimeMs: 180 * DAY,
  recurringInactivityMs: 395 * DAY,
  simulatedCancellationMs: 30_000,
};

export type ClosureReasonSpelling = 'modern' | 'legacy';

export interface EngineOptions {
  clock: SimClock;
  timings: EngineTimings;
  /** Monthly cap per recurring charge permission, in major units per currency (US: USD 1000). */
  recurringMonthlyLimit: Partial<Record<CurrencyCode, number>>;
  /** `modern`: MerchantClosed/BuyerClosed (.NET enum); `legacy`: MerchantCanceled/BuyerCanceled (older docs). */
  closureReasonSpelling: ClosureReasonSpelling;
  /** Complete on a Canceled session: 422 by default (a Node SDK issue shows 422; JTL lists 400). */
  checkoutSessionCanceledStatus: 400 | 422;
  notify: (n: Notification) => void;
}

export interface RequestContext {
  merchantId: string;
  env: Environment;
  simulationCode: string | undefined;
  /** Origin that the buyer's browser reaches the simulator at, for amazonPayRedirectUrl. */
  publicBaseUrl: string;
}

const CONSTRAINTS = {
  BuyerNotAssociated:
    'There is no buyer associated with the Checkout Session. Return the checkout session id to the Amazon Pay Button to allow buyer to login.',
  ChargeAmountNotSet: 'chargeAmount is not set.',
  CheckoutResultReturnUrlNotSet: 'checkoutResultReturnUrl is not set.',
  PaymentIntentNotSet: 'paymentIntent is not set.',
} as const;

/** §3.2: NonChargeable while a charge on the permission is pending ("no new one until it is canceled"). */
const CHARGE_IN_PROGRESS: ChargePermissionReason = {
  reasonCode: 'ChargeInProgress',
  reasonDescription:
    'A charge on this Charge Permission is pending. No new charge can be created until it is authorized, declined or canceled.',
};

/** §8.4: monthly cap of a PaymentMethodOnFile ("Saved Wallet") permission, in major units. */
const PAYMENT_METHOD_ON_FILE_MONTHLY_LIMIT: Record<CurrencyCode, number> = {
  USD: 15_000,
  EUR: 15_000,
  GBP: 15_000,
  AUD: 15_000,
  CHF: 15_000,
  NZD: 15_000,
  DKK: 150_000,
  HKD: 150_000,
  NOK: 150_000,
  SEK: 150_000,
  ZAR: 150_000,
  JPY: 2_000_000,
};

const digits = (n: number) => Array.from({ length: n }, () => randomInt(10)).join('');
const alnum = (n: number) =>
  Array.from({ length: n }, () => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'[randomInt(36)]).join('');

const emptyMerchantMetadata = (): MerchantMetadata => ({
  merchantReferenceId: null,
  merchantStoreName: null,
  noteToBuyer: null,
  customInformation: null,
});

function mergeMerchantMetadata(
  current: MerchantMetadata,
  input: MerchantMetadataInput | null | undefined,
): MerchantMetadata {
  if (!input) return current;
  const next = { ...current };
  for (const key of Object.keys(next) as Array<keyof MerchantMetadata>) {
    if (input[key] !== undefined) next[key] = input[key] ?? null;
  }
  return next;
}

function parseRecurringMetadata(
  input: RecurringMetadataInput | null | undefined,
  field: string,
): RecurringMetadata | null {
  if (!input) return null;
  return {
    frequency: input.frequency ? { unit: input.frequency.unit, value: String(input.frequency.value) } : null,
    amount: input.amount ? parsePrice(input.amount, `${field}.amount`) : null,
  };
}

const sameMoney = (a: Money, b: Money) => a.minor === b.minor && a.currencyCode === b.currencyCode;

const simulatedAddress = () => ({
  name: 'Jane Doe',
  addressLine1: '10 Ditka Ave',
  addressLine2: 'Suite 2500',
  addressLine3: null,
  city: 'Chicago',
  county: null,
  district: null,
  stateOrRegion: 'IL',
  postalCode: '60602',
  countryCode: 'US',
  phoneNumber: '800-000-0000',
});

/** The in-memory state of the simulated Amazon Pay, and every state machine transition. */
export class SimulatorEngine {
  readonly sessions = new Map<string, CheckoutSession>();
  readonly chargePermissions = new Map<string, ChargePermission>();
  readonly charges = new Map<string, Charge>();
  readonly refunds = new Map<string, Refund>();
  readonly movements: MoneyMovement[] = [];
  /** Each permission's charges and each charge's refunds, in creation order, so per-object totals never scan the whole simulator. */
  private readonly chargesByPermission = new Map<string, Charge[]>();
  private readonly refundsByCharge = new Map<string, Refund[]>();

  constructor(private readonly options: EngineOptions) {}

  get timings(): EngineTimings {
    return this.options.timings;
  }

  private get clock(): SimClock {
    return this.options.clock;
  }

  private now(): number {
    return this.clock.nowMs();
  }

  reset(): void {
    this.sessions.clear();
    this.chargePermissions.clear();
    this.charges.clear();
    this.refunds.clear();
    this.chargesByPermission.clear();
    this.refundsByCharge.clear();
    this.movements.length = 0;
  }

  private chargesOf(cp: ChargePermission): readonly Charge[] {
    return this.chargesByPermission.get(cp.chargePermissionId) ?? [];
  }

  private refundsOf(charge: Charge): readonly Refund[] {
    return this.refundsByCharge.get(charge.chargeId) ?? [];
  }

  // ---------------------------------------------------------------- ids, look-ups, notifications

  private newChargePermissionId(env: Environment): string {
    for (;;) {
      const id = `${env === 'Sandbox' ? 'S' : 'P'}01-${digits(7)}-${digits(7)}`;
      if (!this.chargePermissions.has(id)) return id;
    }
  }

  private newChildId(cpId: string, letter: 'C' | 'R'): string {
    for (;;) {
      const id = `${cpId}-${letter}${digits(6)}`;
      if (!this.charges.has(id) && !this.refunds.has(id)) return id;
    }
  }

  private notify(n: Notification, visible = true): void {
    if (visible) this.options.notify(n);
  }

  private notifyCharge(charge: Charge, type: Notification['notificationType'] = 'STATE_CHANGE'): void {
    this.notify(
      {
        objectType: 'CHARGE',
        objectId: charge.chargeId,
        chargePermissionId: charge.chargePermissionId,
        notificationType: type,
      },
      charge.visible,
    );
  }

  private notifyChargePermission(cp: ChargePermission, type: Notification['notificationType'] = 'STATE_CHANGE'): void {
    this.notify(
      {
        objectType: 'CHARGE_PERMISSION',
        objectId: cp.chargePermissionId,
        chargePermissionId: cp.chargePermissionId,
        notificationType: type,
      },
      cp.visible,
    );
  }

  private move(kind: MovementKind, amount: Money, charge: Charge, refundId?: string): void {
    if (amount.minor <= 0) return;
    this.movements.push({
      kind,
      minor: amount.minor,
      currencyCode: amount.currencyCode,
      chargePermissionId: charge.chargePermissionId,
      checkoutSessionId: charge.checkoutSessionId,
      chargeId: charge.chargeId,
      ...(refundId ? { refundId } : {}),
      at: this.now(),
    });
  }

  session(ctx: Pick<RequestContext, 'merchantId' | 'env'>, id: string): CheckoutSession {
    const s = this.sessions.get(id);
    if (!s || s.merchantId !== ctx.merchantId || s.env !== ctx.env) throw notFound('Checkout Session', id);
    return s;
  }

  chargePermission(ctx: Pick<RequestContext, 'merchantId' | 'env'>, id: string): ChargePermission {
    const cp = this.chargePermissions.get(id);
    if (!cp || !cp.visible || cp.merchantId !== ctx.merchantId || cp.env !== ctx.env)
      throw notFound('Charge Permission', id);
    return cp;
  }

  charge(ctx: Pick<RequestContext, 'merchantId' | 'env'>, id: string): Charge {
    const c = this.charges.get(id);
    if (!c || !c.visible || c.merchantId !== ctx.merchantId || c.env !== ctx.env) throw notFound('Charge', id);
    return c;
  }

  refund(ctx: Pick<RequestContext, 'merchantId' | 'env'>, id: string): Refund {
    const r = this.refunds.get(id);
    if (!r || r.merchantId !== ctx.merchantId || r.env !== ctx.env) throw notFound('Refund', id);
    return r;
  }

  // ---------------------------------------------------------------- checkout session

  constraintsOf(s: CheckoutSession): Array<{ constraintId: keyof typeof CONSTRAINTS; description: string }> {
    if (s.state !== 'Open') return [];
    const ids: Array<keyof typeof CONSTRAINTS> = [];
    if (!s.buyer) ids.push('BuyerNotAssociated');
    if (!s.paymentDetails.chargeAmount) ids.push('ChargeAmountNotSet');
    if (!s.webCheckoutDetails.checkoutResultReturnUrl) ids.push('CheckoutResultReturnUrlNotSet');
    if (!s.paymentDetails.paymentIntent) ids.push('PaymentIntentNotSet');
    return ids.map((constraintId) => ({ constraintId, description: CONSTRAINTS[constraintId] }));
  }

  /**
   * The payment details after `input`, validated; `current` is left alone, so a rejected request
   * changes nothing (the caller commits the result only once every check has passed).
   */
  private paymentDetailsWith(
    current: CheckoutSession['paymentDetails'],
    input: PaymentDetailsInput | null | undefined,
  ): CheckoutSession['paymentDetails'] {
    const pd = { ...current };
    if (!input) return pd;
    if (input.paymentIntent !== undefined) pd.paymentIntent = input.paymentIntent ?? null;
    if (input.canHandlePendingAuthorization !== undefined)
      pd.canHandlePendingAuthorization = input.canHandlePendingAuthorization ?? false;
    if (input.chargeAmount !== undefined) {
      pd.chargeAmount = input.chargeAmount ? parsePrice(input.chargeAmount, 'paymentDetails.chargeAmount') : null;
      // §2.5: the session's chargeAmount becomes the Charge, so the per-transaction maximum applies here already.
      if (pd.chargeAmount && pd.chargeAmount.minor > maxTransactionMinor(pd.chargeAmount.currencyCode)) {
        throw invalidParameter(
          'paymentDetails.chargeAmount.amount',
          `It exceeds the maximum of ${toPrice(money(maxTransactionMinor(pd.chargeAmount.currencyCode), pd.chargeAmount.currencyCode)).amount} ${pd.chargeAmount.currencyCode} for a single charge.`,
        );
      }
    }
    if (input.totalOrderAmount !== undefined)
      pd.totalOrderAmount = input.totalOrderAmount
        ? parsePrice(input.totalOrderAmount, 'paymentDetails.totalOrderAmount')
        : null;
    if (input.softDescriptor !== undefined) pd.softDescriptor = input.softDescriptor ?? null;
    if (input.presentmentCurrency !== undefined) pd.presentmentCurrency = input.presentmentCurrency ?? null;
    if (input.allowOvercharge !== undefined) pd.allowOvercharge = input.allowOvercharge ?? null;
    if (input.extendExpiration !== undefined) pd.extendExpiration = input.extendExpiration ?? null;
    if (pd.chargeAmount && pd.totalOrderAmount && pd.chargeAmount.currencyCode !== pd.totalOrderAmount.currencyCode) {
      throw new AmazonPayApiError(
        400,
        'CurrencyMismatch',
        'The currency of chargeAmount and totalOrderAmount must be the same.',
      );
    }
    return pd;
  }

  createCheckoutSession(
    ctx: RequestContext,
    input: CreateCheckoutSessionInput,
    opts: { withBuyer?: boolean } = {},
  ): CheckoutSession {
    const processOrder = input.webCheckoutDetails.checkoutMode === 'ProcessOrder';
    if (!processOrder && !input.webCheckoutDetails.checkoutReviewReturnUrl) {
      throw new AmazonPayApiError(
        400,
        'MissingParameterValue',
        'Value is missing for the required parameter webCheckoutDetails.checkoutReviewReturnUrl',
      );
    }
    if (processOrder && !input.webCheckoutDetails.checkoutResultReturnUrl) {
      throw new AmazonPayApiError(
        400,
        'MissingParameterValue',
        'Value is missing for the required parameter webCheckoutDetails.checkoutResultReturnUrl',
      );
    }
    const type = input.chargePermissionType ?? 'OneTime';
    if (type !== 'Recurring' && input.recurringMetadata) {
      throw new AmazonPayApiError(
        400,
        'InvalidParameterCombination',
        'recurringMetadata is only allowed when chargePermissionType is Recurring.',
      );
    }
    const now = this.now();
    const s: CheckoutSession = {
      checkoutSessionId: randomUUID(),
      merchantId: ctx.merchantId,
      env: ctx.env,
      storeId: input.storeId,
      webCheckoutDetails: {
        checkoutReviewReturnUrl: input.webCheckoutDetails.checkoutReviewReturnUrl ?? null,
        checkoutResultReturnUrl: input.webCheckoutDetails.checkoutResultReturnUrl ?? null,
        checkoutCancelUrl: input.webCheckoutDetails.checkoutCancelUrl ?? null,
        checkoutMode: input.webCheckoutDetails.checkoutMode ?? null,
      },
      productType: input.productType ?? 'PayAndShip',
      paymentDetails: {
        paymentIntent: null,
        canHandlePendingAuthorization: false,
        chargeAmount: null,
        totalOrderAmount: null,
        softDescriptor: null,
        presentmentCurrency: null,
        allowOvercharge: null,
        extendExpiration: null,
      },
      chargePermissionType: type,
      recurringMetadata: parseRecurringMetadata(input.recurringMetadata, 'recurringMetadata'),
      merchantMetadata: mergeMerchantMetadata(emptyMerchantMetadata(), input.merchantMetadata),
      platformId: input.platformId ?? null,
      providerMetadata: { providerReferenceId: input.providerMetadata?.providerReferenceId ?? null },
      supplementaryData: input.supplementaryData ?? null,
      deliverySpecifications: input.deliverySpecifications ?? null,
      buyer: null,
      shippingAddress: null,
      billingAddress: null,
      paymentMethod: null,
      state: 'Open',
      reasonCode: null,
      reasonDescription: null,
      lastUpdated: now,
      creation: now,
      expiration: now + this.timings.sessionLifetimeMs,
      chargePermissionId: null,
      chargeId: null,
      buyerPaid: false,
      expiryDeadline: undefined,
    };
    s.paymentDetails = this.paymentDetailsWith(s.paymentDetails, input.paymentDetails);
    if (processOrder && (!s.paymentDetails.paymentIntent || !s.paymentDetails.chargeAmount)) {
      throw new AmazonPayApiError(
        400,
        'MissingParameterValue',
        'Value is missing for the required parameter paymentDetails',
      );
    }
    if (opts.withBuyer) this.associateBuyer(s);
    s.expiryDeadline = this.clock.at(s.expiration, `checkoutSession ${s.checkoutSessionId} expires`, () =>
      this.expireSession(s),
    );
    this.sessions.set(s.checkoutSessionId, s);
    return s;
  }

  private associateBuyer(s: CheckoutSession): void {
    if (s.buyer) return;
    s.buyer = {
      buyerId: `amzn1.account.${alnum(28)}`,
      name: 'Jane Doe',
      email: 'jane.doe@example.com',
      phoneNumber: '800-000-0000',
      primeMembershipTypes: null,
    };
    s.shippingAddress = s.productType === 'PayAndShip' ? simulatedAddress() : null;
    s.billingAddress = simulatedAddress();
    s.lastUpdated = this.now();
  }

  updateCheckoutSession(ctx: RequestContext, id: string, input: UpdateCheckoutSessionInput): CheckoutSession {
    const s = this.session(ctx, id);
    if (s.state !== 'Open') {
      throw new AmazonPayApiError(
        422,
        'InvalidCheckoutSessionStatus',
        `You tried to call an operation on a Checkout Session that is in a state where that operation is not allowed. Checkout Session state: ${s.state}`,
      );
    }
    if (s.buyerPaid) {
      throw new AmazonPayApiError(
        422,
        'InvalidCheckoutSessionStatus',
        'The buyer already completed the payment for this Checkout Session; it can no longer be updated.',
      );
    }
    // Everything is worked out on copies and checked before the session is touched: a 400 changes nothing.
    const webCheckoutDetails = { ...s.webCheckoutDetails };
    const w = input.webCheckoutDetails;
    if (w) {
      if (w.checkoutReviewReturnUrl !== undefined)
        webCheckoutDetails.checkoutReviewReturnUrl = w.checkoutReviewReturnUrl ?? null;
      if (w.checkoutResultReturnUrl !== undefined)
        webCheckoutDetails.checkoutResultReturnUrl = w.checkoutResultReturnUrl ?? null;
      if (w.checkoutCancelUrl !== undefined) webCheckoutDetails.checkoutCancelUrl = w.checkoutCancelUrl ?? null;
    }
    const paymentDetails = this.paymentDetailsWith(s.paymentDetails, input.paymentDetails);
    const merchantMetadata = mergeMerchantMetadata(s.merchantMetadata, input.merchantMetadata);
    const chargePermissionType = input.chargePermissionType ?? s.chargePermissionType;
    const recurringMetadata =
      input.recurringMetadata !== undefined
        ? parseRecurringMetadata(input.recurringMetadata, 'recurringMetadata')
        : s.recurringMetadata;
    if (chargePermissionType !== 'Recurring' && recurringMetadata) {
      throw new AmazonPayApiError(
        400,
        'InvalidParameterCombination',
        'recurringMetadata is only allowed when chargePermissionType is Recurring.',
      );
    }
    s.webCheckoutDetails = webCheckoutDetails;
    s.paymentDetails = paymentDetails;
    s.merchantMetadata = merchantMetadata;
    s.chargePermissionType = chargePermissionType;
    s.recurringMetadata = recurringMetadata;
    if (input.supplementaryData !== undefined) s.supplementaryData = input.supplementaryData ?? null;
    if (input.platformId !== undefined) s.platformId = input.platformId ?? null;
    if (input.providerMetadata !== undefined)
      s.providerMetadata = { providerReferenceId: input.providerMetadata?.providerReferenceId ?? null };
    s.lastUpdated = this.now();
    return s;
  }

  private cancelSession(s: CheckoutSession, reasonCode: string, reasonDescription: string): void {
    s.state = 'Canceled';
    s.reasonCode = reasonCode;
    s.reasonDescription = reasonDescription;
    s.lastUpdated = this.now();
    this.clock.cancel(s.expiryDeadline);
    // An authorization made at the payment page for a session that never completes is released.
    const charge = s.chargeId ? this.charges.get(s.chargeId) : undefined;
    if (charge && !charge.visible) {
      if (charge.state === 'Authorized' || charge.state === 'AuthorizationInitiated') {
        this.cancelCharge(charge, 'AmazonCanceled', `Checkout Session was canceled (${reasonCode}).`);
      }
    }
    const cp = s.chargePermissionId ? this.chargePermissions.get(s.chargePermissionId) : undefined;
    if (cp && !cp.visible)
      this.closeChargePermission(cp, 'AmazonCanceled', `Checkout Session was canceled (${reasonCode}).`);
    s.chargeId = null;
    s.chargePermissionId = null;
  }

  private expireSession(s: CheckoutSession): void {
    if (s.state !== 'Open') return;
    this.cancelSession(s, 'Expired', 'The Checkout Session expired: it was not completed within 24 hours.');
  }

  signIn(id: string): CheckoutSession {
    const s = this.sessions.get(id);
    if (!s) throw new BuyerPageError(404, `Checkout Session ${id} not found.`);
    if (s.state !== 'Open') throw new BuyerPageError(409, `Checkout Session ${id} is ${s.state}.`);
    this.associateBuyer(s);
    return s;
  }

  /**
   * The buyer picks a payment method on the amazonPayRedirectUrl page. For Authorize intents the
   * authorization happens here, before Complete; Complete only reveals it, so it is counted once.
   * Returns where the browser goes next.
   */
  pay(id: string, method: PaymentMethodChoice | 'cancel'): string {
    const s = this.sessions.get(id);
    if (!s) throw new BuyerPageError(404, `Checkout Session ${id} not found.`);
    const resultUrl = (url: string) => withQuery(url, 'amazonCheckoutSessionId', s.checkoutSessionId);
    const result = s.webCheckoutDetails.checkoutResultReturnUrl;
    if (s.buyerPaid || s.state !== 'Open') {
      // A refresh or double submit: send the browser back where it went the first time, do nothing twice.
      if (result) return resultUrl(result);
      throw new BuyerPageError(409, `Checkout Session ${id} is ${s.state}.`);
    }
    if (this.constraintsOf(s).length > 0 || !result) {
      throw new BuyerPageError(
        409,
        `Checkout Session ${id} still has constraints: ${this.constraintsOf(s)
          .map((c) => c.constraintId)
          .join(', ')}`,
      );
    }
    if (method === 'cancel' || method === 'buyerCancel') {
      s.buyerPaid = true;
      this.cancelSession(s, 'BuyerCanceled', 'The buyer canceled the checkout.');
      return resultUrl(s.webCheckoutDetails.checkoutCancelUrl ?? result);
    }
    s.paymentMethod = method;
    s.buyerPaid = true;
    s.lastUpdated = this.now();
    if (method === 'declinedAtAmazon') {
      this.cancelSession(s, 'Declined', 'The payment was declined.');
      return resultUrl(result);
    }
    const pd = s.paymentDetails;
    const pending = method === 'pendingThenAuthorized' || method === 'pendingThenDeclined';
    if (
      pending &&
      (pd.paymentIntent === 'Authorize' || pd.paymentIntent === 'AuthorizeWithCapture') &&
      !pd.canHandlePendingAuthorization
    ) {
      // Like the sandbox: the 0701/4354 instruments need canHandlePendingAuthorization=true.
      this.cancelSession(
        s,
        'Declined',
        'TransactionTimedOut: this payment method needs canHandlePendingAuthorization=true.',
      );
      return resultUrl(result);
    }
    const amount = pd.chargeAmount!;
    const cp = this.createChargePermission(s, method, amount);
    s.chargePermissionId = cp.chargePermissionId;
    if (pd.paymentIntent !== 'Confirm') {
      const charge = this.newCharge(cp, {
        chargeAmount: amount,
        captureNow: pd.paymentIntent === 'AuthorizeWithCapture',
        canHandlePendingAuthorization: pd.canHandlePendingAuthorization,
        softDescriptor: pd.softDescriptor,
        merchantMetadata: s.merchantMetadata,
        checkoutSessionId: s.checkoutSessionId,
        visible: false,
      });
      s.chargeId = charge.chargeId;
      if (pending)
        this.beginPendingAuthorization(charge, method === 'pendingThenAuthorized' ? 'Authorized' : 'Declined');
      else this.authorizeCharge(charge);
    }
    return resultUrl(result);
  }

  private createChargePermission(s: CheckoutSession, method: PaymentMethodChoice, amount: Money): ChargePermission {
    const now = this.now();
    const cp: ChargePermission = {
      chargePermissionId: this.newChargePermissionId(s.env),
      merchantId: s.merchantId,
      env: s.env,
      chargePermissionType: s.chargePermissionType,
      recurringMetadata: s.recurringMetadata,
      buyer: s.buyer!,
      shippingAddress: s.shippingAddress,
      billingAddress: s.billingAddress,
      paymentMethod: method,
      merchantMetadata: { ...s.merchantMetadata },
      platformId: s.platformId,
      state: 'Chargeable',
      reasons: null,
      lastUpdated: now,
      creation: now,
      expiration: null,
      currency: amount.currencyCode,
      amountLimit: s.chargePermissionType === 'OneTime' ? (s.paymentDetails.totalOrderAmount ?? amount) : null,
      presentmentCurrency: s.paymentDetails.presentmentCurrency ?? amount.currencyCode,
      checkoutSessionId: s.checkoutSessionId,
      visible: false,
      closeDeadline: undefined,
    };
    this.chargePermissions.set(cp.chargePermissionId, cp);
    return cp;
  }

  completeCheckoutSession(ctx: RequestContext, id: string, input: CompleteCheckoutSessionInput): CheckoutSession {
    const s = this.session(ctx, id);
    if (s.state === 'Canceled') {
      throw new AmazonPayApiError(
        this.options.checkoutSessionCanceledStatus,
        'CheckoutSessionCanceled',
        'The Checkout Session was canceled. Call Get Checkout Session for the reason.',
      );
    }
    if (s.state === 'Completed' || !s.buyerPaid) {
      throw new AmazonPayApiError(
        422,
        'InvalidCheckoutSessionStatus',
        `You tried to call an operation on a Checkout Session that is in a state where that operation is not allowed. Checkout Session state: ${s.state}${s.state === 'Open' ? ' (the buyer has not completed checkout)' : ''}`,
      );
    }
    const chargeAmount = parsePrice(input.chargeAmount, 'chargeAmount');
    if (!sameMoney(chargeAmount, s.paymentDetails.chargeAmount!)) {
      throw new AmazonPayApiError(
        409,
        'AmountMismatch',
        'The chargeAmount does not match the chargeAmount of the Checkout Session.',
      );
    }
    if (s.paymentDetails.totalOrderAmount) {
      if (!input.totalOrderAmount)
        throw new AmazonPayApiError(
          400,
          'MissingParameterValue',
          'Value is missing for the required parameter totalOrderAmount',
        );
      if (!sameMoney(parsePrice(input.totalOrderAmount, 'totalOrderAmount'), s.paymentDetails.totalOrderAmount)) {
        throw new AmazonPayApiError(
          409,
          'AmountMismatch',
          'The totalOrderAmount does not match the totalOrderAmount of the Checkout Session.',
        );
      }
    }
    const code = ctx.simulationCode;
    if (code === 'BuyerCanceled' || code === 'Declined' || code === 'AmazonCanceled') {
      this.cancelSession(s, code, `Simulated ${code}.`);
      throw new AmazonPayApiError(
        this.options.checkoutSessionCanceledStatus,
        'CheckoutSessionCanceled',
        'The Checkout Session was canceled. Call Get Checkout Session for the reason.',
      );
    }
    s.state = 'Completed';
    s.lastUpdated = this.now();
    this.clock.cancel(s.expiryDeadline);
    const cp = this.chargePermissions.get(s.chargePermissionId!)!;
    cp.visible = true;
    cp.lastUpdated = this.now();
    this.scheduleChargePermissionLifetime(cp);
    const charge = s.chargeId ? this.charges.get(s.chargeId) : undefined;
    if (charge) {
      charge.visible = true;
      if (charge.captureNow && charge.state === 'Authorized') this.captureAuthorized(charge, charge.chargeAmount);
      this.notifyCharge(charge);
    }
    return s;
  }

  // ---------------------------------------------------------------- charge permission

  private scheduleChargePermissionLifetime(cp: ChargePermission): void {
    this.clock.cancel(cp.closeDeadline);
    if (cp.state === 'Closed') return;
    if (cp.chargePermissionType === 'Recurring') {
      cp.expiration = this.now() + this.timings.recurringInactivityMs;
      cp.closeDeadline = this.clock.at(cp.expiration, `chargePermission ${cp.chargePermissionId} inactive`, () =>
        this.closeChargePermission(cp, 'Expired', 'Closed after a long period without charges.'),
      );
    } else {
      cp.expiration = cp.creation + this.timings.oneTimeChargePermissionLifetimeMs;
      cp.closeDeadline = this.clock.at(cp.expiration, `chargePermission ${cp.chargePermissionId} expires`, () =>
        this.closeChargePermission(cp, 'Expired', 'The Charge Permission expired.'),
      );
    }
  }

  closureReason(who: 'merchant' | 'buyer'): string {
    const legacy = this.options.closureReasonSpelling === 'legacy';
    if (who === 'merchant') return legacy ? 'MerchantCanceled' : 'MerchantClosed';
    return legacy ? 'BuyerCanceled' : 'BuyerClosed';
  }

  private closeChargePermission(cp: ChargePermission, reasonCode: string, reasonDescription: string): void {
    if (cp.state === 'Closed') return;
    cp.state = 'Closed';
    cp.reasons = [{ reasonCode, reasonDescription }];
    cp.lastUpdated = this.now();
    this.clock.cancel(cp.closeDeadline);
    cp.closeDeadline = undefined;
    this.notifyChargePermission(cp);
  }

  /** The reasons other than ChargeInProgress: a decline or the buyer's instrument, what IPNs report on. */
  private standingReasons(cp: ChargePermission): ChargePermissionReason[] {
    return (cp.reasons ?? []).filter((r) => r.reasonCode !== CHARGE_IN_PROGRESS.reasonCode);
  }

  /** §3.2/§8.3: a pending charge is one in AuthorizationInitiated (the only pending state Cancel applies to, §3.3). */
  private hasChargeInProgress(cp: ChargePermission): boolean {
    return this.chargesOf(cp).some((c) => c.state === 'AuthorizationInitiated');
  }

  /**
   * Chargeable/NonChargeable from `standing` plus ChargeInProgress while a charge is pending.
   * A CHARGE_PERMISSION IPN goes out only when the standing state flips (§7.4: declines, the buyer
   * fixing the instrument): ChargeInProgress comes and goes with the merchant's own charge, whose
   * CHARGE IPNs already report it, and §7.4 lists no permission IPN for it.
   */
  private applyChargePermissionStatus(cp: ChargePermission, standing: ChargePermissionReason[], touch: boolean): void {
    if (cp.state === 'Closed') return;
    const wasStandingNonChargeable = this.standingReasons(cp).length > 0;
    const reasons = this.hasChargeInProgress(cp) ? [...standing, CHARGE_IN_PROGRESS] : standing;
    const state = reasons.length > 0 ? 'NonChargeable' : 'Chargeable';
    const changed =
      state !== cp.state ||
      reasons.length !== (cp.reasons?.length ?? 0) ||
      reasons.some(
        (r, i) =>
          r.reasonCode !== cp.reasons![i]!.reasonCode || r.reasonDescription !== cp.reasons![i]!.reasonDescription,
      );
    cp.state = state;
    cp.reasons = reasons.length > 0 ? reasons : null;
    if (touch || changed) cp.lastUpdated = this.now();
    if (wasStandingNonChargeable !== standing.length > 0) this.notifyChargePermission(cp);
  }

  private setChargeable(cp: ChargePermission, reason?: ChargePermissionReason): void {
    this.applyChargePermissionStatus(cp, reason ? [reason] : [], true);
  }

  /** A charge entered or left AuthorizationInitiated: its permission gains or loses ChargeInProgress. */
  private refreshChargeInProgress(charge: Charge): void {
    const cp = this.chargePermissions.get(charge.chargePermissionId);
    if (cp) this.applyChargePermissionStatus(cp, this.standingReasons(cp), false);
  }

  updateChargePermission(ctx: RequestContext, id: string, input: UpdateChargePermissionInput): ChargePermission {
    const cp = this.chargePermission(ctx, id);
    if (input.recurringMetadata && cp.chargePermissionType !== 'Recurring') {
      throw new AmazonPayApiError(
        400,
        'InvalidParameterCombination',
        'recurringMetadata can only be updated on a Recurring Charge Permission.',
      );
    }
    if (cp.state === 'Closed') {
      const onlyEmptyMetadata =
        cp.chargePermissionType === 'OneTime' &&
        !input.recurringMetadata &&
        Object.entries(input.merchantMetadata ?? {}).every(
          ([k, v]) => v === undefined || !cp.merchantMetadata[k as keyof MerchantMetadata],
        );
      if (!onlyEmptyMetadata) {
        throw new AmazonPayApiError(
          422,
          'ChargePermissionNotModifiable',
          'The Charge Permission is Closed and cannot be modified.',
        );
      }
    }
    // Parsed before anything is written: an invalid recurringMetadata must not leave the new merchantMetadata behind.
    const merchantMetadata = mergeMerchantMetadata(cp.merchantMetadata, input.merchantMetadata);
    const recurringMetadata =
      input.recurringMetadata !== undefined
        ? parseRecurringMetadata(input.recurringMetadata, 'recurringMetadata')
        : cp.recurringMetadata;
    cp.merchantMetadata = merchantMetadata;
    cp.recurringMetadata = recurringMetadata;
    cp.lastUpdated = this.now();
    return cp;
  }

  closeChargePermissionByMerchant(
    ctx: RequestContext,
    id: string,
    input: CloseChargePermissionInput,
  ): ChargePermission {
    const cp = this.chargePermission(ctx, id);
    // §3.2: a Closed permission allows Get only (and a limited Update); §4.2: Close in the wrong state is 422.
    if (cp.state === 'Closed') {
      throw invalidChargePermissionStatus(cp);
    }
    if (input.cancelPendingCharges) this.cancelPendingChargesOf(cp, 'ChargePermissionCanceled');
    this.closeChargePermission(cp, this.closureReason('merchant'), input.closureReason ?? 'Closed by the merchant.');
    return cp;
  }

  private cancelPendingChargesOf(cp: ChargePermission, reasonCode: string): void {
    for (const charge of this.chargesOf(cp)) {
      if (charge.state === 'Authorized' || charge.state === 'AuthorizationInitiated') {
        this.cancelCharge(charge, reasonCode, 'The Charge Permission was closed.');
        this.notifyCharge(charge);
      }
    }
  }

  closeChargePermissionAsBuyer(id: string): ChargePermission {
    const cp = this.chargePermissions.get(id);
    if (!cp || !cp.visible) throw new BuyerPageError(404, `Charge Permission ${id} not found.`);
    if (cp.state === 'Closed') throw new BuyerPageError(409, `Charge Permission ${id} is already Closed.`);
    this.closeChargePermission(cp, this.closureReason('buyer'), 'The buyer closed the Charge Permission.');
    return cp;
  }

  fixPaymentMethod(id: string, method: PaymentMethodChoice = 'happy'): ChargePermission {
    const cp = this.chargePermissions.get(id);
    if (!cp || !cp.visible) throw new BuyerPageError(404, `Charge Permission ${id} not found.`);
    if (cp.state === 'Closed') throw new BuyerPageError(409, `Charge Permission ${id} is Closed.`);
    if (method === 'declinedAtAmazon' || method === 'buyerCancel') {
      throw new BuyerPageError(400, `${method} cannot be saved on a Charge Permission.`);
    }
    cp.paymentMethod = method;
    // A pending charge's ChargeInProgress is not the buyer's to clear: only a standing reason makes this a state change.
    const wasNonChargeable = this.standingReasons(cp).length > 0;
    this.setChargeable(cp);
    if (!wasNonChargeable) this.notifyChargePermission(cp, 'ATTRIBUTE_CHANGE');
    return cp;
  }

  /** Recurring and PaymentMethodOnFile permissions: amount of charges holding or moving money in the current calendar month (UTC). */
  private monthlyUsage(cp: ChargePermission): number {
    const now = new Date(this.now());
    const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
    let used = 0;
    for (const c of this.chargesOf(cp)) {
      if (c.creation < monthStart) continue;
      if (c.state === 'Captured' || c.state === 'CaptureInitiated')
        used += c.captureAmount?.minor ?? c.chargeAmount.minor;
      else if (c.state === 'Authorized' || c.state === 'AuthorizationInitiated') used += c.chargeAmount.minor;
    }
    return used;
  }

  monthlyLimitMinor(currency: CurrencyCode): number {
    const major = this.options.recurringMonthlyLimit[currency] ?? (currency === 'JPY' ? 100_000 : 1000);
    return currency === 'JPY' ? major : major * 100;
  }

  /** The monthly cap that applies to a Recurring or PaymentMethodOnFile permission (§8.4). */
  private monthlyCapMinor(cp: ChargePermission): number {
    if (cp.chargePermissionType === 'PaymentMethodOnFile') {
      return PAYMENT_METHOD_ON_FILE_MONTHLY_LIMIT[cp.currency] * 10 ** decimalsOf(cp.currency);
    }
    return this.monthlyLimitMinor(cp.currency);
  }

  /** OneTime permissions: what is still chargeable against the order amount. */
  private oneTimeBalance(cp: ChargePermission): number {
    let used = 0;
    for (const c of this.chargesOf(cp)) {
      if (c.state === 'Captured' || c.state === 'CaptureInitiated') used += c.captureAmount?.minor ?? 0;
      else if (c.state === 'Authorized' || c.state === 'AuthorizationInitiated') used += c.chargeAmount.minor;
    }
    return (cp.amountLimit?.minor ?? 0) - used;
  }

  limitsOf(cp: ChargePermission): { amountLimit: Money; amountBalance: Money } {
    if (cp.chargePermissionType === 'OneTime' && cp.amountLimit) {
      return { amountLimit: cp.amountLimit, amountBalance: money(Math.max(0, this.oneTimeBalance(cp)), cp.currency) };
    }
    const limit = this.monthlyCapMinor(cp);
    return {
      amountLimit: money(limit, cp.currency),
      amountBalance: money(Math.max(0, limit - this.monthlyUsage(cp)), cp.currency),
    };
  }

  // ---------------------------------------------------------------- charge

  private newCharge(
    cp: ChargePermission,
    p: {
      chargeAmount: Money;
      captureNow: boolean;
      canHandlePendingAuthorization: boolean;
      softDescriptor: string | null | undefined;
      merchantMetadata: MerchantMetadata;
      checkoutSessionId: string | null;
      visible: boolean;
      providerMetadata?: { providerReferenceId: string | null };
      platformId?: string | null;
      chargeInitiator?: string | null;
      channel?: string | null;
      webCheckoutDetails?: { checkoutResultReturnUrl: string | null } | null;
    },
  ): Charge {
    const now = this.now();
    const charge: Charge = {
      chargeId: this.newChildId(cp.chargePermissionId, 'C'),
      chargePermissionId: cp.chargePermissionId,
      checkoutSessionId: p.checkoutSessionId ?? cp.checkoutSessionId,
      merchantId: cp.merchantId,
      env: cp.env,
      chargeAmount: p.chargeAmount,
      captureAmount: null,
      refundedMinor: 0,
      softDescriptor: p.softDescriptor ?? null,
      providerMetadata: p.providerMetadata ?? { providerReferenceId: null },
      merchantMetadata: { ...p.merchantMetadata },
      channel: p.channel ?? null,
      chargeInitiator: p.chargeInitiator ?? null,
      platformId: p.platformId ?? cp.platformId,
      webCheckoutDetails: p.webCheckoutDetails ?? null,
      state: 'AuthorizationInitiated',
      reasonCode: null,
      reasonDescription: null,
      lastUpdated: now,
      creation: now,
      expiration: now + this.timings.authorizationValidityMs,
      authorizedAt: null,
      captureNow: p.captureNow,
      canHandlePendingAuthorization: p.canHandlePendingAuthorization,
      visible: p.visible,
      deadlines: [],
    };
    this.charges.set(charge.chargeId, charge);
    const siblings = this.chargesByPermission.get(cp.chargePermissionId);
    if (siblings) siblings.push(charge);
    else this.chargesByPermission.set(cp.chargePermissionId, [charge]);
    return charge;
  }

  private setChargeState(
    charge: Charge,
    state: ChargeState,
    reasonCode: string | null = null,
    reasonDescription: string | null = null,
  ): void {
    const pendingBefore = charge.state === 'AuthorizationInitiated';
    charge.state = state;
    charge.reasonCode = reasonCode;
    charge.reasonDescription = reasonDescription;
    charge.lastUpdated = this.now();
    // newCharge() starts in AuthorizationInitiated without this, so entering it again is a refresh too.
    if (pendingBefore || state === 'AuthorizationInitiated') this.refreshChargeInProgress(charge);
  }

  private clearChargeDeadlines(charge: Charge): void {
    for (const id of charge.deadlines) this.clock.cancel(id);
    charge.deadlines = [];
  }

  /** Authorized now; captured at once if captureNow and the charge is visible (Complete captures hidden ones). */
  private authorizeCharge(
    charge: Charge,
    expiresInMs = this.timings.authorizationValidityMs,
    expiryReason = 'ExpiredUnused',
  ): void {
    this.clearChargeDeadlines(charge);
    this.setChargeState(charge, 'Authorized');
    charge.authorizedAt = this.now();
    charge.expiration = charge.authorizedAt + this.timings.authorizationValidityMs;
    this.move('authorization', charge.chargeAmount, charge);
    charge.deadlines.push(
      this.clock.after(expiresInMs, `charge ${charge.chargeId} authorization expires`, () => {
        if (charge.state !== 'Authorized') return;
        this.cancelCharge(
          charge,
          expiryReason,
          expiryReason === 'ExpiredUnused' ? 'The authorization expired unused.' : 'Canceled by Amazon.',
        );
        this.notifyCharge(charge);
      }),
    );
    if (charge.captureNow && charge.visible) this.captureAuthorized(charge, charge.chargeAmount);
  }

  private beginPendingAuthorization(charge: Charge, outcome: 'Authorized' | 'Declined'): void {
    this.setChargeState(charge, 'AuthorizationInitiated');
    charge.deadlines.push(
      this.clock.after(
        this.timings.pendingAuthorizationMs,
        `charge ${charge.chargeId} pending authorization resolves`,
        () => {
          if (charge.state !== 'AuthorizationInitiated') return;
          if (outcome === 'Authorized') {
            this.authorizeCharge(charge);
          } else {
            this.setChargeState(charge, 'Declined', 'HardDeclined', 'The authorization was declined.');
            const cp = this.chargePermissions.get(charge.chargePermissionId)!;
            if (cp.chargePermissionType === 'Recurring' && cp.visible) {
              this.setChargeable(cp, {
                reasonCode: 'PaymentMethodInvalid',
                reasonDescription: 'The last charge was declined. Ask the buyer to update the payment method.',
              });
            }
          }
          this.notifyCharge(charge);
        },
      ),
    );
  }

  private cancelCharge(charge: Charge, reasonCode: string, reasonDescription: string): void {
    const wasAuthorized = charge.state === 'Authorized';
    this.clearChargeDeadlines(charge);
    this.setChargeState(charge, 'Canceled', reasonCode, reasonDescription);
    if (wasAuthorized) this.move('authorizationRelease', charge.chargeAmount, charge);
  }

  private captureAuthorized(
    charge: Charge,
    amount: Money,
    opts: { forcePending?: boolean; rejectWith?: string } = {},
  ): void {
    this.clearChargeDeadlines(charge);
    charge.captureAmount = amount;
    const late = this.now() - (charge.authorizedAt ?? charge.creation) > this.timings.synchronousCaptureWindowMs;
    const settle = () => {
      if (opts.rejectWith) {
        this.setChargeState(charge, 'Declined', opts.rejectWith, 'The capture was declined.');
        this.move('authorizationRelease', charge.chargeAmount, charge);
        charge.captureAmount = null;
        const cp = this.chargePermissions.get(charge.chargePermissionId)!;
        if (opts.rejectWith === 'AmazonRejected')
          this.closeChargePermission(cp, 'AmazonCanceled', 'Amazon rejected a transaction.');
        return;
      }
      this.setChargeState(charge, 'Captured');
      this.move('capture', amount, charge);
      this.move('authorizationRelease', money(charge.chargeAmount.minor - amount.minor, amount.currencyCode), charge);
      const cp = this.chargePermissions.get(charge.chargePermissionId)!;
      if (
        cp.chargePermissionType === 'OneTime' &&
        cp.state !== 'Closed' &&
        cp.amountLimit &&
        this.capturedTotal(cp) >= cp.amountLimit.minor
      ) {
        this.closeChargePermission(cp, 'AmazonClosed', 'The full amount was captured.');
      }
    };
    if (late || opts.forcePending || opts.rejectWith) {
      this.setChargeState(charge, 'CaptureInitiated');
      charge.deadlines.push(
        this.clock.after(this.timings.captureInitiatedMs, `charge ${charge.chargeId} capture resolves`, () => {
          if (charge.state !== 'CaptureInitiated') return;
          settle();
          this.notifyCharge(charge);
        }),
      );
    } else {
      settle();
    }
  }

  private capturedTotal(cp: ChargePermission): number {
    let total = 0;
    for (const c of this.chargesOf(cp)) {
      if (c.state === 'Captured') total += c.captureAmount?.minor ?? 0;
    }
    return total;
  }

  createCharge(ctx: RequestContext, input: CreateChargeInput): Charge {
    const cp = this.chargePermission(ctx, input.chargePermissionId);
    const amount = parsePrice(input.chargeAmount, 'chargeAmount');
    if (amount.minor > maxTransactionMinor(amount.currencyCode)) {
      throw new AmazonPayApiError(
        400,
        'TransactionAmountExceeded',
        'The chargeAmount exceeds the maximum allowed for a single charge.',
      );
    }
    if (input.softDescriptor && !input.captureNow) {
      throw new AmazonPayApiError(
        400,
        'InvalidParameterCombination',
        'softDescriptor can only be set when captureNow is true.',
      );
    }
    if (cp.state !== 'Chargeable') {
      throw invalidChargePermissionStatus(cp);
    }
    if (amount.currencyCode !== cp.currency) {
      throw new AmazonPayApiError(
        400,
        'CurrencyMismatch',
        `The currency ${amount.currencyCode} does not match the Charge Permission currency ${cp.currency}.`,
      );
    }
    if (cp.chargePermissionType !== 'OneTime') {
      // §8.4: Recurring and PaymentMethodOnFile permissions have a calendar-month cap, each its own.
      if (this.monthlyUsage(cp) + amount.minor > this.monthlyCapMinor(cp)) {
        throw new AmazonPayApiError(
          400,
          'PeriodicAmountExceeded',
          "You've exceeded the monthly limit for the Charge Permission and must wait until the next month to charge this buyer.",
        );
      }
    } else if (cp.amountLimit && amount.minor > this.oneTimeBalance(cp)) {
      throw new AmazonPayApiError(
        400,
        'TransactionAmountExceeded',
        'The chargeAmount exceeds the remaining balance of the Charge Permission.',
      );
    }

    const code = ctx.simulationCode;
    const method = cp.paymentMethod;
    const canHandlePending = input.canHandlePendingAuthorization ?? false;
    const pendingMethod = method === 'pendingThenAuthorized' || method === 'pendingThenDeclined';
    if (code === 'HardDeclined' || (!code && method === 'hardDecline')) {
      if (cp.chargePermissionType === 'Recurring') {
        this.setChargeable(cp, {
          reasonCode: 'PaymentMethodInvalid',
          reasonDescription: 'The last charge was declined. Ask the buyer to update the payment method.',
        });
      }
      throw new AmazonPayApiError(
        422,
        'HardDeclined',
        'The charge was declined. Ask the buyer to update the payment method.',
      );
    }
    if (code === 'SoftDeclined' || (!code && method === 'softDecline')) {
      throw new AmazonPayApiError(422, 'SoftDeclined', 'The charge was declined. You may retry later.');
    }
    if (code === 'AmazonRejected') {
      this.closeChargePermission(cp, 'AmazonCanceled', 'Amazon rejected a transaction.');
      throw new AmazonPayApiError(422, 'AmazonRejected', 'The charge was rejected by Amazon.');
    }
    if (code === 'ProcessingFailure') {
      throw new AmazonPayApiError(
        500,
        'ProcessingFailure',
        'Amazon could not process the charge because of an internal processing error.',
      );
    }
    if (code === 'TransactionTimedOut' || (!code && pendingMethod && !canHandlePending)) {
      throw new AmazonPayApiError(
        422,
        'TransactionTimedOut',
        'The authorization timed out. Consider canHandlePendingAuthorization=true.',
      );
    }

    const charge = this.newCharge(cp, {
      chargeAmount: amount,
      captureNow: input.captureNow ?? false,
      canHandlePendingAuthorization: canHandlePending,
      softDescriptor: input.softDescriptor,
      merchantMetadata: mergeMerchantMetadata(emptyMerchantMetadata(), input.merchantMetadata),
      checkoutSessionId: null,
      visible: true,
      providerMetadata: { providerReferenceId: input.providerMetadata?.providerReferenceId ?? null },
      platformId: input.platformId ?? null,
      chargeInitiator: input.chargeInitiator ?? null,
      channel: input.channel ?? null,
      webCheckoutDetails: input.webCheckoutDetails
        ? { checkoutResultReturnUrl: input.webCheckoutDetails.checkoutResultReturnUrl ?? null }
        : null,
    });
    charge.checkoutSessionId = null;
    if (!code && pendingMethod) {
      this.beginPendingAuthorization(charge, method === 'pendingThenAuthorized' ? 'Authorized' : 'Declined');
    } else if (code === 'ExpiredUnused' || code === 'AmazonCanceled') {
      charge.captureNow = false;
      this.authorizeCharge(charge, this.timings.simulatedCancellationMs, code);
    } else {
      this.authorizeCharge(charge);
    }
    if (cp.chargePermissionType === 'Recurring') this.scheduleChargePermissionLifetime(cp);
    this.notifyCharge(charge);
    return charge;
  }

  captureCharge(ctx: RequestContext, id: string, input: CaptureChargeInput): Charge {
    const charge = this.charge(ctx, id);
    const amount = parsePrice(input.captureAmount, 'captureAmount');
    if (charge.state !== 'Authorized') {
      throw invalidChargeStatus(charge);
    }
    if (amount.currencyCode !== charge.chargeAmount.currencyCode) {
      throw new AmazonPayApiError(
        400,
        'CurrencyMismatch',
        'The captureAmount currency does not match the Charge currency.',
      );
    }
    if (amount.minor > charge.chargeAmount.minor) {
      throw new AmazonPayApiError(400, 'TransactionAmountExceeded', 'The captureAmount exceeds the authorized amount.');
    }
    const code = ctx.simulationCode;
    if (code === 'ProcessingFailure') {
      throw new AmazonPayApiError(
        500,
        'ProcessingFailure',
        'Amazon could not process the capture because of an internal processing error.',
      );
    }
    if (input.softDescriptor) charge.softDescriptor = input.softDescriptor;
    this.captureAuthorized(charge, amount, {
      forcePending: code === 'CaptureInitiated',
      ...(code === 'AmazonRejected' ? { rejectWith: 'AmazonRejected' } : {}),
    });
    this.notifyCharge(charge);
    return charge;
  }

  cancelChargeByMerchant(ctx: RequestContext, id: string, input: CancelChargeInput): Charge {
    const charge = this.charge(ctx, id);
    // §3.3: Cancel is allowed in AuthorizationInitiated and Authorized only; a Canceled charge allows Get (§4.2: 422).
    if (charge.state !== 'Authorized' && charge.state !== 'AuthorizationInitiated') {
      throw invalidChargeStatus(charge);
    }
    this.cancelCharge(charge, 'MerchantCanceled', input.cancellationReason ?? 'Canceled by the merchant.');
    this.notifyCharge(charge);
    return charge;
  }

  // ---------------------------------------------------------------- refund

  /** Refunds may exceed the captured amount by min(15 %, 75 units of the currency). */
  refundableMinor(charge: Charge): number {
    const captured = charge.captureAmount?.minor ?? 0;
    const cap75 = charge.chargeAmount.currencyCode === 'JPY' ? Infinity : 75 * 100;
    return captured + Math.min(Math.floor(captured * 0.15), cap75);
  }

  private refundedOrPendingMinor(charge: Charge): number {
    let total = 0;
    for (const r of this.refundsOf(charge)) if (r.state !== 'Declined') total += r.refundAmount.minor;
    return total;
  }

  createRefund(ctx: RequestContext, input: CreateRefundInput): Refund {
    const charge = this.charge(ctx, input.chargeId);
    const amount = parsePrice(input.refundAmount, 'refundAmount');
    if (charge.state !== 'Captured') {
      throw invalidChargeStatus(charge);
    }
    if (amount.currencyCode !== charge.chargeAmount.currencyCode) {
      throw new AmazonPayApiError(
        400,
        'CurrencyMismatch',
        'The refundAmount currency does not match the Charge currency.',
      );
    }
    if (this.refundedOrPendingMinor(charge) + amount.minor > this.refundableMinor(charge)) {
      throw new AmazonPayApiError(
        400,
        'TransactionAmountExceeded',
        'The total refunded amount would exceed the captured amount plus the allowed tolerance.',
      );
    }
    const code = ctx.simulationCode;
    if (code === 'ProcessingFailure') {
      throw new AmazonPayApiError(
        500,
        'ProcessingFailure',
        'Amazon could not process the refund because of an internal processing error.',
      );
    }
    const now = this.now();
    const refund: Refund = {
      refundId: this.newChildId(charge.chargePermissionId, 'R'),
      chargeId: charge.chargeId,
      chargePermissionId: charge.chargePermissionId,
      merchantId: charge.merchantId,
      env: charge.env,
      refundAmount: amount,
      softDescriptor: input.softDescriptor ?? null,
      state: 'RefundInitiated',
      reasonCode: null,
      reasonDescription: null,
      lastUpdated: now,
      creation: now,
    };
    this.refunds.set(refund.refundId, refund);
    const siblings = this.refundsByCharge.get(charge.chargeId);
    if (siblings) siblings.push(refund);
    else this.refundsByCharge.set(charge.chargeId, [refund]);
    const notifyRefund = () =>
      this.notify({
        objectType: 'REFUND',
        objectId: refund.refundId,
        chargePermissionId: refund.chargePermissionId,
        notificationType: 'STATE_CHANGE',
      });
    this.clock.after(this.timings.refundMs, `refund ${refund.refundId} settles`, () => {
      if (refund.state !== 'RefundInitiated') return;
      refund.lastUpdated = this.now();
      if (code === 'RefundDeclined' || code === 'AmazonRejected') {
        refund.state = 'Declined';
        refund.reasonCode = 'AmazonRejected';
        refund.reasonDescription = 'The refund was rejected by Amazon.';
      } else {
        refund.state = 'Refunded';
        charge.refundedMinor += amount.minor;
        charge.lastUpdated = this.now();
        this.move('refund', amount, charge, refund.refundId);
      }
      notifyRefund();
    });
    notifyRefund();
    return refund;
  }

  // ---------------------------------------------------------------- money movements

  moneyMovements(filter: { chargePermissionId?: string; checkoutSessionId?: string }) {
    const selected = this.movements.filter(
      (m) =>
        (!filter.chargePermissionId || m.chargePermissionId === filter.chargePermissionId) &&
        (!filter.checkoutSessionId || m.checkoutSessionId === filter.checkoutSessionId),
    );
    const sum = (kind: MovementKind) => selected.filter((m) => m.kind === kind).reduce((t, m) => t + m.minor, 0);
    const currency = (selected[0]?.currencyCode ?? 'USD') as CurrencyCode;
    const authorized = sum('authorization');
    const released = sum('authorizationRelease');
    const captured = sum('capture');
    const refunded = sum('refund');
    const fmt = (minor: number) => toPrice(money(minor, currency)).amount;
    return {
      movements: selected.map((m) => ({
        kind: m.kind,
        amount: toPrice(money(m.minor, m.currencyCode)).amount,
        currencyCode: m.currencyCode,
        chargePermissionId: m.chargePermissionId,
        checkoutSessionId: m.checkoutSessionId,
        ...(m.chargeId ? { chargeId: m.chargeId } : {}),
        ...(m.refundId ? { refundId: m.refundId } : {}),
        at: new Date(m.at).toISOString(),
      })),
      totals: {
        currencyCode: currency,
        authorized: fmt(authorized),
        released: fmt(released),
        captured: fmt(captured),
        refunded: fmt(refunded),
        /** Authorizations still holding the buyer's funds. */
        outstandingAuthorization: fmt(authorized - released - captured),
        /** What the buyer has paid in the end. */
        net: fmt(captured - refunded),
      },
    };
  }

  buyerDescriptor(method: PaymentMethodChoice | null): string | null {
    return method ? PAYMENT_METHODS[method].descriptor : null;
  }
}

export function withQuery(url: string, name: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(name, value);
  return u.toString();
}

function invalidChargeStatus(charge: Charge): AmazonPayApiError {
  return new AmazonPayApiError(
    422,
    'InvalidChargeStatus',
    `You tried to call an operation on a Charge that is in a state where that operation is not allowed. Charge state: ${charge.state}`,
  );
}

function invalidChargePermissionStatus(cp: ChargePermission): AmazonPayApiError {
  return new AmazonPayApiError(
    422,
    'InvalidChargePermissionStatus',
    `You tried to call an operation on a Charge Permission that is in a state where that operation is not allowed. Charge Permission state: ${cp.state}${cp.reasons ? ` (${cp.reasons.map((r) => r.reasonCode).join(', ')})` : ''}`,
  );
}
