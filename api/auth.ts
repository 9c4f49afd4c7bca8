import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { errorBody } from './errors';

/**
 * Storefront API-key authentication: `Authorization: Bearer <key>` or `x-api-key: <key>`.
 * Buyer-facing return endpoints do not use it.
 */

/** Names of the OpenAPI security schemes this middleware implements. */
export const securitySchemes = {
  bearerAuth: { type: 'http', scheme: 'bearer', description: 'Storefront API key as a bearer token.' },
  apiKeyHeader: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'Storefront API key.' },
} as const;
export const apiKeySecurity: Record<string, string[]>[] = [{ bearerAuth: [] }, { apiKeyHeader: [] }];

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Compares the presented key with every configured key in constant time: digests make both sides
 * 32 bytes, so timingSafeEqual never sees different lengths, and the loop never stops early, so
 * neither the key's length nor which key matched leaks through timing.
 */
export function matchesAnyKey(presented: string, keyDigests: readonly Buffer[]): boolean {
  const candidate = digest(presented);
  let match = false;
  for (const key of keyDigests) match = timingSafeEqual(candidate, key) || match;
  return match;
}

/** The key a request presents, or null. A malformed Authorization header counts as no key. */
export function presentedKey(authorization: string | undefined, apiKeyHeader: string | undefined): string | null {
  if (authorization !== undefined) {
    const m = /^Bearer[ ]+(\S+)[ ]*$/i.exec(authorization);
    return m?.[1] ?? null;
  }
  return apiKeyHeader && apiKeyHeader.length > 0 ? apiKeyHeader : null;
}

/** Rejects with 401 unless the request carries one of `keys`. With no keys configured, everything is rejected. */
export function apiKeyAuth(keys: readonly string[]): MiddlewareHandler {
  const keyDigests = keys.filter((k) => k.length > 0).map(digest);
  return async (c, next) => {
    const key = presentedKey(c.req.header('authorization'), c.req.header('x-api-key'));
    if (key === null || !matchesAnyKey(key, keyDigests)) {
      c.header('WWW-Authenticate', 'Bearer');
      const message =
        key === null
          ? 'an API key is required: Authorization: Bearer <key> or x-api-key: <key>'
          : 'the API key is not valid';
      return c.json(errorBody('unauthorized', message), 401);
    }
    await next();
  };
}
