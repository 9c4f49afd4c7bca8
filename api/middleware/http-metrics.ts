import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { ApiMetrics } from '../../observability/metrics';

/** Counts and times every request by method, route pattern (bounded: never the concrete path) and status. */
export function httpMetrics(metrics: ApiMetrics): MiddlewareHandler {
  return async (c, next) => {
    const stop = metrics.httpDuration.startTimer();
    await next();
    const labels = { method: c.req.method, route: routePath(c), status: String(c.res.status) };
    stop(labels);
    metrics.httpRequests.inc(labels);
  };
}
