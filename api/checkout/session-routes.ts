import { createHash } from 'node:crypto';
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { apiKeySecurity } from '../auth';
import { ApiError } from '../errors';
import { withTemporal, type CheckoutRouteDeps } from './deps';
import { errorResponses, jsonBody, jsonContent, STOREFRONT_ERRORS } from './route-helpers';
import {
  ButtonConfigRequestSchema,
  ButtonConfigSchema,
  CreatedSessionSchema,
  CreateSessionRequestSchema,
  RequiredIdempotencyHeadersSchema,
  type ButtonConfigRequest,
} from './schemas';

/**
 * Checkout Session creation. The normal path is the button: the storefront gets a signed Create
 * Checkout Session payload and amazon.Pay.renderButton makes Amazon create the session when the
 * buyer clicks, so this service never calls Amazon here.
 */

/** The Create Checkout Session body (§2.8); the same JSON is signed for the button. */
export function createCheckoutSessionPayload(body: ButtonConfigRequest, storeId: string) {
  const merchantMetadata = {
    ...(body.merchantReferenceId ? { merchantReferenceId: body.merchantReferenceId } : {}),
    ...(body.merchantStoreName ? { merchantStoreName: body.merchantStoreName } : {}),
  };
  return {
    webCheckoutDetails: {
      checkoutReviewReturnUrl: body.checkoutReviewReturnUrl,
      ...(body.checkoutCancelUrl ? { checkoutCancelUrl: body.checkoutCancelUrl } : {}),
    },
    storeId,
    chargePermissionType: body.chargePermissionType,
    ...(body.recurringMetadata
      ? {
          recurringMetadata: {
            frequency: {
              unit: body.recurringMetadata.frequency.unit,
              value: String(body.recurringMetadata.frequency.value),
            },
            amount: body.recurringMetadata.amount,
          },
        }
      : {}),
    ...(Object.keys(merchantMetadata).length > 0 ? { merchantMetadata } : {}),
  };
}
export type CreateCheckoutSessionPayload = ReturnType<typeof createCheckoutSessionPayload>;

/** Server-side creation runs workflows/checkout-session-creation.ts (by type name: the API never loads workflow code). */
export type {
  CreateCheckoutSessionWorkflowInput,
  CreatedCheckoutSession,
} from '../../workflows/checkout-session-creation';
import type {
  CreateCheckoutSessionWorkflowInput,
  CreatedCheckoutSession,
} from '../../workflows/checkout-session-creation';

const requestHash = (payload: unknown): string => createHash('sha256').update(JSON.stringify(payload)).digest('hex');

export function registerSessionRoutes(app: OpenAPIHono, deps: CheckoutRouteDeps, guard: MiddlewareHandler[]) {
  const buttonConfig = createRoute({
    method: 'post',
    path: '/v1/checkout-sessions/button-config',
    tags: ['Checkout sessions'],
    summary: 'Signed Create Checkout Session payload for the Amazon Pay button',
    description:
      'Signed locally; nothing is created until the buyer clicks the button. Pass the fields to amazon.Pay.renderButton.',
    security: apiKeySecurity,
    middleware: guard,
    request: { body: jsonBody(ButtonConfigRequestSchema) },
    responses: {
      200: jsonContent(ButtonConfigSchema, 'Button configuration'),
      ...errorResponses(...STOREFRONT_ERRORS),
    },
  });
  app.openapi(buttonConfig, (c) => {
    if (!deps.storeId) throw new ApiError(500, 'not_configured', 'AMAZON_PAY_STORE_ID is not configured');
    const body = c.req.valid('json');
    const signed = deps.buttonSigner.buttonConfig(JSON.stringify(createCheckoutSessionPayload(body, deps.storeId)));
    return c.json(
      {
        storeId: deps.storeId,
        publicKeyId: signed.publicKeyId,
        algorithm: signed.algorithm,
        payloadJSON: signed.payloadJSON,
        signature: signed.signature,
        productType: body.productType,
        estimatedOrderAmount: body.amount,
      },
      200,
    );
  });

  const createSession = createRoute({
    method: 'post',
    path: '/v1/checkout-sessions',
    tags: ['Checkout sessions'],
    summary: 'Create a Checkout Session server-side (idempotent)',
    description:
      'Starts a workflow that calls Create Checkout Session. The Idempotency-Key header is required: a retry with the same key and body gets the same session; the same key with another body is rejected (idempotency_key_reused).',
    security: apiKeySecurity,
    middleware: guard,
    request: { headers: RequiredIdempotencyHeadersSchema, body: jsonBody(CreateSessionRequestSchema) },
    responses: {
      201: jsonContent(CreatedSessionSchema, 'The session'),
      ...errorResponses(...STOREFRONT_ERRORS, 409, 422, 501),
    },
  });
  app.openapi(createSession, async (c) => {
    const workflowType = deps.createSessionWorkflowType;
    if (!workflowType) {
      throw new ApiError(
        501,
        'not_implemented',
        'server-side session creation is not enabled; use /v1/checkout-sessions/button-config',
      );
    }
    const key = c.req.valid('header')['idempotency-key'];
    const payload = createCheckoutSessionPayload(c.req.valid('json'), deps.storeId);
    const hash = requestHash(payload);
    const workflowId = `create-checkout-session-${key}`;
    const created = await withTemporal(deps, undefined, async () => {
      try {
        await deps.temporal.workflow.start(workflowType, {
          workflowId,
          taskQueue: deps.taskQueue,
          args: [{ payload } satisfies CreateCheckoutSessionWorkflowInput],
          workflowIdConflictPolicy: 'USE_EXISTING',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          memo: { requestHash: hash },
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      const handle = deps.temporal.workflow.getHandle(workflowId);
      const { memo } = await handle.describe();
      if (memo?.requestHash !== hash) {
        throw new ApiError(
          422,
          'idempotency_key_reused',
          'this Idempotency-Key was used with a different request body',
        );
      }
      return (await handle.result()) as CreatedCheckoutSession;
    });
    return c.json(
      { checkoutSessionId: created.checkoutSessionId, amazonPayRedirectUrl: created.amazonPayRedirectUrl },
      201,
    );
  });
}
