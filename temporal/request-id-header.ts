/**
 * The Temporal header that carries the storefront's X-Request-Id from the API into workflow and
 * activity log lines (temporal/request-id.ts, workflows/interceptors.ts). Headers are not encoded
 * by the payload codec: only an id travels in it, never data.
 */
export const REQUEST_ID_HEADER = 'requestId';
