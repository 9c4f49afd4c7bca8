/**
 * Workflow side of request-id propagation (temporal/request-id.ts). Registered at bundling
 * (worker/worker.ts workflowBundleOptions): a prebuilt bundle ignores WorkerOptions' workflowModules.
 *
 * An update or signal handler runs inside the id of the request that sent it: its log lines carry
 * `requestId`, and so do the activities it schedules. The main function runs inside the id of the
 * request that started the run, as `startRequestId`: its lines (timers firing weeks later
 * included) were not caused by any one later request, so they do not claim one. Headers are not
 * part of what replay compares, so adding them to activity commands changes no history.
 */
import { AsyncLocalStorage, type Headers, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { requestIdOf, withRequestIdHeader } from '../temporal/request-id-header';

interface RequestContext {
  requestId?: string;
  startRequestId?: string;
}

// The SDK's AsyncLocalStorage (the one cancellation scopes use): follows a handler through its awaits.
const context = new AsyncLocalStorage<RequestContext>();

function within<T>(key: keyof RequestContext, headers: Headers, fn: () => T): T {
  const id = requestIdOf(headers);
  return id === undefined ? fn() : context.run({ [key]: id }, fn);
}

const withRequestHeader = (headers: Headers): Headers => withRequestIdHeader(headers, context.getStore()?.requestId);

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [
    {
      execute: (input, next) => within('startRequestId', input.headers, () => next(input)),
      handleUpdate: (input, next) => within('requestId', input.headers, () => next(input)),
      validateUpdate: (input, next) => within('requestId', input.headers, () => next(input)),
      handleSignal: (input, next) => within('requestId', input.headers, () => next(input)),
    },
  ],
  outbound: [
    {
      getLogAttributes: (attributes, next) => next({ ...attributes, ...context.getStore() }),
      scheduleActivity: (input, next) => next({ ...input, headers: withRequestHeader(input.headers) }),
      scheduleLocalActivity: (input, next) => next({ ...input, headers: withRequestHeader(input.headers) }),
    },
  ],
});
