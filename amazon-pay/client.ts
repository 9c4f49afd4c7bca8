/*
 * Amazon Pay Checkout v2 client: the only module that knows Amazon Pay's wire format.
 *
 * Why not wrap the official `@amazonpay/amazon-pay-api-sdk-nodejs`:
 * - its retry logic never retries: `retryLogic` reads `statusCode` of the Promise returned by sendRequest, which is
 *   always undefined, so 408/425/429/5xx are rejected at once despite the README;
 * - its (undocumented) `overrideServiceUrl` always builds `https://` URLs and sets
 *   `process.env.NODE_TLS_REJECT_UNAUTHORIZED = 0`, turning off TLS verification for the whole process, so it cannot
 *   talk to a plain-HTTP simulator without weakening every other HTTPS call;
 * - it has no types and rejects with raw axios errors.
 * The SDK stays a devDependency: tests check that our signatures and its signatures verify the same way.
 *
 * No retry loop here on purpose: Temporal activity retries repeat the call with the same idempotency key,
 * and `AmazonPayError.retryable` tells them whether to.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { z } from 'zod';
import type { AmazonPayCredentials } from '../config';
import {
  AmazonPayConfigError,
  AmazonPayError,
  errorFromResponse,
  formatIssues,
  invalidResponse,
  preview,
} from './errors';
import { assertIdempotencyKey } from './idempotency';
import {
  cancelChargeRequestSchema,
  captureChargeRequestSchema,
  chargePermissionSchema,
  chargeSchema,
  checkoutSessionSchema,
  closeChargePermissionRequestSchema,
  completeCheckoutSessionRequestSchema,
  createChargeRequestSchema,
  createCheckoutSessionRequestSchema,
  createRefundRequestSchema,
  refundSchema,
  updateChargePermissionRequestSchema,
  updateCheckoutSessionRequestSchema,
  type CancelChargeRequest,
  type CaptureChargeRequest,
  type Charge,
  type ChargePermission,
  type CheckoutSession,
  type CloseChargePermissionRequest,
  type CompleteCheckoutSessionRequest,
  type CreateChargeRequest,
  type CreateCheckoutSessionRequest,
  type CreateRefundRequest,
  type Refund,
  type UpdateChargePermissionRequest,
  type UpdateCheckoutSessionRequest,
} from './schemas';
import { amzDate, buttonSignature, signRequest, type SigningAlgorithm } from './signing';
import { resolveEndpoint, type AmazonPayRegion, type Endpoint } from './endpoint';

export {
  isEnvironmentSpecificKeyId,
  REGION_HOSTS,
  resolveEndpoint,
  type AmazonPayRegion,
  type Endpoint,
} from './endpoint';

export interface AmazonPayClientConfig {
  publicKeyId: string;
  privateKey: string | KeyObject;
  region: AmazonPayRegion;
  /** Only used with legacy (unprefixed) key ids; `SANDBOX-`/`LIVE-` keys carry their environment. */
  sandbox: boolean;
  /** Default 'AMZN-PAY-RSASSA-PSS-V2'. */
  algorithm?: SigningAlgorithm;
  /** Overrides https://pay-api.amazon.{com|eu|jp}, e.g. 'http://127.0.0.1:4010'; x-amz-pay-host is then its host[:port]. */
  baseUrl?: string;
  /** Per request, default 15000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Told of every call once it is answered or failed (metrics); never given bodies or headers. */
  onCall?: (call: AmazonPayCallOutcome) => void;
}

export interface AmazonPayCallOutcome {
  /** The client method: getCharge, createRefund, ... */
  operation: string;
  /** Amazon's HTTP status; 0 when no answer came (timeout, network) or the call was refused before sending. */
  status: number;
  /** Amazon's reasonCode, or ours (Timeout, NetworkError, InvalidResponse, InvalidRequest); undefined on success. */
  reasonCode: string | undefined;
  durationMs: number;
}

export interface PostOptions {
  idempotencyKey: string;
  /** Sandbox only: `x-amz-pay-simulation-code`, e.g. 'HardDeclined'. */
  simulationCode?: string;
}

export interface ButtonConfig {
  payloadJSON: string;
  signature: string;
  publicKeyId: string;
  algorithm: SigningAlgorithm;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

interface CallSpec<T> {
  operation: string;
  method: Method;
  /** Path after the /v2 prefix, e.g. 'charges/S01-…/capture'. */
  resource: string;
  response: z.ZodType<T>;
  body?: unknown;
  bodySchema?: z.ZodType;
  idempotencyKey?: string | undefined;
  simulationCode?: string | undefined;
}

// Amazon ids are UUIDs or S01-0000000-0000000[-C000000]. Dots are excluded too: fetch would resolve '..' in the URL
// after we signed the unresolved path.
const RESOURCE_ID = /^[A-Za-z0-9-]+$/;
const DEFAULT_TIMEOUT_MS = 15_000;

export class AmazonPayClient {
  readonly publicKeyId: string;
  readonly algorithm: SigningAlgorithm;
  readonly region: AmazonPayRegion;
  readonly endpoint: Endpoint;
  private readonly privateKey: KeyObject;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly onCall: AmazonPayClientConfig['onCall'];

  constructor(config: AmazonPayClientConfig) {
    if (!config.publicKeyId) throw new AmazonPayConfigError('publicKeyId is required');
    this.publicKeyId = config.publicKeyId;
    this.algorithm = config.algorithm ?? 'AMZN-PAY-RSASSA-PSS-V2';
    if (this.algorithm !== 'AMZN-PAY-RSASSA-PSS-V2' && this.algorithm !== 'AMZN-PAY-RSASSA-PSS') {
      throw new AmazonPayConfigError(`unknown signing algorithm ${String(this.algorithm)}`);
    }
    this.region = config.region;
    this.endpoint = resolveEndpoint(config);
    try {
      this.privateKey = typeof config.privateKey === 'string' ? createPrivateKey(config.privateKey) : config.privateKey;
    } catch (err) {
      throw new AmazonPayConfigError(`privateKey is not a usable PEM private key: ${(err as Error).message}`);
    }
    if (this.privateKey.type !== 'private' || this.privateKey.asymmetricKeyType !== 'rsa') {
      throw new AmazonPayConfigError('privateKey must be an RSA private key');
    }
    this.timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fetchImpl = config.fetch ?? globalThis.fetch;
    this.onCall = config.onCall;
  }

  // ---- Checkout Session ----

  async createCheckoutSession(body: CreateCheckoutSessionRequest, opts: PostOptions): Promise<CheckoutSession> {
    return this.call({
      operation: 'createCheckoutSession',
      method: 'POST',
      resource: 'checkoutSessions',
      response: checkoutSessionSchema,
      body,
      bodySchema: createCheckoutSessionRequestSchema,
      ...required(opts),
    });
  }

  async getCheckoutSession(id: string): Promise<CheckoutSession> {
    return this.call({
      operation: 'getCheckoutSession',
      method: 'GET',
      resource: `checkoutSessions/${resourceId(id)}`,
      response: checkoutSessionSchema,
    });
  }

  async updateCheckoutSession(id: string, body: UpdateCheckoutSessionRequest): Promise<CheckoutSession> {
    return this.call({
      operation: 'updateCheckoutSession',
      method: 'PATCH',
      resource: `checkoutSessions/${resourceId(id)}`,
      response: checkoutSessionSchema,
      body,
      bodySchema: updateCheckoutSessionRequestSchema,
    });
  }

  /** The idempotency key is optional here (Amazon does not enforce it on Complete), but pass one when you can. */
  async completeCheckoutSession(
    id: string,
    body: CompleteCheckoutSessionRequest,
    opts: Partial<PostOptions> = {},
  ): Promise<CheckoutSession> {
    return this.call({
      operation: 'completeCheckoutSession',
      method: 'POST',
      resource: `checkoutSessions/${resourceId(id)}/complete`,
      response: checkoutSessionSchema,
      body,
      bodySchema: completeCheckoutSessionRequestSchema,
      idempotencyKey: opts.idempotencyKey,
      simulationCode: opts.simulationCode,
    });
  }

  // ---- Charge Permission ----

  async getChargePermission(id: string): Promise<ChargePermission> {
    return this.call({
      operation: 'getChargePermission',
      method: 'GET',
      resource: `chargePermissions/${resourceId(id)}`,
      response: chargePermissionSchema,
    });
  }

  async updateChargePermission(id: string, body: UpdateChargePermissionRequest): Promise<ChargePermission> {
    return this.call({
      operation: 'updateChargePermission',
      method: 'PATCH',
      resource: `chargePermissions/${resourceId(id)}`,
      response: chargePermissionSchema,
      body,
      bodySchema: updateChargePermissionRequestSchema,
    });
  }

  /** DELETE with a JSON body. */
  async closeChargePermission(id: string, body: CloseChargePermissionRequest): Promise<ChargePermission> {
    return this.call({
      operation: 'closeChargePermission',
      method: 'DELETE',
      resource: `chargePermissions/${resourceId(id)}/close`,
      response: chargePermissionSchema,
      body,
      bodySchema: closeChargePermissionRequestSchema,
    });
  }

  // ---- Charge ----

  /** A synchronous decline is an AmazonPayError (422 SoftDeclined/HardDeclined…), not a Declined Charge. */
  async createCharge(body: CreateChargeRequest, opts: PostOptions): Promise<Charge> {
    return this.call({
      operation: 'createCharge',
      method: 'POST',
      resource: 'charges',
      response: chargeSchema,
      body,
      bodySchema: createChargeRequestSchema,
      ...required(opts),
    });
  }

  async getCharge(id: string): Promise<Charge> {
    return this.call({
      operation: 'getCharge',
      method: 'GET',
      resource: `charges/${resourceId(id)}`,
      response: chargeSchema,
    });
  }

  async captureCharge(id: string, body: CaptureChargeRequest, opts: PostOptions): Promise<Charge> {
    return this.call({
      operation: 'captureCharge',
      method: 'POST',
      resource: `charges/${resourceId(id)}/capture`,
      response: chargeSchema,
      body,
      bodySchema: captureChargeRequestSchema,
      ...required(opts),
    });
  }

  /** DELETE with a JSON body. */
  async cancelCharge(id: string, body: CancelChargeRequest): Promise<Charge> {
    return this.call({
      operation: 'cancelCharge',
      method: 'DELETE',
      resource: `charges/${resourceId(id)}/cancel`,
      response: chargeSchema,
      body,
      bodySchema: cancelChargeRequestSchema,
    });
  }

  // ---- Refund ----

  async createRefund(body: CreateRefundRequest, opts: PostOptions): Promise<Refund> {
    return this.call({
      operation: 'createRefund',
      method: 'POST',
      resource: 'refunds',
      response: refundSchema,
      body,
      bodySchema: createRefundRequestSchema,
      ...required(opts),
    });
  }

  async getRefund(id: string): Promise<Refund> {
    return this.call({
      operation: 'getRefund',
      method: 'GET',
      resource: `refunds/${resourceId(id)}`,
      response: refundSchema,
    });
  }

  // ---- Button ----

  /** What the storefront passes to amazon.Pay.renderButton's createCheckoutSessionConfig; the signature covers payloadJSON exactly. */
  buttonConfig(payload: CreateCheckoutSessionRequest | string): ButtonConfig {
    const payloadJSON = typeof payload === 'string' ? payload : JSON.stringify(payload);
    return {
      payloadJSON,
      signature: buttonSignature(this.algorithm, this.privateKey, payloadJSON),
      publicKeyId: this.publicKeyId,
      algorithm: this.algorithm,
    };
  }

  // ---- Transport ----

  private async call<T>(spec: CallSpec<T>): Promise<T> {
    if (!this.onCall) return this.send(spec);
    const started = performance.now();
    const answered = { status: 0 };
    let reasonCode: string | undefined;
    try {
      return await this.send(spec, answered);
    } catch (err) {
      reasonCode = err instanceof AmazonPayError ? err.reasonCode : 'Unexpected';
      throw err;
    } finally {
      this.onCall({
        operation: spec.operation,
        status: answered.status,
        reasonCode,
        durationMs: performance.now() - started,
      });
    }
  }

  private async send<T>(spec: CallSpec<T>, answered?: { status: number }): Promise<T> {
    if (spec.idempotencyKey !== undefined) assertIdempotencyKey(spec.idempotencyKey);
    let payload = '';
    if (spec.body !== undefined) {
      const checked = spec.bodySchema?.safeParse(spec.body);
      if (checked && !checked.success) {
        throw new AmazonPayError({
          status: 0,
          reasonCode: 'InvalidRequest',
          retryable: false,
          message: `${spec.operation}: request rejected before sending: ${formatIssues(checked.error)}`,
        });
      }
      payload = JSON.stringify(spec.body);
    }

    const path = `${this.endpoint.pathPrefix}/${spec.resource}`;
    const signedHeaders: Record<string, string> = {
      accept: 'application/json',
      'content-type': 'application/json',
      'x-amz-pay-date': amzDate(),
      'x-amz-pay-host': this.endpoint.host,
      'x-amz-pay-region': this.region,
    };
    if (spec.idempotencyKey !== undefined) signedHeaders['x-amz-pay-idempotency-key'] = spec.idempotencyKey;
    if (spec.simulationCode !== undefined) signedHeaders['x-amz-pay-simulation-code'] = spec.simulationCode;
    const { authorization } = signRequest({
      algorithm: this.algorithm,
      publicKeyId: this.publicKeyId,
      privateKey: this.privateKey,
      method: spec.method,
      path,
      headers: signedHeaders,
      body: payload,
    });

    const url = `${this.endpoint.origin}${path}`;
    const signal = AbortSignal.timeout(this.timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await this.fetchImpl(url, {
        method: spec.method,
        headers: { ...signedHeaders, authorization },
        // GET carries no body; DELETE (close, cancel) does.
        ...(spec.method === 'GET' ? {} : { body: payload }),
        redirect: 'manual',
        signal,
      });
      text = await response.text();
    } catch (err) {
      throw this.transportError(spec.operation, err, signal);
    }

    if (answered) answered.status = response.status;
    const requestId = response.headers.get('x-amz-pay-request-id') ?? undefined;
    if (response.status < 200 || response.status >= 300)
      throw errorFromResponse(spec.operation, response.status, text, requestId);

    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw invalidResponse(spec.operation, response.status, requestId, `body is not JSON: ${preview(text)}`);
    }
    const parsed = spec.response.safeParse(json);
    if (!parsed.success) throw invalidResponse(spec.operation, response.status, requestId, formatIssues(parsed.error));
    return parsed.data;
  }

  private transportError(operation: string, err: unknown, signal: AbortSignal): AmazonPayError {
    const timedOut = signal.aborted && (signal.reason as Error | undefined)?.name === 'TimeoutError';
    if (timedOut) {
      return new AmazonPayError({
        status: 0,
        reasonCode: 'Timeout',
        retryable: true,
        cause: err,
        message: `${operation}: no complete answer from Amazon Pay within ${this.timeoutMs} ms`,
      });
    }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message ?? (err as Error).message;
    return new AmazonPayError({
      status: 0,
      reasonCode: 'NetworkError',
      retryable: true,
      cause: err,
      message: `${operation}: ${detail}`,
    });
  }
}

function required(opts: PostOptions): { idempotencyKey: string; simulationCode?: string | undefined } {
  // Checked here, not only in call(): a missing key must not silently turn a required-key call into a keyless one.
  assertIdempotencyKey(opts?.idempotencyKey);
  return { idempotencyKey: opts.idempotencyKey, simulationCode: opts.simulationCode };
}

function resourceId(id: string): string {
  if (typeof id !== 'string' || !RESOURCE_ID.test(id)) {
    throw new AmazonPayError({
      status: 0,
      reasonCode: 'InvalidRequest',
      retryable: false,
      message: `not an Amazon Pay id: '${String(id)}'`,
    });
  }
  return id;
}

export function amazonPayClientFromCredentials(
  c: AmazonPayCredentials,
  extra: Pick<AmazonPayClientConfig, 'onCall'> = {},
): AmazonPayClient {
  return new AmazonPayClient({
    ...extra,
    publicKeyId: c.publicKeyId,
    privateKey: c.privateKey,
    region: c.region,
    sandbox: c.sandbox,
    algorithm: c.algorithm,
    timeoutMs: c.timeoutMs,
    ...(c.baseUrl !== undefined ? { baseUrl: c.baseUrl } : {}),
  });
}
