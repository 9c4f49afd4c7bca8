import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { ApiError } from '../errors';
import {
  cancelUpdate,
  captureUpdate,
  chargeUpdate,
  checkoutSummary,
  checkoutWorkflowId,
  closeUpdate,
  refundUpdate,
  reviewUpdate,
  setFinalAmountUpdate,
  statusQuery,
  type CheckoutInput,
  type Price,
} from '../../workflows/checkout-messages';
import {
  AmazonCheckoutSessionId,
  CheckoutStatus as CheckoutStatusKey,
  MerchantReferenceId,
} from '../../workflows/search-attributes';
import { apiKeySecurity } from '../auth';
import { completeCheckout } from './completion';
import {
  CHECKOUT_WORKFLOW_TYPE,
  checkoutHandle,
  updateCheckout,
  withTemporal,
  type CheckoutRouteDeps,
  type CheckoutWorkflow,
} from './deps';
import { errorResponses, jsonBody, jsonContent, STOREFRONT_ERRORS } from './route-helpers';
import {
  CaptureRequestSchema,
  ChargeRequestSchema,
  ChargeSummarySchema,
  CheckoutIdParamsSchema,
  CheckoutStatusSchema,
  CompletionOutcomeSchema,
  FinalAmountRequestSchema,
  FinalAmountResultSchema,
  OptionalIdempotencyHeadersSchema,
  RequiredIdempotencyHeadersSchema,
  ReasonRequestSchema,
  RefundRequestSchema,
  RefundSummarySchema,
  ReviewRequestSchema,
  ReviewSchema,
} from './schemas';

const TAG = ['Checkouts'];
const WORKFLOW_ERRORS = [...STOREFRONT_ERRORS, 404, 409, 422] as const;

/**
 * For cancel and close, Idempotency-Key becomes the Temporal update id: a retry joins the first
 * call. Not for amount, charge, capture and refund: Temporal keeps a FAILED update's answer under
 * its id too, so a retry after a 503 ("retry with the same key") would get that 503 again until
 * continue-as-new. Those reach the workflow every time; it answers a repeated key from its own
 * record (charge, capture and refund by requestId) or repeats harmlessly (amount).
 */
const updateIdFor = (operation: string, key: string | undefined): string | undefined =>
  key ? `${operation}:${key}` : undefined;

/**
 * The checkout's currency is fixed once the final amount is set; a mismatching amount is rejected
 * here, before the workflow (or Amazon) is asked, so nothing changes.
 */
async function assertCheckoutCurrency(
  deps: CheckoutRouteDeps,
  checkoutSessionId: string,
  amounts: (Price | undefined)[],
) {
  const wanted = amounts.filter((a): a is Price => a !== undefined);
  if (wanted.length === 0) return;
  const status = await withTemporal(deps, checkoutSessionId, () =>
    checkoutHandle(deps, checkoutSessionId).query(statusQuery),
  );
  const currency = status.chargeAmount?.currencyCode;
  const mismatch = currency && wanted.find((a) => a.currencyCode !== currency);
  if (mismatch) {
    throw new ApiError(
      422,
      'currency_mismatch',
      `amount is in ${mismatch.currencyCode} but checkout ${checkoutSessionId} is in ${currency}`,
    );
  }
}

export function registerCheckoutRoutes(app: OpenAPIHono, deps: CheckoutRouteDeps, guard: MiddlewareHandler[]) {
  const params = CheckoutIdParamsSchema;

  const review = createRoute({
    method: 'post',
    path: '/v1/checkouts/{checkoutSessionId}/review',
    tags: TAG,
    summary: 'Start the checkout (idempotent) and get the buyer, address and payment method',
    description:
      'Call from the checkoutReviewReturnUrl page. Starts the checkout workflow for this Amazon checkoutSessionId if it is not running yet (one workflow per session; repeated calls reach the same one) and answers its review. A checkout that has already ended is not restarted (409 checkout_closed).',
    security: apiKeySecurity,
    middleware: guard,
    request: { params, body: jsonBody(ReviewRequestSchema, false) },
    responses: { 200: jsonContent(ReviewSchema, 'Review'), ...errorResponses(...WORKFLOW_ERRORS) },
  });
  app.openapi(review, async (c) => {
    const { checkoutSessionId } = c.req.valid('param');
    const { merchantReferenceId } = c.req.valid('json');
    const input: CheckoutInput = { checkoutSessionId, ...(merchantReferenceId ? { merchantReferenceId } : {}) };
    const startWorkflowOperation = new WithStartWorkflowOperation<CheckoutWorkflow>(CHECKOUT_WORKFLOW_TYPE, {
      workflowId: checkoutWorkflowId(checkoutSessionId),
      taskQueue: deps.taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      // A session is processed once: a finished checkout must not be started again.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      staticSummary: checkoutSummary(checkoutSessionId, merchantReferenceId),
      // What the workflow would upsert at its first task (it compares and upserts nothing): the start is billed anyway.
      typedSearchAttributes: [
        { key: CheckoutStatusKey, value: 'AwaitingBuyer' },
        { key: AmazonCheckoutSessionId, value: checkoutSessionId },
        ...(merchantReferenceId ? [{ key: MerchantReferenceId, value: merchantReferenceId }] : []),
      ],
    });
    const result = await withTemporal(deps, checkoutSessionId, () =>
      deps.temporal.workflow.executeUpdateWithStart(reviewUpdate, { startWorkflowOperation }),
    );
    return c.json(result, 200);
  });

  const status = createRoute({
    method: 'get',
    path: '/v1/checkouts/{checkoutSessionId}',
    tags: TAG,
    summary: "The checkout's full status",
    security: apiKeySecurity,
    middleware: guard,
    request: { params },
    responses: { 200: jsonContent(CheckoutStatusSchema, 'Status'), ...errorResponses(400, 401, 404, 503, 504) },
  });
  app.openapi(status, async (c) => {
    const { checkoutSessionId } = c.req.valid('param');
    const result = await withTemporal(deps, checkoutSessionId, () =>
      checkoutHandle(deps, checkoutSessionId).query(statusQuery),
    );
    return c.json(result, 200);
  });

  const amount = createRoute({
    method: 'post',
    path: '/v1/checkouts/{checkoutSessionId}/amount',
    tags: TAG,
    summary: 'Set the final amount; answers the URL to send the buyer to',
    description:
      'Updates the Checkout Session with the final amount, payment intent and result return URL. Redirect the buyer to amazonPayRedirectUrl. May be repeated (e.g. after a tax recalculation) until the buyer pays; the currency cannot change.',
    security: apiKeySecurity,
    middleware: guard,
    request: { params, headers: OptionalIdempotencyHeadersSchema, body: jsonBody(FinalAmountRequestSchema) },
    responses: { 200: jsonContent(FinalAmountResultSchema, 'Redirect URL'), ...errorResponses(...WORKFLOW_ERRORS) },
  });
  app.openapi(amount, async (c) => {
    const { checkoutSessionId } = c.req.valid('param');
    const body = c.req.valid('json');
    await assertCheckoutCurrency(deps, checkoutSessionId, [body.chargeAmount]);
    // No update id (see updateIdFor): Update Checkout Session with the same body is idempotent, and
    // double clicks are serialized by the workflow.
    const result = await updateCheckout(deps, checkoutSessionId, (handle) =>
      handle.executeUpdate(setFinalAmountUpdate, { args: [body] }),
    );
    return c.json(result, 200);
  });

  const complete = createRoute({
    method: 'post',
    path: '/v1/checkouts/{checkoutSessionId}/complete',
    tags: TAG,
    summary: 'Complete the checkout after the buyer returned (storefront-forwarded result)',
    description:
      'Same as the buyer-facing GET /v1/return/result. Answers as soon as the outcome is known; repeated or concurrent calls get the same answer and Amazon is asked once.',
    security: apiKeySecurity,
    middleware: guard,
    request: { params },
    responses: { 200: jsonContent(CompletionOutcomeSchema, 'Outcome'), ...errorResponses(...WORKFLOW_ERRORS) },
  });
  app.openapi(complete, async (c) => {
    const { checkoutSessionId } = c.req.valid('param');
    return c.json(await completeCheckout(deps, checkoutSessionId), 200);
  });

  const charge = createRoute({
    method: 'post',
    path: '/v1/checkouts/{checkoutSessionId}/charge',
    tags: TAG,
    summary: 'Charge a checkout completed with intent Confirm',
    description:
      "Creates the order's charge on the confirmed charge permission (Amazon's Create Charge), once; after that, capture, cancel and refund work as for Authorize. Requires an Idempotency-Key (400 idempotency_key_required without one): a retry with the same key gets the first charge.",
    security: apiKeySecurity,
    middleware: guard,
    request: { params, headers: RequiredIdempotencyHeadersSchema, body: jsonBody(ChargeRequestSchema, false) },
    responses: { 201: jsonContent(ChargeSummarySchema, 'The charge'), ...errorResponses(...WORKFLOW_ERRORS) },
  });
  app.openapi(charge, async (c) => {
    const { checkoutSessionId } = c.req.valid('param');
    const body = c.req.valid('json');
    await assertCheckoutCurrency(deps, checkoutSessionId, [body.amount]);
    const key = c.req.valid('header')['idempotency-key'];
    const result = await updateCheckout(deps, checkoutSessionId, (handle) =>
      handle.executeUpdate(chargeUpdate, { args: [{ ...body, requestId: key }] }),
    );
    return c.json(result, 201);
  });

  const capture = createRoute({
    method: 'post',
    path: '/v1/checkouts/{checkoutSessionId}/capture',
    tags: TAG,
    summary: 'Capture the authorization (all remaining, or `amount`)',
    description:
      'Requires an Idempotency-Key (400 idempotency_key_required without one): a retry with the same key gets the first answer.',
    security: apiKeySecurity,
    middleware: guard,
    request: { params, headers: RequiredIdempotencyHeadersSchema, body: jsonBody(CaptureRequestSchema, false) },
    responses: { 200: jsonContent(ChargeSummarySchema, 'The charge'), ...errorResponses(...WORKFLOW_ERRORS) },
  });
  app.openapi(capture, async (c) => {
    const { checkoutSessionId } = c.req.valid('param');
    const body = c.req.valid('json');
    await assertCheckoutCurrency(deps, checkoutSessionId, [body.amount]);
    const key = c.req.valid('header')['idempotency-key'];
    const result = await updateCheckout(deps, checkoutSessionId, (handle) =>
      handle.executeUpdate(captureUpdate, { args: [{ ...body, requestId: key }] }),
    );
    return c.json(result, 200);
  });

  const cancel = createRoute({
    method: 'post',
    path: '/v1/checkouts/{checkoutSessionId}/cancel',
    tags: TAG,
    summary: 'Cancel the uncaptured authorization',
    security: apiKeySecurity,
    middleware: guard,
    request: { params, headers: OptionalIdempotencyHeadersSchema, body: jsonBody(ReasonRequestSchema, false) },
    responses: { 200: jsonContent(ChargeSummarySchema, 'The canceled charge'), ...errorResponses(...WORKFLOW_ERRORS) },
  });
  app.openapi(cancel, async (c) => {
    const { checkoutSessionId } = c.req.valid('param');
    const body = c.req.valid('json');
    const updateId = updateIdFor('cancel', c.req.valid('header')['idempotency-key']);
    const result = await updateCheckout(deps, checkoutSessionId, (handle) =>
      handle.executeUpdate(cancelUpdate, { args: [body], updateId }),
    );
    return c.json(result, 200);
  });

  const refund = createRoute({
    method: 'post',
    path: '/v1/checkouts/{checkoutSessionId}/refunds',
    tags: TAG,
    summary: 'Refund part or all of the captured amount',
    description:
      'Refunds are asynchronous at Amazon: the answer is usually RefundInitiated; GET the checkout for the final state. Requires an Idempotency-Key (400 idempotency_key_required without one): a retry with the same key gets the first refund; a new refund needs a new key.',
    security: apiKeySecurity,
    middleware: guard,
    request: { params, headers: RequiredIdempotencyHeadersSchema, body: jsonBody(RefundRequestSchema) },
    responses: { 201: jsonContent(RefundSummarySchema, 'The refund'), ...errorResponses(...WORKFLOW_ERRORS) },
  });
  app.openapi(refund, async (c) => {
    const { checkoutSessionId } = c.req.valid('param');
    const body = c.req.valid('json');
    await assertCheckoutCurrency(deps, checkoutSessionId, [body.amount]);
    const key = c.req.valid('header')['idempotency-key'];
    const result = await updateCheckout(deps, checkoutSessionId, (handle) =>
      handle.executeUpdate(refundUpdate, { args: [{ ...body, requestId: key }] }),
    );
    return c.json(result, 201);
  });

  const close = createRoute({
    method: 'post',
    path: '/v1/checkouts/{checkoutSessionId}/close',
    tags: TAG,
    summary: 'The order is done: close the charge permission and end the checkout',
    description:
      'Records the close and answers at once with status Closing (or the final status if the checkout already ended). The checkout closes the charge permission as soon as nothing is pending (a refund or capture in flight settles first) and ends with status Closed; GET it to follow. A repeated close is harmless.',
    security: apiKeySecurity,
    middleware: guard,
    request: { params, headers: OptionalIdempotencyHeadersSchema, body: jsonBody(ReasonRequestSchema, false) },
    responses: {
      200: jsonContent(CheckoutStatusSchema, 'Status: Closing until the order has closed'),
      ...errorResponses(...WORKFLOW_ERRORS),
    },
  });
  app.openapi(close, async (c) => {
    const { checkoutSessionId } = c.req.valid('param');
    const body = c.req.valid('json');
    const updateId = updateIdFor('close', c.req.valid('header')['idempotency-key']);
    const result = await updateCheckout(deps, checkoutSessionId, (handle) =>
      handle.executeUpdate(closeUpdate, { args: [body], updateId }),
    );
    return c.json(result, 200);
  });
}
