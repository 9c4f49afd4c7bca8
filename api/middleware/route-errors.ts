import type { Context, ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ApiError, errorBody, errorResponse } from '../errors';

/**
 * onError for route modules: expected failures become our error shape here, so they never reach
 * the app's catch-all (which turns anything unknown into a 500). Hono's validators throw
 * HTTPException for malformed JSON and unsupported media types.
 */
export const routeErrorHandler: ErrorHandler = (err: Error, c: Context) => {
  if (err instanceof ApiError) return errorResponse(c, err);
  if (err instanceof HTTPException) {
    if (err.status === 400 && /malformed json/i.test(err.message)) {
      return c.json(errorBody('invalid_json', 'the request body is not valid JSON'), 400);
    }
    if (err.status === 415)
      return c.json(errorBody('unsupported_media_type', 'send the body as application/json'), 415);
    if (err.status === 413) return c.json(errorBody('payload_too_large', 'the request body is too large'), 413);
    return c.json(errorBody('http_error', err.message || 'request failed'), err.status as 400);
  }
  throw err;
};
