import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { settles } from './unanswered';

const activityFailure = (type: string) =>
  new ActivityFailure(
    'activity failed',
    'createCharge',
    '1',
    RetryState.NON_RETRYABLE_FAILURE,
    undefined,
    ApplicationFailure.create({ type, nonRetryable: true }),
  );

describe('what settles an unanswered call', () => {
  it.each([
    'PeriodicAmountExceeded',
    'TransactionCountExceeded',
    'PaymentMethodNotAllowed',
    'MFANotCompleted',
    'HardDeclined',
    'SoftDeclined',
  ])('%s: Amazon answered, the call is never resent', (type) => {
    expect(settles(activityFailure(type))).toBe(true);
  });

  it.each([
    'DuplicateIdempotencyKey',
    'InvalidRequestSignature',
    'UnauthorizedAccess',
    'ServiceUnavailable',
    'TooManyRequests',
  ])('%s: says nothing about what the key did, the call stays unanswered', (type) => {
    expect(settles(activityFailure(type))).toBe(false);
  });
});
