import type { OperationName, PaymentMethodChoice } from './model';
import type { ThrottlingSetting } from './throttle';

export type { OperationName, PaymentMethodChoice } from './model';

export class SimulatorAdminError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`Simulator admin call ${what} failed with HTTP ${status}: ${body.slice(0, 500)}`);
    this.name = 'SimulatorAdminError';
  }
}

export interface MoneyMovementView {
  kind: 'authorization' | 'authorizationRelease' | 'capture' | 'refund';
  amount: string;
  currencyCode: string;
  chargePermissionId: string;
  checkoutSessionId: string | null;
  chargeId?: string;
  refundId?: string;
  at: string;
}

export interface MoneyMovements {
  movements: MoneyMovementView[];
  totals: {
    currencyCode: string;
    /** Gross sum of authorizations. */
    authorized: string;
    /** Authorizations released (canceled, expired, partial-capture remainder). */
    released: string;
    captured: string;
    refunded: string;
    /** authorized - released - captured: funds still held on the buyer's instrument. */
    outstandingAuthorization: string;
    /** captured - refunded. */
    net: string;
  };
}

export interface SimulatorFaults {
  errorRate?: number;
  /** Share of requests answered 429 at random (on top of the quotas of `throttling`). */
  throttleRate?: number;
  latencyMs?: number;
  throttling?: ThrottlingSetting;
  /** Process matching requests, then delay their responses (null clears). */
  holdResponses?: { operation: OperationName; ms: number; count?: number } | null;
}

/**
 * Typed client for the simulator's /__admin API, plus buyer-side helpers that drive the hosted
 * pages over real HTTP like a browser: they post the forms and return the redirect Location.
 */
export class SimulatorAdmin {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  constructor(baseUrl: string, options: { fetch?: typeof fetch } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? fetch;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.fetchImpl(`${this.baseUrl}${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new SimulatorAdminError(response.status, text, `${method} ${path}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Posts a form without following the redirect; returns the Location. */
  private async submit(path: string, form: Record<string, string>, expect: number[] = [302, 303]): Promise<string> {
    const response = await this.fetchImpl(path.startsWith('http') ? path : `${this.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
      redirect: 'manual',
    });
    const location = response.headers.get('location');
    if (!expect.includes(response.status) || !location) {
      throw new SimulatorAdminError(response.status, await response.text(), `POST ${path}`);
    }
    await response.body?.cancel();
    return location;
  }

  async advanceClock(ms: number): Promise<{ now: string }> {
    return this.call('POST', '/__admin/clock/advance', { ms });
  }

  async now(): Promise<Date> {
    return new Date((await this.call<{ now: string }>('GET', '/__admin/clock')).now);
  }

  async reset(): Promise<void> {
    await this.call('POST', '/__admin/reset');
  }

  async objects(): Promise<{
    checkoutSessions: unknown[];
    chargePermissions: unknown[];
    charges: unknown[];
    refunds: unknown[];
  }> {
    return this.call('GET', '/__admin/objects');
  }

  async requestCounts(): Promise<{ byOperation: Record<string, number>; byIdempotencyKey: Record<string, number> }> {
    return this.call('GET', '/__admin/requests');
  }

  async moneyMovements(filter: { chargePermissionId?: string; checkoutSessionId?: string }): Promise<MoneyMovements> {
    const query = new URLSearchParams(
      Object.entries(filter).filter((e): e is [string, string] => typeof e[1] === 'string'),
    );
    return this.call('GET', `/__admin/money-movements?${query.toString()}`);
  }

  async setFaults(f: SimulatorFaults): Promise<void> {
    await this.call('POST', '/__admin/faults', f);
  }

  async registerPublicKey(publicKeyId: string, pem: string, merchantId?: string): Promise<void> {
    await this.call('POST', '/__admin/public-keys', { publicKeyId, pem, ...(merchantId ? { merchantId } : {}) });
  }

  async configureIpn(options: {
    url?: string;
    duplicateRate?: number;
    duplicateCopies?: number;
    reorderRate?: number;
    reorderHoldMs?: number;
    delayMs?: number;
    lossRate?: number;
  }): Promise<void> {
    await this.call('POST', '/__admin/ipn', options);
  }

  async ipnStats(): Promise<unknown> {
    return this.call('GET', '/__admin/ipn');
  }

  /** The buyer clicks the Amazon Pay button: the simulator verifies the signed payload and creates the session. */
  async clickButton(buttonConfig: {
    payloadJSON: string;
    signature: string;
    publicKeyId: string;
    algorithm: string;
  }): Promise<{
    checkoutSessionId: string;
    location: string;
  }> {
    const location = await this.submit('/checkout/button', buttonConfig, [302]);
    const checkoutSessionId =
      new URL(location).searchParams.get('amazonCheckoutSessionId') ?? /\/checkout\/pay\/([^/?]+)/.exec(location)?.[1];
    if (!checkoutSessionId)
      throw new SimulatorAdminError(302, location, 'clickButton (no checkout session id in redirect)');
    return { checkoutSessionId, location };
  }

  /** For sessions created server-side: the buyer signs in; location = checkoutReviewReturnUrl?amazonCheckoutSessionId=… */
  async signIn(checkoutSessionId: string): Promise<{ location: string }> {
    return { location: await this.submit(`/checkout/signin/${encodeURIComponent(checkoutSessionId)}`, {}, [302]) };
  }

  /**
   * The buyer picks a payment method on the amazonPayRedirectUrl page (or cancels with 'buyerCancel').
   * location = checkoutResultReturnUrl?amazonCheckoutSessionId=… (checkoutCancelUrl for buyerCancel when set).
   */
  async pay(amazonPayRedirectUrl: string, method: PaymentMethodChoice): Promise<{ location: string }> {
    return { location: await this.submit(amazonPayRedirectUrl, { method }, [302]) };
  }

  async closeChargePermissionAsBuyer(chargePermissionId: string): Promise<void> {
    await this.submit(`/account/charge-permissions/${encodeURIComponent(chargePermissionId)}/close`, {}, [303]);
  }

  /** The buyer updates the instrument on the account page (NonChargeable -> Chargeable, with an IPN). */
  async fixPaymentMethod(chargePermissionId: string, method: PaymentMethodChoice = 'happy'): Promise<void> {
    await this.submit(
      `/account/charge-permissions/${encodeURIComponent(chargePermissionId)}/payment-method`,
      { method },
      [303],
    );
  }
}
