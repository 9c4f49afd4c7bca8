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
