import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, Runtime, Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import type { Logger } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { AmazonPayClient } from '../amazon-pay';
import { createActivities, type ActivityDeps } from '../activities';
import { bundlerLogger } from '../observability/logger';
import type { WorkerTuning } from '../config';
import { requestIdActivityInterceptor } from '../temporal/request-id';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
/** Workflow interceptors are compiled into the bundle: a prebuilt bundle ignores WorkerOptions' workflowModules. */
export const workflowInterceptorModules = [fileURLToPath(new URL('../workflows/interceptors.ts', import.meta.url))];

export interface PaymentWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  amazonPay: AmazonPayClient;
  /**
   * The payload codec (temporal/data-converter.ts): every payload this worker writes is encrypted.
   * Required, so no worker can write buyer data to Temporal in clear.
   */
  dataConverter: DataConverter;
  /** Client activities use to signal workflows (IPN routing); built with the same data converter. */
  temporal: Client;
  /** Merchant webhook endpoints (WEBHOOK_ENDPOINTS); none: events are recorded, sent nowhere. */
  webhooks?: ActivityDeps['webhooks'];
  /** IPN_* waits for the inboxes this worker's owner registrations start. */
  inboxOptions?: ActivityDeps['inboxOptions'];
  /**
   * A prebuilt bundle (`npm run build:workflows`, the Docker image; tests bundle once per file);
   * otherwise workflows are bundled at start.
   */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** How long in-flight activities may finish after shutdown is requested; then they are cancelled. */
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
  /** After this, a shutdown that still waits on activities ignoring their cancellation gives up on them. */
  shutdownForceTime?: WorkerOptions['shutdownForceTime'];
  identity?: string;
  /** Cache size, concurrency and the task queue's activity rate (config: WORKER_*). */
  tuning?: WorkerTuning;
}

/** The one worker of this service: every payment workflow and every Amazon Pay activity. */
export async function createPaymentWorker(options: PaymentWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    dataConverter: options.dataConverter,
    workflowBundle: options.workflowBundle ?? (await bundleWorkflows()),
    activities: createActivities({
      amazonPay: options.amazonPay,
      temporal: options.temporal,
      ...(options.webhooks ? { webhooks: options.webhooks } : {}),
      ...(options.inboxOptions ? { inboxOptions: options.inboxOptions } : {}),
    }),
    interceptors: { activity: [requestIdActivityInterceptor] },
    shutdownGraceTime: options.shutdownGraceTime ?? '10s',
    ...(options.shutdownForceTime ? { shutdownForceTime: options.shutdownForceTime } : {}),
    ...(options.identity ? { identity: options.identity } : {}),
    ...options.tuning,
  });
}

/**
 * Bundles the workflows with the Runtime's logger, webpack's statistics demoted to debug (Worker.create
 * with workflowsPath would log them at info, on every start).
 */
export function bundleWorkflows(logger: Logger = Runtime.instance().logger) {
  return bundleWorkflowCode({ workflowsPath, workflowInterceptorModules, logger: bundlerLogger(logger) });
}
