import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { Logger } from '../../observability/logger';
import { withRequestId } from '../../temporal/request-id';

declare module 'hono' {
  interface ContextVariableMap {
    /** This request's id (X-Request-Id): on its log lines and in its answer. */
    requestId: string;
  }
}

/** A caller's own X-Request-Id is kept when it is a plain token; anything else gets a fresh id. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Probes and scrapes, logged at debug so a load balancer polling them does not fill the log. */
const QUIET_ROUTES = new Set(['/health', '/metrics']);

/**
 * One line per request: id, method, route pattern (`/v1/checkouts/:checkoutSessionId`, never the
 * concrete path or query), status and duration. Never headers or bodies: they carry the API key
 * and buyer data.
 */
export function requestLog(logger: Logger): MiddlewareHandler {
  return async (c, next) => {
    const offered = c.req.header('x-request-id');
    const requestId = offered && REQUEST_ID.test(offered) ? offered : randomUUID();
    c.set('requestId', requestId);
    const started = performance.now();
    // Temporal calls made while answering carry the id into workflow and activity lines.
    await withRequestId(requestId, next);
    c.header('x-request-id', requestId);
    const status = c.res.status;
    const route = routePath(c);
    const fields = {
      requestId,
      method: c.req.method,
      route,
      status,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
    };
    if (status >= 500) logger.error(fields, 'request failed');
    else if (QUIET_ROUTES.has(route)) logger.debug(fields, 'request');
    else logger.info(fields, 'request');
  };
}
