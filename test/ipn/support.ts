import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Hono } from 'hono';
import { createIpnDispatcher, type IpnDispatcher, type IpnDispatcherOptions } from '../../simulator/ipn';
import { inject } from 'vitest';
import { createNotificationActivities } from '../../activities/notifications';
import {
  notificationInboxQuery,
  notificationInboxWorkflowId,
  type NotificationInboxView,
} from '../../workflows/notifications';
import { testDataConverter } from '../support/codec';
import { installTestRuntime, testLogger } from '../support/logs';
import { bundlerLogger, temporalLogger } from '../../observability/logger';
import {
  knowChargePermissionSignal,
  testNotificationOwner,
  testOwnerQuery,
  type TestOwnerState,
} from './owner-workflow';

const workflowsPath = fileURLToPath(new URL('./workflows.ts', import.meta.url));
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
export const ipnTestBundle = () =>
  (bundle ??= bundleWorkflowCode({ workflowsPath, logger: bundlerLogger(temporalLogger(testLogger())) }));

/**
 * A worker on the stack's task queue running only the inbox and the test owner, so routing tests
 * do not depend on the checkout workflow.
 */
export async function startRoutingWorker(temporal: Client, taskQueue: string): Promise<AsyncDisposable> {
  installTestRuntime();
  const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  const worker = await Worker.create({
    connection,
    namespace: inject('temporalNamespace'),
    taskQueue,
    dataConverter: testDataConverter,
    workflowBundle: await ipnTestBundle(),
    activities: createNotificationActivities({ temporal }),
    shutdownGraceTime: '1s',
  });
  const running = worker.run();
  return {
    async [Symbol.asyncDispose]() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

export async function serveApp(app: { fetch: Hono['fetch'] }): Promise<{ url: string } & AsyncDisposable> {
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export const newChargePermissionId = () => `S01-${Math.floor(1e6 + Math.random() * 9e6)}-${randomUUID().slice(0, 7)}`;

export async function startOwner(temporal: Client, taskQueue: string, opts: { tellInboxOnClose?: boolean } = {}) {
  const handle = await temporal.workflow.start(testNotificationOwner, {
    workflowId: `test-owner-${randomUUID()}`,
    taskQueue,
    args: [opts],
  });
  return {
    handle,
    know: (cp: string) => handle.signal(knowChargePermissionSignal, cp),
    state: () => handle.query(testOwnerQuery),
  };
}

export async function eventually<T>(fn: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (check(last)) return last;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `condition not met in ${timeoutMs} ms; last value ${JSON.stringify(last)}; last error ${String(lastErr)}`,
  );
}

export const inboxView = (temporal: Client, cp: string): Promise<NotificationInboxView> =>
  temporal.workflow.getHandle(notificationInboxWorkflowId(cp)).query(notificationInboxQuery);

export const ownerReceived = (s: TestOwnerState) => s.received.map((r) => r.objectId).sort();

/**
 * The simulator's IPN sender on a port of its own (certificate served under /sns). RunningSimulator
 * does not expose its dispatcher, and routing tests need its idle()/stats() and fault knobs.
 */
export async function startIpnSender(
  url: string,
  options: Partial<IpnDispatcherOptions> = {},
): Promise<{ ipn: IpnDispatcher } & AsyncDisposable> {
  const holder: { dispatcher?: IpnDispatcher } = {};
  const app = new Hono();
  app.route(
    '/sns',
    new Hono().all('*', (c) =>
      holder.dispatcher!.routes.fetch(
        new Request(new URL(c.req.path.replace(/^\/sns/, '') || '/', c.req.url), c.req.raw),
      ),
    ),
  );
  const server = await serveApp(app);
  const dispatcher = (holder.dispatcher = createIpnDispatcher({
    merchantId: 'A2SIMULATORMRCH',
    publicBaseUrl: server.url,
    now: () => new Date(),
    url,
    retryBaseMs: 200,
    retryMaxMs: 2000,
    ...options,
  }));
  await dispatcher.identity();
  const ipn = dispatcher;
  return {
    ipn,
    async [Symbol.asyncDispose]() {
      await ipn.close();
      await server[Symbol.asyncDispose]();
    },
  };
}
