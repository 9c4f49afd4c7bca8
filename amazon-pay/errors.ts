import type { z } from 'zod';
import { errorBodySchema } from './schemas';

/** Reason codes the client itself produces when Amazon's answer is missing or unusable. */
export type ClientReasonCode =
  'NetworkError' | 'Timeout' | 'InvalidResponse' | 'InvalidRequest' | 'InvalidIdempotencyKey';

export interface AmazonPayErrorInit {
  status: number;
  reasonCode: string;
  message: string;
  retryable: boolean;
  requestId?: string | undefined;
  cause?: unknown;
}

/** One error class for every failed call: Amazon's error body, a transport failure, or an unusable response. */
export class AmazonPayError extends Error {
  override readonly name: string = 'AmazonPayError';
  /** HTTP status; 0 when no HTTP answer was received (transport failure, timeout, rejected before sending). */
  readonly status: number;
  readonly reasonCode: string;
  readonly requestId?: string;
  readonly retryable: boolean;

  constructor(init: AmazonPayErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.reasonCode = init.reasonCode;
    this.retryable = init.retryable;
    if (init.requestId !== undefined) this.requestId = init.requestId;
  }
}

/**
 * Thrown before anything is sent when an idempotency key is missing or malformed. It is a programming error,
 * so it is not retryable; it extends AmazonPayError so callers that classify client failures see it too.
 */
export class InvalidIdempotencyKeyError extends AmazonPayError {
  override readonly name = 'InvalidIdempotencyKeyError';
  constructor(message: string) {
    super({ status: 0, reasonCode: 'InvalidIdempotencyKey', message, retryable: false });
  }
}

/** The client configuration cannot work (unreadable private key, bad baseUrl, unknown region). Thrown by the constructor. */
export class AmazonPayConfigError extends Error {
  override readonly name = 'AmazonPayConfigError';
}

/** Statuses Amazon and every official SDK treat as transient: retry with the same idempotency key. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** Amazon's error answer (or whatever came instead) as an AmazonPayError; retryability follows the status. */
export function errorFromResponse(
  operation: string,
  status: number,
  text: string,
  requestId: string | undefined,
): AmazonPayError {
  let body: z.infer<typeof errorBodySchema> | undefined;
  try {
    const parsed = errorBodySchema.safeParse(JSON.parse(text));
    if (parsed.success) body = parsed.data;
  } catch {
    // a gateway page or an empty body: classified by status below
  }
  // A gateway's HTML 502 is still transient: retryability follows the status even when the body is unusable.
  const retryable = isRetryableStatus(status);
  if (!body) {
    return new AmazonPayError({
      status,
      requestId,
      retryable,
      reasonCode: 'InvalidResponse',
      message: `${operation}: HTTP ${status} without an Amazon Pay error body: ${preview(text)}`,
    });
  }
  return new AmazonPayError({
    status,
    requestId,
    retryable,
    reasonCode: body.reasonCode,
    message: body.message ?? body.reasonCode,
  });
}

export function invalidResponse(
  operation: string,
  status: number,
  requestId: string | undefined,
  detail: string,
): AmazonPayError {
  return new AmazonPayError({
    status,
    requestId,
    retryable: false,
    reasonCode: 'InvalidResponse',
    message: `${operation}: unexpected response: ${detail}`,
  });
}

export function formatIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
    .join('; ');
}

export function preview(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text || '(empty)';
}
