import { swaggerUI } from '@hono/swagger-ui';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ApiError, errorBody, errorResponse } from './errors';
import { createCheckoutRoutes, type CheckoutRouteDeps } from './checkout/routes';
import { createIpnRoutes, ipnLogger, type IpnRouteDeps } from './ipn/routes';
import { httpMetrics } from './middleware/http-metrics';
import { requestLog } from './middleware/request-log';
import { openApiDocument } from './openapi';
import { createLogger, type Logger } from '../observability/logger';
import type { ApiMetrics } from '../observability/metrics';
import { createCodecRoutes, type CodecServerOptions } from '../temporal/codec-server';

export interface ApiDeps {
  checkout: CheckoutRouteDeps;
  ipn: IpnRouteDeps;
  /** The codec endpoint (/codec) for operators; not served when absent. */
  codec?: CodecServerOptions;
  /** Called for unexpected errors (answered 500 without details); logged at error by default. */
  onUnexpectedError?: (err: unknown) => void;
  /** Request lines, IPN events and unexpected errors; warnings and errors on stdout by default. */
  logger?: Logger;
  /** HTTP and IPN metrics (observability/metrics.ts), served by the process on a port of its own. */
  metrics?: ApiMetrics;
}

/**
 * The HTTP API process: the storefront's checkout endpoints, the buyer-facing return handler and
 * the Amazon Pay IPN endpoint. It talks to Temporal only, never to Amazon Pay.
 */
export function createApp(deps: ApiDeps): Hono {
  const app = new Hono();
  const logger = deps.logger ?? createLogger({ component: 'api', level: 'warn' });

  app.use(requestLog(logger));
  if (deps.metrics) app.use(httpMetrics(deps.metrics));
  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.get('/openapi.json', (c) => c.json(openApiDocument()));
  // The interactive reference of that same document. Relative URL: it still resolves behind a
  // proxy that mounts the API under a prefix. The browser loads Swagger UI 5 from its CDN.
  app.get('/docs', swaggerUI({ url: './openapi.json', version: '5', title: 'Amazon Pay checkout API reference' }));
  if (deps.codec) app.route('/', createCodecRoutes(deps.codec));
  app.route('/', createCheckoutRoutes(deps.checkout));
  const ipnMessages = deps.metrics?.ipnMessages;
  app.route(
    '/',
    createIpnRoutes({
      ...deps.ipn,
      logger: deps.ipn.logger ?? ipnLogger(logger),
      ...(ipnMessages ? { onOutcome: (outcome: string) => ipnMessages.inc({ outcome }) } : {}),
    }),
  );

  app.notFound((c) => c.json(errorBody('not_found', `No route for ${c.req.method} ${c.req.path}`), 404));
  app.onError((err, c) => {
    if (err instanceof ApiError) return errorResponse(c, err);
    if (err instanceof HTTPException) {
      const status = err.status;
      const code =
        status === 413
          ? 'payload_too_large'
          : status === 401
            ? 'unauthorized'
            : status >= 500
              ? 'internal_error'
              : 'bad_request';
      return c.json(errorBody(code, err.message || (status >= 500 ? 'Internal error' : 'Bad request')), status);
    }
    if (deps.onUnexpectedError) deps.onUnexpectedError(err);
    else logger.error({ err, requestId: c.get('requestId') }, 'unexpected error');
    return c.json(
      errorBody('internal_error', 'An unexpected error occurred; nothing was changed that cannot be retried.'),
      500,
    );
  });
  return app;
}
