import type { z } from '@hono/zod-openapi';
import { ErrorSchema } from './schemas';

const ERROR_DESCRIPTIONS = {
  400: 'Invalid input (invalid_json, validation_error, idempotency_key_required); nothing changed',
  401: 'Missing or invalid API key (unauthorized)',
  404: 'Unknown checkout (checkout_not_found)',
  409: "The checkout's state does not allow this (code = the workflow's or Amazon's reason, e.g. InvalidChargeStatus, AmountMismatch, checkout_closed)",
  413: 'Request body too large (payload_too_large)',
  415: 'Body is not application/json (unsupported_media_type)',
  422: 'Rejected by the checkout (code = the reason, e.g. TransactionAmountExceeded, currency_mismatch)',
  501: 'Not available in this deployment (not_implemented)',
  503: 'Temporal or Amazon Pay temporarily unavailable (temporal_unavailable); retry with the same Idempotency-Key after Retry-After seconds',
  504: 'No answer in time (timeout); retry with the same Idempotency-Key after Retry-After seconds',
} as const;
export type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS;

export function errorResponses<S extends ErrorStatus>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((s) => [
      s,
      { description: ERROR_DESCRIPTIONS[s], content: { 'application/json': { schema: ErrorSchema } } },
    ]),
  ) as unknown as {
    [K in S]: { description: string; content: { 'application/json': { schema: typeof ErrorSchema } } };
  };
}

export const jsonContent = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

export const jsonBody = <T extends z.ZodType>(schema: T, required = true) => ({
  required,
  content: { 'application/json': { schema } },
});

/** Statuses every storefront (authenticated, JSON body) route can answer. */
export const STOREFRONT_ERRORS = [400, 401, 413, 415, 503, 504] as const;
