import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { WorkflowHandle } from '@temporalio/client';
import { apiKeySecurity } from '../auth';
import { errorResponses, jsonBody, jsonContent, STOREFRONT_ERRORS } from '../checkout/route-helpers';
import { RequiredIdempotencyHeadersSchema } from '../checkout/schemas';
import { refundCycleUpdate, type CycleRefund } from '../../workflows/subscription-messages';
import { CycleParamSchema, CycleRefundSchema, RefundCycleRequestSchema } from './refund-schemas';
import { SubscriptionIdParamsSchema } from './schemas';

/** What routes.ts lends: the handle, and its mapping of Temporal's errors to the subscription's. */
export interface SubscriptionCalls {
  handle: (id: string) => WorkflowHandle;
  update: <T>(id: string, send: () => Promise<T>) => Promise<T>;
}

/** POST /v1/subscriptions/{subscriptionId}/cycles/{cycle}/refunds */
export function registerSubscriptionRefundRoutes(
  app: OpenAPIHono,
  guard: MiddlewareHandler[],
  { handle, update }: SubscriptionCalls,
) {
  const refund = createRoute({
    method: 'post',
    path: '/v1/subscriptions/{subscriptionId}/cycles/{cycle}/refunds',
    tags: ['Subscriptions'],
    summary: "Refund part or all of one cycle's charge",
    description:
      "Refunds are asynchronous at Amazon: the answer is usually RefundInitiated, and refund.pending, then refund.succeeded or refund.failed follow (with the cycle); GET the subscription for each cycle's refunds. At most the cycle's charge minus what its refunds already took (422 TransactionAmountExceeded); an unknown cycle is 404 CycleNotFound, a cycle not charged 409 InvalidChargeStatus, another currency 422 CurrencyMismatch; refused requests change nothing. Requires an Idempotency-Key (400 idempotency_key_required without one): a retry with the same key gets the same refund, also weeks later; a new refund needs a new key.",
    security: apiKeySecurity,
    middleware: guard,
    request: {
      params: SubscriptionIdParamsSchema.extend(CycleParamSchema.shape),
      headers: RequiredIdempotencyHeadersSchema,
      body: jsonBody(RefundCycleRequestSchema),
    },
    responses: {
      201: jsonContent(CycleRefundSchema, 'The refund'),
      ...errorResponses(...STOREFRONT_ERRORS, 404, 409, 422),
    },
  });
  app.openapi(refund, async (c) => {
    const { subscriptionId, cycle } = c.req.valid('param');
    const { amount } = c.req.valid('json');
    const requestId = c.req.valid('header')['idempotency-key'];
    // No update id, as for the checkout's refunds: Temporal keeps a failed update's answer under
    // its id, so a retry after a 503 would get that 503 again. The workflow answers a repeated
    // key from its own record instead, in this run or any later one.
    const result = await update(subscriptionId, () =>
      handle(subscriptionId).executeUpdate(refundCycleUpdate, { args: [{ cycle, amount, requestId }] }),
    );
    return c.json(result satisfies CycleRefund, 201);
  });
}
