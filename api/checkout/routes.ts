import { OpenAPIHono } from '@hono/zod-openapi';
import { apiKeyAuth } from '../auth';
import { errorBody } from '../errors';
import { jsonBodyLimit } from '../middleware/body-limit';
import { routeErrorHandler } from '../middleware/route-errors';
import { registerEventRoutes } from '../events/routes';
import { registerSubscriptionRoutes } from '../subscriptions/routes';
import { registerCheckoutRoutes } from './checkout-routes';
import { registerListRoutes } from './list-routes';
import type { CheckoutRouteDeps } from './deps';
import { registerReturnRoutes } from './return-routes';
import { IDEMPOTENCY_KEY_REQUIRED } from './schemas';
import { registerSessionRoutes } from './session-routes';

export type { ButtonSigner, CheckoutRouteDeps } from './deps';

/**
 * The storefront checkout API and the buyer's result return handler. Mount with
 * `app.route('/', createCheckoutRoutes(deps))`. Middleware is attached per route (never `use('*')`),
 * so mounting at '/' does not impose the API key or the body limit on other modules' routes.
 */
export function createCheckoutRoutes(deps: CheckoutRouteDeps): OpenAPIHono {
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (result.success) return;
      const issues = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      const where = result.target === 'json' ? 'body' : result.target;
      const summary = issues.map((i) => `${i.path || where}: ${i.message}`).join('; ');
      if (result.target === 'header' && issues.some((i) => i.message === IDEMPOTENCY_KEY_REQUIRED)) {
        return c.json(errorBody('idempotency_key_required', IDEMPOTENCY_KEY_REQUIRED), 400);
      }
      return c.json(errorBody('validation_error', `invalid ${where}: ${summary}`, { issues }), 400);
    },
  });
  app.onError(routeErrorHandler);
  // Auth runs before the body is read: an unauthenticated caller cannot make us buffer anything.
  const guard = [apiKeyAuth(deps.apiKeys), jsonBodyLimit(deps.bodyLimitBytes)];
  registerSessionRoutes(app, deps, guard);
  // Before the /v1/checkouts/{id} routes, so the list is not read as an id.
  registerListRoutes(app, deps, guard);
  registerCheckoutRoutes(app, deps, guard);
  registerEventRoutes(app, deps, guard);
  registerSubscriptionRoutes(app, deps, guard);
  registerReturnRoutes(app, deps);
  return app;
}
