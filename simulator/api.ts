import { randomUUID } from 'node:crypto';
import type { Context } from 'hono';
import type { SimClock } from './clock';
import type { RequestContext, SimulatorEngine } from './engine';
import { AmazonPayApiError, notFound } from './errors';
import type { Environment, OperationName } from './model';
import {
  cancelChargeSchema,
  captureChargeSchema,
  closeChargePermissionSchema,
  completeCheckoutSessionSchema,
  createChargeSchema,
  createCheckoutSessionSchema,
  createRefundSchema,
  parseBody,
  updateChargePermissionSchema,
  updateCheckoutSessionSchema,
} from './schemas';
import { type PublicKeyRegistry, verifyRequest } from './signature';
import type { Throttle } from './throttle';
import { chargePermissionView, chargeView, checkoutSessionView, refundView } from './views';

interface Route {
  method: string;
  pattern: RegExp;
  operation: OperationName;
}

const ROUTES: Route[] = [
  { method: 'POST', pattern: /^checkoutSessions$/, operation: 'createCheckoutSession' },
  { method: 'GET', pattern: /^checkoutSessions\/([^/]+)$/, operation: 'getCheckoutSession' },
  { method: 'PATCH', pattern: /^checkoutSessions\/([^/]+)$/, operation: 'updateCheckoutSession' },
  { method: 'POST', pattern: /^checkoutSessions\/([^/]+)\/complete$/, operation: 'completeCheckoutSession' },
  { method: 'GET', pattern: /^chargePermissions\/([^/]+)$/, operation: 'getChargePermission' },
  { method: 'PATCH', pattern: /^chargePermissions\/([^/]+)$/, operation: 'updateChargePermission' },
  { method: 'DELETE', pattern: /^chargePermissions\/([^/]+)\/close$/, operation: 'closeChargePermission' },
  { method: 'POST', pattern: /^charges$/, operation: 'createCharge' },
  { method: 'GET', pattern: /^charges\/([^/]+)$/, operation: 'getCharge' },
  { method: 'POST', pattern: /^charges\/([^/]+)\/capture$/, operation: 'captureCharge' },
  { method: 'DELETE', pattern: /^charges\/([^/]+)\/cancel$/, operation: 'cancelCharge' },
  { method: 'POST', pattern: /^refunds$/, operation: 'createRefund' },
  { method: 'GET', pattern: /^refunds\/([^/]+)$/, operation: 'getRefund' },
];

/** Operations whose SDK signature makes the idempotency key mandatory. */
export const IDEMPOTENCY_REQUIRED = new Set<OperationName>([
  'createCheckoutSession',
  'createCharge',
  'captureCharge',
  'createRefund',
]);

/** Sandbox simulation codes each operation accepts; anything else is InvalidSandboxSimulationSpecified. */
export const SIMULATION_CODES: Partial<Record<OperationName, readonly string[]>> = {
  completeCheckoutSession: ['BuyerCanceled', 'Declined', 'AmazonCanceled'],
  createCharge: [
    'HardDeclined',
    'SoftDeclined',
    'AmazonRejected',
    'ProcessingFailure',
    'TransactionTimedOut',
    'ExpiredUnused',
    'AmazonCanceled',
  ],
  captureCharge: ['CaptureInitiated', 'AmazonRejected', 'ProcessingFailure'],
  createRefund: ['RefundDeclined', 'AmazonRejected', 'ProcessingFailure'],
};

export interface HoldResponses {
  operation: OperationName;
  ms: number;
  count?: number;
}

export interface FaultState {
  errorRate: number;
  /** Share of requests answered 429 TooManyRequests on top of the quotas (random, not a bucket). */
  throttleRate: number;
  latencyMs: number;
  hold: { operation: OperationName; ms: number; remaining: number } | undefined;
}

export interface RequestCounts {
  byOperation: Record<string, number>;
  /** A Map, not an object: keys come from the client, and `constructor` or `__proto__` must count like any other. */
  byIdempotencyKey: Map<string, number>;
}

/** The admin JSON shape of the counts (`/__admin/requests`, read by `admin-client.ts`). */
export const requestCountsJson = (counts: RequestCounts) => ({
  byOperation: counts.byOperation,
  byIdempotencyKey: Object.fromEntries(counts.byIdempotencyKey),
});

/** §5: at most 32 characters from a-z A-Z 0-9 - _. */
const IDEMPOTENCY_KEY = /^[A-Za-z0-9_-]{1,32}$/;

/** The resource id from the path; a malformed percent-escape names nothing that can exist. */
function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw notFound('resource', raw);
  }
}

export interface ApiDeps {
  engine: SimulatorEngine;
  keys: PublicKeyRegistry;
  throttle: Throttle;
  faults: FaultState;
  counts: RequestCounts;
  idempotency: Map<string, { fingerprint: string; status: number; body: string }>;
  clock: SimClock;
  clockSkewMs: number;
  defaultEnvironment: Environment;
  publicBaseUrl: () => string | undefined;
  random: () => number;
}

const PATH = /^\/(?:(sandbox|live)\/)?v2\/(.*?)\/?$/;

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createApiHandler(deps: ApiDeps) {
  const json = (status: number, body: string, requestId: string) =>
    new Response(body, { status, headers: { 'content-type': 'application/json', 'x-amz-pay-request-id': requestId } });

  return async (c: Context): Promise<Response> => {
    const requestId = randomUUID();
    const url = new URL(c.req.url);
    const rawPath = c.req.raw.url.replace(/^[a-z]+:\/\/[^/]+/i, '').split('?')[0] ?? url.pathname;
    const rawQuery = url.search.replace(/^\?/, '');
    deps.clock.tick();
    try {
      const match = PATH.exec(url.pathname);
      if (!match) throw new AmazonPayApiError(404, 'ResourceNotFound', `No operation at ${url.pathname}.`);
      const pathEnv: Environment | undefined =
        match[1] === 'sandbox' ? 'Sandbox' : match[1] === 'live' ? 'Live' : undefined;
      const resource = match[2] ?? '';
      const method = c.req.method.toUpperCase();
      const candidates = ROUTES.filter((r) => r.pattern.test(resource));
      if (candidates.length === 0)
        throw new AmazonPayApiError(404, 'ResourceNotFound', `No operation at ${url.pathname}.`);
      const route = candidates.find((r) => r.method === method);
      if (!route)
        throw new AmazonPayApiError(405, 'RequestNotSupported', `${method} is not supported on ${url.pathname}.`);
      const operation = route.operation;
      const id = decodeId(route.pattern.exec(resource)?.[1] ?? '');
      deps.counts.byOperation[operation] = (deps.counts.byOperation[operation] ?? 0) + 1;
      const idempotencyKey = c.req.header('x-amz-pay-idempotency-key');

      const body = method === 'GET' ? '' : await c.req.text();
      const verified = verifyRequest({
        method,
        path: rawPath,
        rawQuery,
        header: (name) => c.req.raw.headers.get(name),
        body,
        keys: deps.keys,
        nowMs: Date.now(),
        clockSkewMs: deps.clockSkewMs,
      });
      // Counted once the caller is known and the key is one Amazon would accept, so junk cannot grow the table.
      if (idempotencyKey !== undefined && IDEMPOTENCY_KEY.test(idempotencyKey)) {
        deps.counts.byIdempotencyKey.set(idempotencyKey, (deps.counts.byIdempotencyKey.get(idempotencyKey) ?? 0) + 1);
      }
      const keyEnv: Environment | undefined = /^live/i.test(verified.publicKeyId)
        ? 'Live'
        : /^sandbox/i.test(verified.publicKeyId)
          ? 'Sandbox'
          : undefined;
      if (keyEnv && pathEnv && keyEnv !== pathEnv) {
        throw new AmazonPayApiError(
          401,
          'UnauthorizedAccess',
          `The public key ${verified.publicKeyId} is not valid for the ${pathEnv} environment.`,
        );
      }
      const env = pathEnv ?? keyEnv ?? deps.defaultEnvironment;

      if (!deps.throttle.take(`${verified.merchantId}\n${env}`, operation)) {
        throw new AmazonPayApiError(
          429,
          'TooManyRequests',
          'The request was throttled. Retry with exponential backoff.',
        );
      }
      if (deps.faults.throttleRate > 0 && deps.random() < deps.faults.throttleRate) {
        throw new AmazonPayApiError(
          429,
          'TooManyRequests',
          'The request was throttled. Retry with exponential backoff.',
        );
      }
      if (deps.faults.latencyMs > 0) await sleep(deps.faults.latencyMs);
      if (deps.faults.errorRate > 0 && deps.random() < deps.faults.errorRate) {
        throw deps.random() < 0.5
          ? new AmazonPayApiError(500, 'InternalServerError', 'Simulated internal server error.')
          : new AmazonPayApiError(503, 'ServiceUnavailable', 'Simulated service unavailability.');
      }

      const simulationCode = c.req.header('x-amz-pay-simulation-code')?.trim() || undefined;
      if (simulationCode !== undefined && (env === 'Live' || !SIMULATION_CODES[operation]?.includes(simulationCode))) {
        throw new AmazonPayApiError(
          400,
          'InvalidSandboxSimulationSpecified',
          `The simulation code '${simulationCode}' is not valid for this operation${env === 'Live' ? ' in the Live environment' : ''}.`,
        );
      }

      let parsed: unknown = {};
      let parseError: AmazonPayApiError | undefined;
      if (method !== 'GET' && body.trim() !== '') {
        try {
          parsed = JSON.parse(body);
        } catch {
          parseError = new AmazonPayApiError(400, 'InvalidRequestFormat', 'The request body is not valid JSON.');
        }
      }

      // Idempotency applies to POSTs; keys are scoped to the merchant account (and environment).
      let storeKey: string | undefined;
      let fingerprint = '';
      if (method === 'POST') {
        if (idempotencyKey === undefined) {
          if (IDEMPOTENCY_REQUIRED.has(operation)) {
            throw new AmazonPayApiError(
              400,
              'MissingHeader',
              'The required header x-amz-pay-idempotency-key is missing.',
            );
          }
        } else {
          if (idempotencyKey === '')
            throw new AmazonPayApiError(
              400,
              'MissingHeaderValue',
              'The header x-amz-pay-idempotency-key has no value.',
            );
          if (!IDEMPOTENCY_KEY.test(idempotencyKey)) {
            throw new AmazonPayApiError(
              400,
              'InvalidHeaderValue',
              'The value provided for header x-amz-pay-idempotency-key is invalid.',
            );
          }
          storeKey = `${verified.merchantId}\n${env}\n${idempotencyKey}`;
          fingerprint = `${method} ${url.pathname.replace(/\/$/, '')} ${parseError ? body : stableStringify(parsed)} ${simulationCode ?? ''}`;
          const stored = deps.idempotency.get(storeKey);
          if (stored) {
            if (stored.fingerprint !== fingerprint) {
              throw new AmazonPayApiError(
                400,
                'DuplicateIdempotencyKey',
                'The idempotency key was already used for a different request.',
              );
            }
            return await respond(operation, json(stored.status, stored.body, requestId));
          }
        }
      }
      if (parseError) throw parseError;

      const ctx: RequestContext = {
        merchantId: verified.merchantId,
        env,
        simulationCode,
        publicBaseUrl: deps.publicBaseUrl() ?? url.origin,
      };
      let status: number;
      let responseBody: string;
      try {
        const result = handle(deps.engine, operation, ctx, id, parsed);
        status = result.status;
        responseBody = JSON.stringify(result.body);
      } catch (error) {
        if (!(error instanceof AmazonPayApiError)) throw error;
        status = error.status;
        responseBody = JSON.stringify(error.toBody());
      }
      if (storeKey && status < 500) deps.idempotency.set(storeKey, { fingerprint, status, body: responseBody });
      return await respond(operation, json(status, responseBody, requestId));
    } catch (error) {
      if (error instanceof AmazonPayApiError) return json(error.status, JSON.stringify(error.toBody()), requestId);
      console.error('[simulator] unexpected error', error);
      return json(
        500,
        JSON.stringify({ reasonCode: 'InternalServerError', message: 'Unexpected simulator error.' }),
        requestId,
      );
    }
  };

  async function respond(operation: OperationName, response: Response): Promise<Response> {
    const hold = deps.faults.hold;
    if (hold && hold.operation === operation && hold.remaining > 0) {
      hold.remaining -= 1;
      if (hold.remaining === 0) deps.faults.hold = undefined;
      await sleep(hold.ms);
    }
    return response;
  }
}

function handle(
  engine: SimulatorEngine,
  operation: OperationName,
  ctx: RequestContext,
  id: string,
  body: unknown,
): { status: number; body: unknown } {
  const base = ctx.publicBaseUrl;
  switch (operation) {
    case 'createCheckoutSession':
      return {
        status: 201,
        body: checkoutSessionView(
          engine,
          engine.createCheckoutSession(ctx, parseBody(createCheckoutSessionSchema, body)),
          base,
        ),
      };
    case 'getCheckoutSession':
      return { status: 200, body: checkoutSessionView(engine, engine.session(ctx, id), base) };
    case 'updateCheckoutSession':
      return {
        status: 200,
        body: checkoutSessionView(
          engine,
          engine.updateCheckoutSession(ctx, id, parseBody(updateCheckoutSessionSchema, body)),
          base,
        ),
      };
    case 'completeCheckoutSession':
      return {
        status: 200,
        body: checkoutSessionView(
          engine,
          engine.completeCheckoutSession(ctx, id, parseBody(completeCheckoutSessionSchema, body)),
          base,
        ),
      };
    case 'getChargePermission':
      return { status: 200, body: chargePermissionView(engine, engine.chargePermission(ctx, id)) };
    case 'updateChargePermission':
      return {
        status: 200,
        body: chargePermissionView(
          engine,
          engine.updateChargePermission(ctx, id, parseBody(updateChargePermissionSchema, body)),
        ),
      };
    case 'closeChargePermission':
      return {
        status: 200,
        body: chargePermissionView(
          engine,
          engine.closeChargePermissionByMerchant(ctx, id, parseBody(closeChargePermissionSchema, body)),
        ),
      };
    case 'createCharge':
      return { status: 201, body: chargeView(engine.createCharge(ctx, parseBody(createChargeSchema, body))) };
    case 'getCharge':
      return { status: 200, body: chargeView(engine.charge(ctx, id)) };
    case 'captureCharge':
      return { status: 200, body: chargeView(engine.captureCharge(ctx, id, parseBody(captureChargeSchema, body))) };
    case 'cancelCharge':
      return {
        status: 200,
        body: chargeView(engine.cancelChargeByMerchant(ctx, id, parseBody(cancelChargeSchema, body))),
      };
    case 'createRefund':
      return { status: 201, body: refundView(engine.createRefund(ctx, parseBody(createRefundSchema, body))) };
    case 'getRefund':
      return { status: 200, body: refundView(engine.refund(ctx, id)) };
  }
}
