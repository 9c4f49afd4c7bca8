import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { ApiError } from '../errors';
import { checkoutWorkflowId, type CheckoutInput } from '../../workflows/checkout-messages';
import { toApiError } from './temporal-errors';

/** Signs the Create Checkout Session payload for amazon.Pay.renderButton locally (no network). AmazonPayClient fits. */
export interface ButtonSigner {
  /** Signs exactly these bytes; the returned payloadJSON must be passed to the button unchanged. */
  buttonConfig(payloadJSON: string): { payloadJSON: string; signature: string; publicKeyId: string; algorithm: string };
}

export interface CheckoutRouteDeps {
  temporal: Client;
  taskQueue: string;
  /** Storefront API keys; empty rejects every storefront request. */
  apiKeys: readonly string[];
  buttonSigner: ButtonSigner;
  /** Amazon Pay storeId (Login with Amazon client id) put in every button payload. */
  storeId: string;
  /** Request body limit for these routes; default 64 KiB. */
  bodyLimitBytes?: number;
  /** How long one request may wait for Temporal (and the workflow's answer); default 30 s, then 504. */
  temporalTimeoutMs?: number;
  /**
   * Where the buyer-facing result handler sends the buyer (303) with the outcome as query
   * parameters. Unset: the handler answers the outcome as JSON.
   */
  resultRedirectUrl?: string;
  /**
   * Workflow type that creates a Checkout Session server-side (see session-routes.ts for the
   * contract). Unset: POST /v1/checkout-sessions answers 501.
   */
  createSessionWorkflowType?: string;
}

/** Registered by the worker from workflows/checkout.ts; referenced by name so the API never loads workflow code. */
export const CHECKOUT_WORKFLOW_TYPE = 'checkoutWorkflow';
export type CheckoutWorkflow = (input: CheckoutInput) => Promise<unknown>;

export const DEFAULT_TEMPORAL_TIMEOUT_MS = 30_000;

/**
 * Runs one Temporal interaction under a deadline, so a missing worker or an unreachable server
 * answers 504/503 instead of hanging, and maps every Temporal failure to an ApiError.
 */
export async function withTemporal<T>(
  deps: CheckoutRouteDeps,
  checkoutSessionId: string | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + (deps.temporalTimeoutMs ?? DEFAULT_TEMPORAL_TIMEOUT_MS);
  try {
    return await deps.temporal.withDeadline(deadline, fn);
  } catch (err) {
    throw toApiError(err, checkoutSessionId);
  }
}

export const checkoutHandle = (deps: CheckoutRouteDeps, checkoutSessionId: string): WorkflowHandle<CheckoutWorkflow> =>
  deps.temporal.workflow.getHandle<CheckoutWorkflow>(checkoutWorkflowId(checkoutSessionId));

/**
 * Sends an update to an existing checkout. Temporal refuses updates to an ended workflow with the
 * same NotFound as for an unknown one; a describe tells them apart, so an ended checkout is a 409.
 */
export async function updateCheckout<T>(
  deps: CheckoutRouteDeps,
  checkoutSessionId: string,
  send: (handle: WorkflowHandle<CheckoutWorkflow>) => Promise<T>,
): Promise<T> {
  const handle = checkoutHandle(deps, checkoutSessionId);
  return withTemporal(deps, checkoutSessionId, async () => {
    try {
      return await send(handle);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      const { status } = await handle.describe(); // unknown checkout: throws WorkflowNotFoundError again (404)
      throw new ApiError(
        409,
        'checkout_closed',
        `checkout ${checkoutSessionId} has ended (${status.name}); GET it for its final status`,
      );
    }
  });
}
