import { ActivityFailure, ApplicationFailure, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../../activities';

/** Amazon's business answers: never retried by Temporal, handled by name in the workflow. */
const BUSINESS_REASON_CODES = [
  'AmountMismatch',
  'CheckoutSessionCanceled',
  'InvalidCheckoutSessionStatus',
  'InvalidChargePermissionStatus',
  'InvalidChargeStatus',
  'ChargePermissionNotModifiable',
  'TransactionAmountExceeded',
  'TransactionCountExceeded',
  // Recurring limits: a charge refused for them was answered, so it is never resent (unanswered.ts).
  'PeriodicAmountExceeded',
  'CurrencyMismatch',
  'SoftDeclined',
  'HardDeclined',
  'AmazonRejected',
  'PaymentMethodNotAllowed',
  'MFANotCompleted',
  'TransactionTimedOut',
  'ResourceNotFound',
  'DuplicateIdempotencyKey',
  'InvalidParameterValue',
  'InvalidParameterCombination',
  'MissingParameterValue',
  'UnrecognizedField',
  'InvalidIdempotencyKey',
  'UnauthorizedAccess',
  'InvalidAccountStatus',
  'InvalidRequestSignature',
];
const retry = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  nonRetryableErrorTypes: BUSINESS_REASON_CODES,
};
const base: ActivityOptions = { startToCloseTimeout: '30s', heartbeatTimeout: '5s' };
/** GETs are harmless to repeat: retry until they answer, within an hour. */
export const reads = proxyActivities<Activities>({ ...base, scheduleToCloseTimeout: '1h', retry });
/** POSTs carry an idempotency key; bounded, after which the workflow GETs the object to learn the outcome. */
export const writes = proxyActivities<Activities>({ ...base, retry: { ...retry, maximumAttempts: 10 } });
export const bestEffort = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: { ...retry, maximumAttempts: 5 } });

/** Amazon's reasonCode carried by an activity failure, or null when Amazon never answered. */
export function reasonOf(err: unknown): string | null {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) return err.cause.type ?? null;
  if (err instanceof ApplicationFailure) return err.type ?? null;
  return null;
}

/** Amazon answered with one of its business reasonCodes (see unanswered.ts for what settles a key). */
export function answeredByAmazonType(type: string | null | undefined): boolean {
  return !!type && BUSINESS_REASON_CODES.includes(type);
}

/** Update handlers must fail with an ApplicationFailure; anything else would fail the workflow task. */
export function asUpdateFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  const type = reasonOf(err) ?? 'AmazonPayUnavailable';
  const message = cause?.message ?? (err instanceof Error ? err.message : String(err));
  return ApplicationFailure.create({ type, message, nonRetryable: true, ...(cause ? { cause } : {}) });
}

export const fail = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });
