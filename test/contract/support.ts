import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import {
  AmazonPayClient,
  AmazonPayError,
  idempotencyKeyFor,
  type AmazonPayClientConfig,
  type CheckoutSession,
  type CreateCheckoutSessionRequest,
  type PaymentIntent,
  type UpdateCheckoutSessionRequest,
} from '../../amazon-pay';
import type { PaymentMethodChoice, SimulatorAdmin } from '../../simulator/admin-client';
import { signRequest, type SignatureAlgorithm } from '../../simulator/signature';

export interface KeyPair {
  publicKeyId: string;
  privateKeyPem: string;
  publicKeyPem: string;
}

export function rsaKey(publicKeyId: string): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKeyId,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export const STORE_ID = 'amzn1.application-oa2-client.8b5e45312b5248b69eea0000000000ab';
export const REVIEW_URL = 'https://shop.test/review';
export const RESULT_URL = 'https://shop.test/result';

/** §2.1 formats. */
export const CP_ID = /^[SP]\d\d-\d{7}-\d{7}$/;
export const CHARGE_ID = /^[SP]\d\d-\d{7}-\d{7}-C\d{6,7}$/;
export const REFUND_ID = /^[SP]\d\d-\d{7}-\d{7}-R\d+$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const TIMESTAMP = /^\d{8}T\d{6}Z$/;

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export const newKey = (label = 'op') => idempotencyKeyFor(`contract/${label}/${randomUUID()}`);

export const usd = (amount: string) => ({ amount, currencyCode: 'USD' });

export function makeClient(
  baseUrl: string,
  key: Pick<KeyPair, 'publicKeyId' | 'privateKeyPem'>,
  overrides: Partial<AmazonPayClientConfig> = {},
): AmazonPayClient {
  return new AmazonPayClient({
    publicKeyId: key.publicKeyId,
    privateKey: key.privateKeyPem,
    region: 'na',
    sandbox: true,
    baseUrl,
    ...overrides,
  });
}

/** Resolves to the AmazonPayError the promise rejects with; fails the test if it resolves or throws anything else. */
export async function rejection(promise: Promise<unknown>): Promise<AmazonPayError> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok)
    throw new Error(`expected an AmazonPayError, got a result: ${JSON.stringify(outcome.value).slice(0, 300)}`);
  expect(outcome.error).toBeInstanceOf(AmazonPayError);
  return outcome.error as AmazonPayError;
}

export async function expectAmazonError(
  promise: Promise<unknown>,
  expected: { status: number; reasonCode: string; retryable?: boolean },
): Promise<AmazonPayError> {
  const error = await rejection(promise);
  expect({ status: error.status, reasonCode: error.reasonCode, retryable: error.retryable }).toEqual({
    status: expected.status,
    reasonCode: expected.reasonCode,
    retryable: expected.retryable ?? false,
  });
  return error;
}

export interface CheckoutOptions {
  amount?: string;
  currencyCode?: string;
  intent?: PaymentIntent;
  method?: PaymentMethodChoice;
  create?: Partial<CreateCheckoutSessionRequest>;
  update?: UpdateCheckoutSessionRequest;
  /** Default true: stop after the buyer paid when false. */
  complete?: boolean;
}

export interface CheckoutRun {
  checkoutSessionId: string;
  redirectUrl: string;
  completed: CheckoutSession | undefined;
}

/** create -> buyer signs in -> update -> buyer pays on amazonPayRedirectUrl -> complete, all through our client. */
export async function runCheckout(
  client: AmazonPayClient,
  admin: SimulatorAdmin,
  o: CheckoutOptions = {},
): Promise<CheckoutRun> {
  const chargeAmount = { amount: o.amount ?? '100.00', currencyCode: o.currencyCode ?? 'USD' };
  const created = await client.createCheckoutSession(
    { storeId: STORE_ID, webCheckoutDetails: { checkoutReviewReturnUrl: REVIEW_URL }, ...o.create },
    { idempotencyKey: newKey('create') },
  );
  await admin.signIn(created.checkoutSessionId);
  const updated = await client.updateCheckoutSession(created.checkoutSessionId, {
    webCheckoutDetails: { checkoutResultReturnUrl: RESULT_URL },
    paymentDetails: { paymentIntent: o.intent ?? 'Authorize', chargeAmount },
    ...o.update,
  });
  const redirectUrl = updated.webCheckoutDetails?.amazonPayRedirectUrl;
  if (!redirectUrl) throw new Error(`no amazonPayRedirectUrl: constraints ${JSON.stringify(updated.constraints)}`);
  await admin.pay(redirectUrl, o.method ?? 'happy');
  if (o.complete === false) return { checkoutSessionId: created.checkoutSessionId, redirectUrl, completed: undefined };
  const completed = await client.completeCheckoutSession(
    created.checkoutSessionId,
    {
      chargeAmount,
      ...(o.update?.paymentDetails?.totalOrderAmount
        ? { totalOrderAmount: o.update.paymentDetails.totalOrderAmount }
        : {}),
    },
    { idempotencyKey: newKey('complete') },
  );
  return { checkoutSessionId: created.checkoutSessionId, redirectUrl, completed };
}

/** An authorized one-time charge: returns its ids. */
export async function authorizedCharge(client: AmazonPayClient, admin: SimulatorAdmin, amount = '100.00') {
  const run = await runCheckout(client, admin, { amount });
  const chargeId = run.completed?.chargeId;
  const chargePermissionId = run.completed?.chargePermissionId;
  if (!chargeId || !chargePermissionId) throw new Error('checkout did not produce a charge');
  return { ...run, chargeId, chargePermissionId };
}

export interface RawResponse {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- reading arbitrary JSON answers
  body: any;
  text: string;
}

/**
 * A request signed with the simulator's own signer (independent of ours), for bodies our client refuses to send.
 * `path` includes the environment prefix, e.g. '/v2/checkoutSessions'.
 */
export async function rawSignedRequest(
  baseUrl: string,
  key: Pick<KeyPair, 'publicKeyId' | 'privateKeyPem'>,
  method: string,
  path: string,
  body?: string,
  options: { headers?: Record<string, string>; algorithm?: SignatureAlgorithm; dateFormat?: 'basic' | 'extended' } = {},
): Promise<RawResponse> {
  const headers = signRequest({
    method,
    url: path,
    body: body ?? '',
    headers: options.headers ?? {},
    publicKeyId: key.publicKeyId,
    privateKeyPem: key.privateKeyPem,
    host: new URL(baseUrl).host,
    ...(options.algorithm ? { algorithm: options.algorithm } : {}),
    ...(options.dateFormat ? { dateFormat: options.dateFormat } : {}),
  });
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    ...(method === 'GET' ? {} : { body: body ?? '' }),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed, text };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
