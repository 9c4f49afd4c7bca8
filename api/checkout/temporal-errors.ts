import {
  isGrpcServiceError,
  ServiceError,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import { ApiError } from '../errors';
import { httpStatusOf } from '../../workflows/payments/reason-codes';

/**
 * Turns what the Temporal client throws into the API's error shape. A workflow update rejected by
 * its validator, or failed with an ApplicationFailure of type X, becomes `code: X`, so the
 * storefront sees the same reason the workflow (or Amazon Pay) gave, with the HTTP status the reason
 * table (workflows/payments/reason-codes.ts) gives it.
 */

// gRPC status codes (grpc-js is only a transitive dependency).
const grpcStatus = { DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, RESOURCE_EXHAUSTED: 8, UNAVAILABLE: 14 } as const;

function grpcCode(err: unknown): number | undefined {
  if (isGrpcServiceError(err)) return err.code;
  if (
    (err instanceof ServiceError || err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) &&
    isGrpcServiceError(err.cause)
  ) {
    return err.cause.code;
  }
  return undefined;
}

/** The ApiError for a Temporal client failure; rethrows anything it does not recognise (a bug: 500). */
export function toApiError(err: unknown, checkoutSessionId?: string): ApiError {
  if (err instanceof ApiError) return err;
  const which = checkoutSessionId ? `checkout ${checkoutSessionId}` : 'the checkout';
  if (err instanceof WorkflowNotFoundError) return new ApiError(404, 'checkout_not_found', `${which} is unknown`);
  if (err instanceof WorkflowExecutionAlreadyStartedError) {
    return new ApiError(409, 'checkout_closed', `${which} has already ended; a checkout session is processed once`);
  }
  if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowFailedError) {
    const failure = applicationFailureIn(err.cause);
    // A validator that throws a plain Error arrives as type 'Error': the checkout's state refused the request.
    if (failure?.type === 'Error' && err instanceof WorkflowUpdateFailedError) {
      return new ApiError(409, 'checkout_state_conflict', failure.message);
    }
    if (failure?.type) {
      return new ApiError(
        httpStatusOf(failure.type),
        failure.type,
        failure.message || err.message,
        failureDetails(failure),
      );
    }
    return new ApiError(
      422,
      err instanceof WorkflowUpdateFailedError ? 'update_rejected' : 'workflow_failed',
      err.cause?.message ?? err.message,
    );
  }
  const code = grpcCode(err);
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || code === grpcStatus.DEADLINE_EXCEEDED) {
    return new ApiError(
      504,
      'timeout',
      `${which} did not answer in time; retry the same request with the same Idempotency-Key (a request without one may have been applied)`,
    );
  }
  if (
    code === grpcStatus.UNAVAILABLE ||
    code === grpcStatus.RESOURCE_EXHAUSTED ||
    (err instanceof ServiceError && code === undefined)
  ) {
    return new ApiError(503, 'temporal_unavailable', 'the payment service is temporarily unavailable; retry later');
  }
  if (code === grpcStatus.NOT_FOUND) return new ApiError(404, 'checkout_not_found', `${which} is unknown`);
  if (err instanceof ServiceError)
    return new ApiError(503, 'temporal_unavailable', 'the payment service could not process the request; retry later');
  throw err;
}

/** The first ApplicationFailure in a cause chain (an activity's failure arrives wrapped in an ActivityFailure). */
function applicationFailureIn(err: unknown): ApplicationFailure | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof ApplicationFailure) return e;
  }
  return undefined;
}

function failureDetails(failure: ApplicationFailure): unknown {
  const first: unknown = failure.details?.[0];
  // Only plain objects (e.g. Amazon's reasonCode/requestId) are passed on; never stacks.
  return first !== null && typeof first === 'object' && !Array.isArray(first) ? first : undefined;
}
