import type { Client } from '@temporalio/client';
import { Hono } from 'hono';
import { vi } from 'vitest';
import { ApiError, errorBody, errorResponse } from '../errors';
import type { CheckoutRouteDeps } from './deps';
import { createCheckoutRoutes } from './routes';

export const API_KEY = 'sk_test_4242424242424242';
export const SESSION_ID = 'bd504926-f659-4ad7-a1a9-9a747aaf5275';

/**
 * A Temporal client that records any use and fails: for requests that must be answered at the
 * edge (bad key, bad input), so the tests can assert nothing reached the workflow.
 */
export function untouchableTemporal() {
  const touched = vi.fn();
  const temporal = new Proxy(
    {},
    {
      get(_target, prop) {
        touched(prop);
        throw new Error(`Temporal must not be reached (accessed ${String(prop)})`);
      },
    },
  ) as Client;
  return { temporal, touched };
}

/** Signs nothing; returns the payload it was given so tests can inspect it. */
export const fakeSigner = {
  buttonConfig: vi.fn((payloadJSON: string) => ({
    payloadJSON,
    signature: 'c2lnbmF0dXJl',
    publicKeyId: 'SANDBOX-KEY',
    algorithm: 'AMZN-PAY-RSASSA-PSS-V2',
  })),
};

/** The routes mounted the way api/app.ts mounts them, with its catch-all error handler. */
export function testApp(overrides: Partial<CheckoutRouteDeps> = {}) {
  const { temporal, touched } = untouchableTemporal();
  const deps: CheckoutRouteDeps = {
    temporal,
    taskQueue: 'test',
    apiKeys: [API_KEY, 'sk_test_other'],
    buttonSigner: fakeSigner,
    storeId: 'amzn1.application-oa2-client.0123456789abcdef0123456789abcdef',
    bodyLimitBytes: 4096,
    ...overrides,
  };
  const app = new Hono();
  app.route('/', createCheckoutRoutes(deps));
  app.onError((err, c) =>
    err instanceof ApiError ? errorResponse(c, err) : c.json(errorBody('internal_error', 'unexpected'), 500),
  );
  return { app, touched, deps };
}

export const auth = { authorization: `Bearer ${API_KEY}` };
export const jsonHeaders = { ...auth, 'content-type': 'application/json' };

export function post(app: Hono, path: string, body: unknown, headers: Record<string, string> = jsonHeaders) {
  return app.request(path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}
