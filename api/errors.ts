import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * Every error our HTTP API returns has one shape, `{ "error": { "code", "message" } }`, like
 * Stripe's: `code` is stable and machine-readable, `message` is for the developer reading logs.
 * No stack traces, no internal details.
 */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: { code, message, ...(details === undefined ? {} : { details }) } };
}

/** Seconds a client should wait before retrying a 503/504 (RFC 9110 Retry-After). */
export const RETRY_AFTER_SECONDS = 2;

export function errorResponse(c: Context, err: ApiError): Response {
  if (err.status === 503 || err.status === 504) c.header('Retry-After', String(RETRY_AFTER_SECONDS));
  return c.json(errorBody(err.code, err.message, err.details), err.status);
}
