import { ActivityFailure, ApplicationFailure, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { NON_RETRYABLE_REASON_CODES } from '../payments/reason-codes';

const retry = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  nonRetryableErrorTypes: [...NON_RETRYABLE_REASON_CODES],
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

/** Update handlers must fail with an ApplicationFailure; anything else would fail the workflow task. */
export function asUpdateFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  const type = reasonOf(err) ?? 'AmazonPayUnavailable';
  const message = cause?.message ?? (err instanceof Error ? err.message : String(err));
  return ApplicationFailure.create({ type, message, nonRetryable: true, ...(cause ? { cause } : {}) });
}

export const fail = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });
