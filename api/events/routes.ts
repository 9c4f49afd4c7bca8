import { randomUUID } from 'node:crypto';
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import {
  QueryNotRegisteredError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { ApiError } from '../errors';
import { apiKeySecurity } from '../auth';
import { checkoutHandle, withTemporal, type CheckoutRouteDeps } from '../checkout/deps';
import { errorResponses, jsonContent } from '../checkout/route-helpers';
import { CheckoutIdParamsSchema, OptionalIdempotencyHeadersSchema } from '../checkout/schemas';
import {
  endpointStatusQuery,
  enableEndpointUpdate,
  eventsQuery,
  ownerOfEventId,
  webhookEndpointWorkflowId,
  type EventView,
  type WebhookEndpointStatus,
} from '../../workflows/events/messages';
import { redeliveryWorkflowId } from '../../workflows/events/redelivery';
import {
  EndpointIdParamsSchema,
  EndpointStatusSchema,
  EventIdParamsSchema,
  EventListSchema,
  EVENT_TYPE_DESCRIPTIONS,
  MerchantEventSchema,
  RedeliverySchema,
} from './schemas';

const TAG = ['Events'];
/** Owners whose events the API reads: workflow ids are never taken from a caller unchecked. */
const OWNER_PREFIXES = ['checkout-', 'subscription-'];
/** A redelivery is answered when done within this long, else 202 with its id. */
const REDELIVERY_WAIT_MS = 10_000;

/** Registered by the worker from workflows/events/redelivery.ts; by name, so the API never loads workflow code. */
const REDELIVERY_WORKFLOW_TYPE = 'redeliverEventWorkflow';

export function registerEventRoutes(app: OpenAPIHono, deps: CheckoutRouteDeps, guard: MiddlewareHandler[]) {
  const checkoutEvents = createRoute({
    method: 'get',
    path: '/v1/checkouts/{checkoutSessionId}/events',
    tags: TAG,
    summary: "The checkout's merchant events, oldest first, with every delivery attempt",
    description:
      'Also answered after the checkout has ended. The 100 most recent delivered events are kept per checkout.',
    security: apiKeySecurity,
    middleware: guard,
    request: { params: CheckoutIdParamsSchema },
    responses: { 200: jsonContent(EventListSchema, 'Events'), ...errorResponses(400, 401, 404, 503, 504) },
  });
  app.openapi(checkoutEvents, async (c) => {
    const { checkoutSessionId } = c.req.valid('param');
    const data = await withTemporal(deps, checkoutSessionId, () =>
      checkoutHandle(deps, checkoutSessionId).query(eventsQuery),
    );
    return c.json({ data }, 200);
  });

  const redeliver = createRoute({
    method: 'post',
    path: '/v1/events/{eventId}/redeliver',
    tags: TAG,
    summary: 'Send one event again, under the same id, to every configured endpoint',
    description:
      'Works while the owner runs and after it ended. Answers 200 with the attempts when done within 10 s, else 202 (the redelivery keeps retrying on the usual schedule). The same Idempotency-Key is the same redelivery.',
    security: apiKeySecurity,
    middleware: guard,
    request: { params: EventIdParamsSchema, headers: OptionalIdempotencyHeadersSchema },
    responses: {
      200: jsonContent(RedeliverySchema, 'Redelivered'),
      202: jsonContent(RedeliverySchema, 'Redelivery under way'),
      ...errorResponses(400, 401, 404, 503, 504),
    },
  });
  app.openapi(redeliver, async (c) => {
    const { eventId } = c.req.valid('param');
    const key = c.req.valid('header')['idempotency-key'] ?? randomUUID();
    const event = await findEvent(deps, eventId);
    const workflowId = redeliveryWorkflowId(eventId, key);
    const result = await withTemporal(deps, undefined, async () => {
      let handle;
      try {
        handle = await deps.temporal.workflow.start(REDELIVERY_WORKFLOW_TYPE, {
          workflowId,
          taskQueue: deps.taskQueue,
          args: [{ event }],
          // Also after it finished: the same key is the same redelivery, never a second one.
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        });
      } catch (err) {
        // The same key again: the same redelivery, answered with its outcome.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        handle = deps.temporal.workflow.getHandle(workflowId);
      }
      const done = await Promise.race([
        handle.result() as Promise<EventView>,
        new Promise<null>((r) => setTimeout(() => r(null), REDELIVERY_WAIT_MS).unref()),
      ]);
      return done;
    });
    if (!result) return c.json({ redeliveryId: workflowId, status: 'Pending' as const, event: null }, 202);
    return c.json({ redeliveryId: workflowId, status: 'Done' as const, event: result }, 200);
  });

  const endpointStatus = createRoute({
    method: 'get',
    path: '/v1/webhook-endpoints/{endpointId}',
    tags: TAG,
    summary: "A webhook endpoint's delivery status (Disabled after it answered 410)",
    security: apiKeySecurity,
    middleware: guard,
    request: { params: EndpointIdParamsSchema },
    responses: { 200: jsonContent(EndpointStatusSchema, 'Status'), ...errorResponses(400, 401, 503, 504) },
  });
  app.openapi(endpointStatus, async (c) => {
    const { endpointId } = c.req.valid('param');
    return c.json(await readEndpointStatus(deps, endpointId), 200);
  });

  const enable = createRoute({
    method: 'post',
    path: '/v1/webhook-endpoints/{endpointId}/enable',
    tags: TAG,
    summary: 'Enable an endpoint that was disabled by a 410; new events go to it again',
    description: 'Events not sent while it was disabled can be sent with POST /v1/events/{eventId}/redeliver.',
    security: apiKeySecurity,
    middleware: guard,
    request: { params: EndpointIdParamsSchema },
    responses: { 200: jsonContent(EndpointStatusSchema, 'Status'), ...errorResponses(400, 401, 503, 504) },
  });
  app.openapi(enable, async (c) => {
    const { endpointId } = c.req.valid('param');
    const status = await withTemporal(deps, undefined, async () => {
      try {
        return await deps.temporal.workflow
          .getHandle(webhookEndpointWorkflowId(endpointId))
          .executeUpdate(enableEndpointUpdate);
      } catch (err) {
        // Never disabled: nothing to enable.
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        return { endpointId, status: 'Enabled' as const, disabledAt: null, reason: null };
      }
    });
    return c.json(status, 200);
  });

  for (const [type, description] of Object.entries(EVENT_TYPE_DESCRIPTIONS)) {
    app.openAPIRegistry.registerWebhook({
      method: 'post',
      path: type,
      summary: type,
      description: `${description} Signed on the Standard Webhooks specification (webhook-id, webhook-timestamp, webhook-signature headers).`,
      request: { body: { required: true, content: { 'application/json': { schema: MerchantEventSchema } } } },
      responses: {
        200: {
          description:
            'Any 2xx: delivered. 410: disables the endpoint. Anything else, or no answer within 15 s: retried on the schedule.',
        },
      },
    });
  }
}

async function findEvent(deps: CheckoutRouteDeps, eventId: string) {
  const owner = ownerOfEventId(eventId);
  const notFound = new ApiError(404, 'event_not_found', `event ${eventId} is unknown`);
  if (!owner || !OWNER_PREFIXES.some((p) => owner.ownerWorkflowId.startsWith(p))) throw notFound;
  const events = await withTemporal(deps, undefined, async () => {
    try {
      return await deps.temporal.workflow.getHandle(owner.ownerWorkflowId).query(eventsQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || err instanceof QueryNotRegisteredError) throw notFound;
      throw err;
    }
  });
  const found = events.find((e) => e.id === eventId);
  if (!found) throw notFound;
  const { deliveries: _deliveries, ...event } = found;
  return event;
}

async function readEndpointStatus(deps: CheckoutRouteDeps, endpointId: string): Promise<WebhookEndpointStatus> {
  return withTemporal(deps, undefined, async () => {
    try {
      return await deps.temporal.workflow.getHandle(webhookEndpointWorkflowId(endpointId)).query(endpointStatusQuery);
    } catch (err) {
      // Its workflow starts with the first 410: an endpoint without one was never disabled.
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      return { endpointId, status: 'Enabled', disabledAt: null, reason: null };
    }
  });
}
