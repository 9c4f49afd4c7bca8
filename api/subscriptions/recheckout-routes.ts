import { createHash } from 'node:crypto';
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import { apiKeySecurity } from '../auth';
import { ApiError } from '../errors';
import { withTemporal, type CheckoutRouteDeps } from '../checkout/deps';
import { errorResponses, jsonBody, jsonContent, STOREFRONT_ERRORS } from '../checkout/route-helpers';
import { RequiredIdempotencyHeadersSchema } from '../checkout/schemas';
import type {
  CreateCheckoutSessionWorkflowInput,
  CreatedCheckoutSession,
} from '../../workflows/checkout-session-creation';
import {
  offerRecheckoutUpdate,
  type RecheckoutRequest,
  type RecheckoutTerms,
} from '../../workflows/subscription-messages';
import { RecheckoutRequestSchema, RecheckoutSchema } from './recheckout-schemas';
import { SubscriptionIdParamsSchema } from './schemas';

/**
 * The re-checkout (workflows/subscription/recheckout.ts): where PSD2 applies, a new amount or
 * frequency needs the buyer's new recurring checkout. This route asks the subscription whether it
 * may be moved (the same refusals as a plan change) and creates the Recurring checkout session
 * server-side with the new recurringMetadata, its checkout workflow carrying `replacesSubscription`.
 *
 * Server-side, not the button: with the button Amazon creates the session when the buyer clicks,
 * and its checkout workflow starts from the storefront's review call, which knows nothing of the
 * subscription. Created here, the session's workflow is bound to the subscription from the start.
 */

/** `update` of routes.ts: a subscription update with its 404 / 409 subscription_closed answers. */
export type SubscriptionUpdate = <T>(subscriptionId: string, send: () => Promise<T>) => Promise<T>;

const requestHash = (value: unknown): string => createHash('sha256').update(JSON.stringify(value)).digest('hex');

/** The plan route's 409 recheckout_required, with the way forward in `details.recheckout`. */
export function withRecheckoutOffer(err: unknown, subscriptionId: string, plan: RecheckoutRequest): unknown {
  if (!(err instanceof ApiError) || err.code !== 'recheckout_required') return err;
  return new ApiError(err.status, err.code, err.message, {
    recheckout: {
      method: 'POST',
      path: `/v1/subscriptions/${subscriptionId}/recheckout`,
      body: {
        ...(plan.amount ? { amount: plan.amount } : {}),
        ...(plan.frequency ? { frequency: plan.frequency } : {}),
      },
      description:
        'Send this body with checkoutReviewReturnUrl (and an Idempotency-Key); send the buyer to the answered amazonPayRedirectUrl and complete that checkout with paymentIntent Confirm. The subscription moves to the new charge permission when it completes; the current one is closed only then.',
    },
  });
}

export function registerRecheckoutRoutes(
  app: OpenAPIHono,
  deps: CheckoutRouteDeps,
  guard: MiddlewareHandler[],
  update: SubscriptionUpdate,
) {
  const route = createRoute({
    method: 'post',
    path: '/v1/subscriptions/{subscriptionId}/recheckout',
    tags: ['Subscriptions'],
    summary: 'Re-checkout (EU, UK): a new recurring checkout with new terms that replaces the charge permission',
    description:
      "Where PSD2 applies a new amount or frequency needs the buyer's new checkout (the plan route answers 409 recheckout_required). This creates a Recurring checkout session with the new recurringMetadata: send the buyer to amazonPayRedirectUrl, then review, set the amount (paymentIntent Confirm, chargeAmount the new amount) and complete it as any checkout. Nothing is charged at the re-checkout; once it completes the subscription (same id) bills the new charge permission from its next cycle and the old one is closed at Amazon (event subscription.charge_permission_replaced). A re-checkout the buyer abandons changes nothing. Requires an Idempotency-Key: a retry with the same key and body gets the same session; the same key with another body is 422 idempotency_key_reused. Outside the EU and UK: 422 RecheckoutNotRequired (use the plan route).",
    security: apiKeySecurity,
    middleware: guard,
    request: {
      params: SubscriptionIdParamsSchema,
      headers: RequiredIdempotencyHeadersSchema,
      body: jsonBody(RecheckoutRequestSchema),
    },
    responses: {
      201: jsonContent(RecheckoutSchema, 'The new checkout session to send the buyer through'),
      ...errorResponses(...STOREFRONT_ERRORS, 404, 409, 422, 501),
    },
  });
  app.openapi(route, async (c) => {
    const workflowType = deps.createSessionWorkflowType;
    if (!workflowType) {
      throw new ApiError(501, 'not_implemented', 'server-side session creation is not enabled in this deployment');
    }
    const { subscriptionId } = c.req.valid('param');
    const body = c.req.valid('json');
    const key = c.req.valid('header')['idempotency-key'];
    const hash = requestHash({ subscriptionId, body });
    const workflowId = `recheckout-${subscriptionId}-${key}`;
    const handle = deps.temporal.workflow.getHandle(workflowId);
    // A retry first: it gets the first answer, even after the re-checkout completed (when the
    // subscription would now refuse the same plan as unchanged).
    const started = await withTemporal(deps, undefined, () =>
      handle.describe().catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return null;
        throw err;
      }),
    );
    let terms: RecheckoutTerms;
    if (started) {
      if (started.memo?.requestHash !== hash)
        throw new ApiError(422, 'idempotency_key_reused', 'this Idempotency-Key was used with a different request');
      terms = started.memo.terms as RecheckoutTerms;
    } else {
      const plan: RecheckoutRequest = {
        ...(body.amount ? { amount: body.amount } : {}),
        ...(body.frequency ? { frequency: body.frequency } : {}),
      };
      // No update id: the offer records nothing, and Temporal would keep a refusal under the id.
      terms = await update(subscriptionId, () =>
        deps.temporal.workflow.getHandle(subscriptionId).executeUpdate(offerRecheckoutUpdate, { args: [plan] }),
      );
      const input: CreateCheckoutSessionWorkflowInput = {
        payload: {
          webCheckoutDetails: {
            checkoutReviewReturnUrl: body.checkoutReviewReturnUrl,
            ...(body.checkoutCancelUrl ? { checkoutCancelUrl: body.checkoutCancelUrl } : {}),
          },
          storeId: deps.storeId,
          chargePermissionType: 'Recurring',
          recurringMetadata: {
            frequency: { unit: terms.plan.unit, value: String(terms.plan.value) },
            amount: terms.plan.amount,
          },
          ...(body.merchantStoreName ? { merchantMetadata: { merchantStoreName: body.merchantStoreName } } : {}),
        },
        replacesSubscription: subscriptionId,
      };
      await withTemporal(deps, undefined, async () => {
        try {
          await deps.temporal.workflow.start(workflowType, {
            workflowId,
            taskQueue: deps.taskQueue,
            args: [input],
            workflowIdConflictPolicy: 'USE_EXISTING',
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
            // Ids and the plan only, no buyer data; a retry answers from it.
            memo: { requestHash: hash, terms },
          });
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        }
      });
    }
    const created = (await withTemporal(deps, undefined, () => handle.result())) as CreatedCheckoutSession;
    return c.json(
      {
        subscriptionId,
        checkoutSessionId: created.checkoutSessionId,
        amazonPayRedirectUrl: created.amazonPayRedirectUrl,
        replacesChargePermissionId: terms.chargePermissionId,
        plan: terms.plan,
        paymentIntent: 'Confirm' as const,
      },
      201,
    );
  });
}
