import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { completeCheckout } from './completion';
import type { CheckoutRouteDeps } from './deps';
import { errorResponses, jsonContent } from './route-helpers';
import { CompletionOutcomeSchema, ResultReturnQuerySchema } from './schemas';

/**
 * Buyer-facing: Amazon sends the buyer's browser to checkoutResultReturnUrl?amazonCheckoutSessionId=…
 * No API key (the browser has none). It acts only on a checkout the storefront already started:
 * an unknown id is a 404 and nothing is started, so the id alone cannot create work.
 */
export function registerReturnRoutes(app: OpenAPIHono, deps: CheckoutRouteDeps) {
  const result = createRoute({
    method: 'get',
    path: '/v1/return/result',
    tags: ['Buyer return'],
    summary: 'checkoutResultReturnUrl handler: completes the checkout',
    description:
      'Completes the checkout and answers as soon as the outcome is known; refreshes and double clicks get the same answer, with one Complete at Amazon. With resultRedirectUrl configured it answers 303 to that URL with amazonCheckoutSessionId, outcome (completed | the failure status) and status as query parameters; otherwise 200 with the outcome as JSON.',
    request: { query: ResultReturnQuerySchema },
    responses: {
      200: jsonContent(CompletionOutcomeSchema, 'Outcome (no redirect URL configured)'),
      303: { description: 'Redirect to the storefront with the outcome (redirect URL configured)' },
      ...errorResponses(400, 404, 409, 422, 503, 504),
    },
  });
  app.openapi(result, async (c) => {
    const { amazonCheckoutSessionId } = c.req.valid('query');
    const outcome = await completeCheckout(deps, amazonCheckoutSessionId);
    c.header('Cache-Control', 'no-store');
    if (!deps.resultRedirectUrl) return c.json(outcome, 200);
    const target = new URL(deps.resultRedirectUrl);
    target.searchParams.set('amazonCheckoutSessionId', amazonCheckoutSessionId);
    target.searchParams.set('outcome', outcome.completed ? 'completed' : outcome.status);
    target.searchParams.set('status', outcome.status);
    return c.redirect(target.toString(), 303);
  });
}
