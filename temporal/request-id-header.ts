/**
 * The Temporal header that carries the storefront's X-Request-Id from the API into workflow and
 * activity log lines (temporal/request-id.ts, workflows/interceptors.ts). Headers are not encoded
 * by the payload codec: only an id travels in it, never data. No Node imports: workflow code uses
 * this module too.
 */
import { defaultPayloadConverter, type Headers } from '@temporalio/common';

export const REQUEST_ID_HEADER = 'requestId';

export function requestIdOf(headers: Headers): string | undefined {
  const payload = headers[REQUEST_ID_HEADER];
  if (!payload) return undefined;
  const value: unknown = defaultPayloadConverter.fromPayload(payload);
  return typeof value === 'string' ? value : undefined;
}

/** `headers` with the request id, or unchanged without one. */
export function withRequestIdHeader(headers: Headers, requestId: string | undefined): Headers {
  return requestId === undefined
    ? headers
    : { ...headers, [REQUEST_ID_HEADER]: defaultPayloadConverter.toPayload(requestId) };
}
