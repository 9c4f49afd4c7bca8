import { ActivityFailure, ApplicationFailure, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { NON_RETRYABLE_REASON_CODES, reasonCode } from './reason-codes';

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
export const bestEffort = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { ...retry, maximumAttempts: 5 },
});
/**
 * The buyer's path (review, amount, complete and the reads that decide its answer): a buyer waits,
 * so retries come quickly (200 ms, doubling, at most 1 s apart) and the total is bounded. A hung
 * attempt is cut after 2 s and retried with the same key. Past 4 s the request fails, the API
 * answers 503 with Retry-After, and the same request is safe to repeat.
 */
export const interactive = proxyActivities<Activities>({
  startToCloseTimeout: '2s',
  scheduleToCloseTimeout: '4s',
  retry: { ...retry, initialInterval: '200ms', maximumInterval: '1s' },
});
export type AmazonPayProxy = typeof reads;

/** Amazon's reasonCode carried by an activity failure, or null when Amazon never answered. */
export function reasonOf(err: unknown): string | null {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) return err.cause.type ?? null;
  if (err instanceof ApplicationFailure) return err.type ?? null;
  return null;
}

/**
 * Amazon's reason code when its answer is final (a refusal, or our client's), else null: no answer,
 * or only a transient one (5xx, throttling, timeouts) until the retries or the budget ran out.
 */
export function finalReasonOf(err: unknown): string | null {
  const reason = reasonOf(err);
  const category = reasonCode(reason)?.category;
  if (!reason || category === 'transient' || category === 'unreadable') return null;
  if (category) return reason;
  // A code the table does not know is final when Amazon's answer was (a 4xx).
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.nonRetryable ? reason : null;
}

/**
 * Update handlers must fail with an ApplicationFailure; anything else would fail the workflow task.
 * Amazon's answers keep their reason code; a call that got no final answer (5xx, throttling,
 * timeouts, until its retries or its budget ran out) is AmazonPayUnavailable, which the API
 * answers 503 with Retry-After. Amazon's own detail (status, reasonCode, requestId) is kept.
 */
export function asUpdateFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  const final = finalReasonOf(err);
  const detail = cause?.message ?? (err instanceof Error ? err.message : String(err));
  const type = final ?? 'AmazonPayUnavailable';
  const message = final
    ? detail
    : `Amazon Pay did not answer in time (${detail}); retry this request, it is safe to repeat`;
  const amazon = cause instanceof ApplicationFailure ? cause.details : undefined;
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable: true,
    ...(amazon ? { details: amazon } : {}),
    ...(cause ? { cause } : {}),
  });
}

export const fail = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });
