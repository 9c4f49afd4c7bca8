import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { errorBody } from '../errors';

export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;

/** hono/body-limit answering 413 in our error shape (it checks Content-Length, or counts a streamed body). */
export function jsonBodyLimit(maxBytes: number = DEFAULT_BODY_LIMIT_BYTES): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) => c.json(errorBody('payload_too_large', `the request body exceeds ${maxBytes} bytes`), 413),
  });
}
