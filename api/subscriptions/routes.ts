import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { WorkflowNotFoundError } from '@temporalio/client';
import { ApiError } from '../errors';
import { apiKeySecurity } from '../auth';
import { withTemporal, type CheckoutRouteDeps } from '../checkout/deps';
import { errorResponses, jsonBody, jsonContent, STOREFRONT_ERRORS } from '../checkout/route-helpers';
import { OptionalIdempotencyHeadersSchema } from '../checkout/schemas';
import { EventListSchema } from '../events/schemas';
import { registerSubscriptionRefundRoutes } from './refund-routes';
import { registerRecheckoutRoutes, withRecheckoutOffer } from './recheckout-routes';
import { eventsQuery } from '../../workflows/events/messages';
import {
  cancelSubscriptionUpdate,
  changeSubscriptionPlanUpdate,
  pauseSubscriptionUpdate,
  resumeSubscriptionUpdate,
  subscriptionStatusQuery,
  type SubscriptionStatus,
} from '../../workflows/subscription-messages';
import {
  CancelSubscriptionRequestSchema,
  ChangePlanRequestSchema,
  SubscriptionIdParamsSchema,
  SubscriptionStatusSchema,
} from './schemas';

const TAG = ['Subscriptions'];
const ERRORS = [...STOREFRONT_ERRORS, 404, 409, 422] as const;

/** Subscriptions are started by their recurring checkout; these routes read and manage them. */
export function registerSubscriptionRoutes(app: OpenAPIHono, deps: CheckoutRouteDeps, guard: MiddlewareHandler[]) {
  const handle = (id: string) => deps.temporal.workflow.getHandle(id);
  // The client's errors name a checkout; here the object is a subscription.
  const call = async <T>(id: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await withTemporal(deps, undefined, fn);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'checkout_not_found')
        throw new ApiError(404, 'subscription_not_found', `subscription ${id} is unknown`);
      if (err instanceof ApiError && err.code === 'checkout_closed')
        throw new ApiError(409, 'subscription_closed', `subscription ${id} has ended; GET it for its final status`);
      throw err;
    }
  };
  const update = <T = SubscriptionStatus>(id: string, send: () => Promise<T>) =>
    call(id, async () => {
      try {
        return await send();
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        await handle(id).describe(); // unknown: 404; ended: 409 below
        throw new ApiError(409, 'subscription_closed', `subscription ${id} has ended; GET it for its final status`);
      }
    });
  const updateIdFor = (op: string, key: string | undefined) => (key ? `${op}:${key}` : undefined);

  const get = createRoute({
    method: 'get',
    path: '/v1/subscriptions/{subscriptionId}',
    tags: TAG,
    summary: "The subscription's status, plan, next billing time and recent cycles",
    security: apiKeySecurity,
    middleware: guard,
    request: { params: SubscriptionIdParamsSchema },
    responses: { 200: jsonContent(SubscriptionStatusSchema, 'Status'), ...errorResponses(400, 401, 404, 503, 504) },
  });
  app.openapi(get, async (c) => {
    const { subscriptionId } = c.req.valid('param');
    return c.json(await call(subscriptionId, () => handle(subscriptionId).query(subscriptionStatusQuery)), 200);
  });

  const events = createRoute({
    method: 'get',
    path: '/v1/subscriptions/{subscriptionId}/events',
    tags: TAG,
    summary: "The subscription's merchant events with every delivery attempt",
    security: apiKeySecurity,
    middleware: guard,
    request: { params: SubscriptionIdParamsSchema },
    responses: { 200: jsonContent(EventListSchema, 'Events'), ...errorResponses(400, 401, 404, 503, 504) },
  });
  app.openapi(events, async (c) => {
    const { subscriptionId } = c.req.valid('param');
    return c.json({ data: await call(subscriptionId, () => handle(subscriptionId).query(eventsQuery)) }, 200);
  });

  const cancel = createRoute({
    method: 'post',
    path: '/v1/subscriptions/{subscriptionId}/cancel',
    tags: TAG,
    summary: 'Cancel now, or at the end of the paid period',
    description:
      'Now: nothing more is charged and the charge permission is closed. atPeriodEnd: the cycle already paid runs to its end, then the permission is closed. Refused (409 SubscriptionEnded) once canceled or ended.',
    security: apiKeySecurity,
    middleware: guard,
    request: {
      params: SubscriptionIdParamsSchema,
      headers: OptionalIdempotencyHeadersSchema,
      body: jsonBody(CancelSubscriptionRequestSchema),
    },
    responses: { 200: jsonContent(SubscriptionStatusSchema, 'Status after the request'), ...errorResponses(...ERRORS) },
  });
  app.openapi(cancel, async (c) => {
    const { subscriptionId } = c.req.valid('param');
    const body = c.req.valid('json');
    const updateId = updateIdFor('cancel', c.req.valid('header')['idempotency-key']);
    const result = await update(subscriptionId, () =>
      handle(subscriptionId).executeUpdate(cancelSubscriptionUpdate, { args: [body], updateId }),
    );
    return c.json(result, 200);
  });

  const plan = createRoute({
    method: 'post',
    path: '/v1/subscriptions/{subscriptionId}/plan',
    tags: TAG,
    summary: 'Change the amount, the frequency or the billing date',
    description:
      'Applies from the next cycle: Amazon Pay gets the new terms (Update Charge Permission) first. A new amount is charged from the first cycle at least 10 days away (the buyer is told: subscription.renewal_upcoming); a new frequency counts from the next billing date; billingDate moves the next cycle. Where PSD2 applies (EU, UK) a new amount or frequency needs the buyer to check out again: 409 recheckout_required, whose details.recheckout names POST /v1/subscriptions/{subscriptionId}/recheckout.',
    security: apiKeySecurity,
    middleware: guard,
    request: {
      params: SubscriptionIdParamsSchema,
      headers: OptionalIdempotencyHeadersSchema,
      body: jsonBody(ChangePlanRequestSchema),
    },
    responses: { 200: jsonContent(SubscriptionStatusSchema, 'Status after the change'), ...errorResponses(...ERRORS) },
  });
  app.openapi(plan, async (c) => {
    const { subscriptionId } = c.req.valid('param');
    const body = c.req.valid('json');
    const updateId = updateIdFor('plan', c.req.valid('header')['idempotency-key']);
    const result = await update(subscriptionId, () =>
      handle(subscriptionId).executeUpdate(changeSubscriptionPlanUpdate, { args: [body], updateId }),
    ).catch((err: unknown) => {
      throw withRecheckoutOffer(err, subscriptionId, body); // 409 recheckout_required: details.recheckout
    });
    return c.json(result, 200);
  });
  registerRecheckoutRoutes(app, deps, guard, update);

  registerSubscriptionRefundRoutes(app, guard, { handle, update });

  for (const [action, def, summary] of [
    ['pause', pauseSubscriptionUpdate, 'Pause: no cycle is charged until resumed'],
    [
      'resume',
      resumeSubscriptionUpdate,
      'Resume: billing continues from the anchor; cycles due while paused are not charged',
    ],
  ] as const) {
    const route = createRoute({
      method: 'post',
      path: `/v1/subscriptions/{subscriptionId}/${action}`,
      tags: TAG,
      summary,
      security: apiKeySecurity,
      middleware: guard,
      request: { params: SubscriptionIdParamsSchema, headers: OptionalIdempotencyHeadersSchema },
      responses: {
        200: jsonContent(SubscriptionStatusSchema, 'Status after the request'),
        ...errorResponses(...ERRORS),
      },
    });
    app.openapi(route, async (c) => {
      const { subscriptionId } = c.req.valid('param');
      const updateId = updateIdFor(action, c.req.valid('header')['idempotency-key']);
      const result = await update(subscriptionId, () => handle(subscriptionId).executeUpdate(def, { updateId }));
      return c.json(result, 200);
    });
  }
}
