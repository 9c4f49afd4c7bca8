/**
 * Request ids across processes, the way Temporal's context-propagation sample carries context:
 * the API runs each request inside `withRequestId`; the client interceptor copies the id into the
 * header of every start, signal and update it sends; the workflow interceptors
 * (workflows/interceptors.ts) put it on the log lines of the handler it reaches and on the
 * activities that handler schedules; the activity interceptor puts it on the activity's lines and
 * runs the activity inside `withRequestId`, so a signal the activity sends (an IPN forwarded by the
 * inbox to its owner) carries it on.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ClientInterceptors, WorkflowClientInterceptor } from '@temporalio/client';
import type { Headers } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { requestIdOf, withRequestIdHeader } from './request-id-header';

const current = new AsyncLocalStorage<string>();

/** Runs `fn` as part of request `requestId`: Temporal calls made inside carry the id. */
export function withRequestId<T>(requestId: string, fn: () => T): T {
  return current.run(requestId, fn);
}

export function currentRequestId(): string | undefined {
  return current.getStore();
}

const withHeader = (headers: Headers): Headers => withRequestIdHeader(headers, current.getStore());

const workflowClient: WorkflowClientInterceptor = {
  start: (input, next) => next({ ...input, headers: withHeader(input.headers) }),
  startWithDetails: (input, next) => next({ ...input, headers: withHeader(input.headers) }),
  signal: (input, next) => next({ ...input, headers: withHeader(input.headers) }),
  signalWithStart: (input, next) => next({ ...input, headers: withHeader(input.headers) }),
  startUpdate: (input, next) => next({ ...input, headers: withHeader(input.headers) }),
  startUpdateWithStart: (input, next) =>
    next({
      ...input,
      workflowStartHeaders: withHeader(input.workflowStartHeaders),
      updateHeaders: withHeader(input.updateHeaders),
    }),
};

/** For every Client of the service (API, the worker's signalling client, npm start). */
export const requestIdClientInterceptors: ClientInterceptors = { workflow: [workflowClient] };

/** For the worker: the id the scheduling handler had, on the activity's lines and its own calls. */
export const requestIdActivityInterceptor: ActivityInterceptorsFactory = () => {
  let requestId: string | undefined;
  return {
    inbound: {
      execute: (input, next) => {
        requestId = requestIdOf(input.headers);
        return requestId === undefined ? next(input) : withRequestId(requestId, () => next(input));
      },
    },
    outbound: {
      getLogAttributes: (attributes, next) => next(requestId === undefined ? attributes : { ...attributes, requestId }),
    },
  };
};
