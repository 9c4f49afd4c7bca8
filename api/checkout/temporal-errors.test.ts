import {
  ServiceError,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import {
  ActivityFailure,
  ApplicationFailure,
  RetryState,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
} from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../errors';
import { toApiError } from './temporal-errors';

const grpcError = (code: number) =>
  Object.assign(new Error(`grpc ${code}`), { code, details: `grpc ${code}`, metadata: {} });
const rejected = (type: string, message = `${type} happened`, details?: unknown) =>
  new WorkflowUpdateFailedError(
    'Workflow Update failed',
    ApplicationFailure.create({ type, message, nonRetryable: true, ...(details ? { details: [details] } : {}) }),
  );

describe('toApiError', () => {
  it.each([
    ['InvalidChargeStatus', 409],
    ['InvalidCheckoutSessionStatus', 409],
    ['AmountMismatch', 409],
    ['TransactionAmountExceeded', 422],
    ['CurrencyMismatch', 422],
    ['HardDeclined', 422],
    ['ResourceNotFound', 404],
    ['ServiceUnavailable', 503],
    // From the reason table (workflows/payments/reason-codes.ts): a recurring limit is a refusal,
    // an Amazon processing failure or an unreadable answer is worth retrying later.
    ['PeriodicAmountExceeded', 422],
    ['ProcessingFailure', 503],
    ['InvalidResponse', 503],
    ['AmazonPayUnavailable', 503],
    ['UnresolvedAmazonPayCall', 409],
    // Codes nothing throws are no longer listed: a business refusal like any unknown type.
    ['InvalidState', 422],
  ])('an update failing with ApplicationFailure %s -> %i, code = the type', (type, status) => {
    const err = toApiError(rejected(type), 's-1');
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(status);
    expect(err.code).toBe(type);
    expect(err.message).toBe(`${type} happened`);
  });

  it('passes plain-object failure details (Amazon reason, request id) on', () => {
    const err = toApiError(
      rejected('TransactionAmountExceeded', 'too much', { reasonCode: 'TransactionAmountExceeded', requestId: 'r-1' }),
    );
    expect(err.details).toEqual({ reasonCode: 'TransactionAmountExceeded', requestId: 'r-1' });
  });

  it('finds the ApplicationFailure behind an ActivityFailure (workflow result)', () => {
    const cause = new ActivityFailure(
      'activity failed',
      'createCheckoutSession',
      '1',
      RetryState.NON_RETRYABLE_FAILURE,
      undefined,
      ApplicationFailure.create({ type: 'InvalidParameterValue', message: 'bad store id', nonRetryable: true }),
    );
    const err = toApiError(
      new WorkflowFailedError('Workflow execution failed', cause, RetryState.NON_RETRYABLE_FAILURE),
    );
    expect([err.status, err.code, err.message]).toEqual([422, 'InvalidParameterValue', 'bad store id']);
  });

  it('a validator rejecting with a plain Error -> 409 checkout_state_conflict with its message', () => {
    const err = toApiError(
      new WorkflowUpdateFailedError(
        'Workflow Update failed',
        ApplicationFailure.create({ type: 'Error', message: 'Set the final amount first' }),
      ),
    );
    expect([err.status, err.code, err.message]).toEqual([409, 'checkout_state_conflict', 'Set the final amount first']);
  });

  it('an update failure without a type -> 422 update_rejected', () => {
    const err = toApiError(new WorkflowUpdateFailedError('Workflow Update failed', new Error('no handler')));
    expect([err.status, err.code]).toEqual([422, 'update_rejected']);
  });

  it('unknown workflow -> 404 checkout_not_found', () => {
    const err = toApiError(new WorkflowNotFoundError('not found', 'checkout-s-1', undefined), 's-1');
    expect([err.status, err.code]).toEqual([404, 'checkout_not_found']);
    expect(err.message).toContain('s-1');
  });

  it('a closed checkout that would be started again -> 409 checkout_closed', () => {
    const err = toApiError(
      new WorkflowExecutionAlreadyStartedError('already started', 'checkout-s-1', 'checkoutWorkflow'),
    );
    expect([err.status, err.code]).toEqual([409, 'checkout_closed']);
  });

  it('Temporal unreachable -> 503, deadline -> 504', () => {
    expect(toApiError(new ServiceError('Failed to query Workflow', { cause: grpcError(14) })).status).toBe(503);
    expect(toApiError(grpcError(14)).code).toBe('temporal_unavailable');
    expect(toApiError(new ServiceError('Failed', { cause: grpcError(4) })).status).toBe(504);
    expect(toApiError(new WorkflowUpdateRPCTimeoutOrCancelledError('timeout')).code).toBe('timeout');
  });

  it('rethrows what it does not recognise (a bug, answered 500 by the app)', () => {
    const bug = new TypeError('x is undefined');
    expect(() => toApiError(bug)).toThrow(bug);
  });
});
