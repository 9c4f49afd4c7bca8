import { generateKeyPairSync } from 'node:crypto';
import type { Hono } from 'hono';
import { type SignatureAlgorithm, signRequest, signButtonPayload } from './signature';

/** Helpers for the simulator's own tests: keys, signed calls through app.request(). */

export interface TestKey {
  publicKeyId: string;
  privateKeyPem: string;
  publicKeyPem: string;
}

export function generateTestKey(publicKeyId = 'SANDBOX-SIMTESTKEY'): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKeyId,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export interface CallResult {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test convenience for reading JSON
  body: any;
  text: string;
  headers: Headers;
}

export interface CallOptions {
  headers?: Record<string, string>;
  idempotencyKey?: string;
  simulationCode?: string;
  algorithm?: SignatureAlgorithm;
  dateFormat?: 'basic' | 'extended';
  date?: Date;
  key?: TestKey;
  /** Raw body string sent as is (default JSON.stringify(body)). */
  rawBody?: string;
}

export function createCaller(app: Hono, defaultKey: TestKey, prefix = '/sandbox/v2') {
  let counter = 0;
  const call = async (method: string, path: string, body?: unknown, options: CallOptions = {}): Promise<CallResult> => {
    const key = options.key ?? defaultKey;
    const url = `${prefix}${path}`;
    const payload = options.rawBody ?? (body === undefined ? '' : JSON.stringify(body));
    const extra: Record<string, string> = { ...options.headers };
    if (options.idempotencyKey) extra['x-amz-pay-idempotency-key'] = options.idempotencyKey;
    if (options.simulationCode) extra['x-amz-pay-simulation-code'] = options.simulationCode;
    const headers = signRequest({
      method,
      url,
      body: payload,
      headers: extra,
      publicKeyId: key.publicKeyId,
      privateKeyPem: key.privateKeyPem,
      host: 'pay-api.amazon.com',
      ...(options.algorithm ? { algorithm: options.algorithm } : {}),
      ...(options.dateFormat ? { dateFormat: options.dateFormat } : {}),
      ...(options.date ? { date: options.date } : {}),
    });
    const response = await app.request(`http://sim.test${url}`, {
      method,
      headers,
      ...(method === 'GET' ? {} : { body: payload }),
    });
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed, text, headers: response.headers };
  };
  const idem = () => `k${Date.now().toString(36)}${(counter++).toString(36)}`;
  return { call, idem };
}

export function buttonConfig(payload: unknown, key: TestKey, algorithm: SignatureAlgorithm = 'AMZN-PAY-RSASSA-PSS-V2') {
  const payloadJSON = JSON.stringify(payload);
  return {
    payloadJSON,
    signature: signButtonPayload(payloadJSON, key.privateKeyPem, algorithm),
    publicKeyId: key.publicKeyId,
    algorithm,
  };
}

export const STORE_ID = 'amzn1.application-oa2-client.8b5e45312b5248b69eea0000000000ab';

/** Posts a buyer form through app.request and returns the redirect Location. */
export async function submitForm(
  app: Hono,
  path: string,
  form: Record<string, string> = {},
): Promise<{ status: number; location: string | null; text: string }> {
  const response = await app.request(path.startsWith('http') ? path : `http://sim.test${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, location: response.headers.get('location'), text: await response.text() };
}

type Caller = ReturnType<typeof createCaller>;

export interface CheckoutOptions {
  intent?: 'Confirm' | 'Authorize' | 'AuthorizeWithCapture';
  amount?: string;
  currencyCode?: string;
  method?: import('./model').PaymentMethodChoice;
  chargePermissionType?: 'OneTime' | 'Recurring' | 'PaymentMethodOnFile';
  recurringMetadata?: unknown;
  canHandlePendingAuthorization?: boolean;
  totalOrderAmount?: string;
  complete?: boolean;
  checkoutCancelUrl?: string;
}

/** Drives a server-side checkout: create, buyer signs in, update, buyer pays, complete. */
export async function runCheckout(app: Hono, caller: Caller, o: CheckoutOptions = {}) {
  const { call, idem } = caller;
  const currencyCode = o.currencyCode ?? 'USD';
  const created = await call(
    'POST',
    '/checkoutSessions',
    {
      storeId: STORE_ID,
      webCheckoutDetails: {
        checkoutReviewReturnUrl: 'https://shop.test/review',
        ...(o.checkoutCancelUrl ? { checkoutCancelUrl: o.checkoutCancelUrl } : {}),
      },
      ...(o.chargePermissionType ? { chargePermissionType: o.chargePermissionType } : {}),
      ...(o.recurringMetadata ? { recurringMetadata: o.recurringMetadata } : {}),
    },
    { idempotencyKey: idem() },
  );
  if (created.status !== 201) throw new Error(`create failed: ${created.text}`);
  const checkoutSessionId: string = created.body.checkoutSessionId;
  await submitForm(app, `/checkout/signin/${checkoutSessionId}`);
  const updated = await call('PATCH', `/checkoutSessions/${checkoutSessionId}`, {
    webCheckoutDetails: { checkoutResultReturnUrl: 'https://shop.test/result' },
    paymentDetails: {
      paymentIntent: o.intent ?? 'Authorize',
      chargeAmount: { amount: o.amount ?? '100.00', currencyCode },
      ...(o.totalOrderAmount ? { totalOrderAmount: { amount: o.totalOrderAmount, currencyCode } } : {}),
      ...(o.canHandlePendingAuthorization !== undefined
        ? { canHandlePendingAuthorization: o.canHandlePendingAuthorization }
        : {}),
    },
  });
  if (updated.status !== 200) throw new Error(`update failed: ${updated.text}`);
  const redirectUrl: string = updated.body.webCheckoutDetails.amazonPayRedirectUrl;
  const paid = await submitForm(app, redirectUrl, { method: o.method ?? 'happy' });
  if (o.complete === false) return { checkoutSessionId, redirectUrl, paid, completed: undefined };
  const completed = await call('POST', `/checkoutSessions/${checkoutSessionId}/complete`, {
    chargeAmount: { amount: o.amount ?? '100.00', currencyCode },
    ...(o.totalOrderAmount ? { totalOrderAmount: { amount: o.totalOrderAmount, currencyCode } } : {}),
  });
  return { checkoutSessionId, redirectUrl, paid, completed };
}
