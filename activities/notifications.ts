import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  notificationInboxWorkflow,
  notificationInboxWorkflowId,
  notificationOwnerClosedSignal,
  registerNotificationOwnerSignal,
  type NotificationInboxOptions,
  type NotificationOwnerRegistration,
  type NotificationOwnerRef,
} from '../workflows/notifications';

export interface NotificationActivityDeps {
  temporal: Client;
  /** Task queue of the inbox workflows; defaults to the task queue this activity runs on. */
  notificationTaskQueue?: string;
  inboxOptions?: NotificationInboxOptions;
}

export class InvalidChargePermissionIdError extends Error {
  override readonly name = 'InvalidChargePermissionIdError';
}

// Charge permission ids go into workflow ids and visibility queries: accept Amazon's shape only.
const CHARGE_PERMISSION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function checkId(chargePermissionId: string): void {
  if (!CHARGE_PERMISSION_ID.test(chargePermissionId)) {
    throw new InvalidChargePermissionIdError(
      `not a charge permission id: ${JSON.stringify(chargePermissionId.slice(0, 40))}`,
    );
  }
}

export function createNotificationActivities(deps: NotificationActivityDeps) {
  const taskQueue = () => deps.notificationTaskQueue ?? Context.current().info.taskQueue;

  return {
    /**
     * Called by an owner (checkout, subscription) as soon as it knows its charge permission id.
     * signalWithStart: the inbox may already hold IPNs that arrived first, or may not exist yet.
     */
    async registerNotificationOwner({
      chargePermissionId,
      ownerWorkflowId,
      objectTypes,
    }: NotificationOwnerRef & Pick<NotificationOwnerRegistration, 'objectTypes'>): Promise<void> {
      checkId(chargePermissionId);
      await deps.temporal.workflow.signalWithStart(notificationInboxWorkflow, {
        workflowId: notificationInboxWorkflowId(chargePermissionId),
        taskQueue: taskQueue(),
        args: [{ chargePermissionId, ...(deps.inboxOptions ? { options: deps.inboxOptions } : {}) }],
        signal: registerNotificationOwnerSignal,
        signalArgs: [{ ownerWorkflowId, ...(objectTypes ? { objectTypes } : {}) }],
      });
    },

    /** Called by an owner when it ends; later IPNs are then recorded as late, not forwarded. */
    async notificationOwnerClosed({ chargePermissionId, ownerWorkflowId }: NotificationOwnerRef): Promise<void> {
      checkId(chargePermissionId);
      try {
        await deps.temporal.workflow
          .getHandle(notificationInboxWorkflowId(chargePermissionId))
          .signal(notificationOwnerClosedSignal, { ownerWorkflowId });
      } catch (err) {
        // No running inbox: nothing to tell.
        if (err instanceof WorkflowNotFoundError) return;
        throw err;
      }
    },

    /**
     * Best-effort lookup of a workflow that claims the charge permission through the
     * AmazonChargePermissionId search attribute (owners set it). Used by an inbox nobody
     * registered with: a late IPN after the inbox ended, or a registration that never happened.
     */
    async findNotificationOwner({
      chargePermissionId,
      excludeWorkflowId,
    }: {
      chargePermissionId: string;
      excludeWorkflowId: string;
    }): Promise<{ workflowId: string; running: boolean } | null> {
      checkId(chargePermissionId);
      const found: { workflowId: string; running: boolean; startTime: number }[] = [];
      try {
        for await (const wf of deps.temporal.workflow.list({
          query: `AmazonChargePermissionId = '${chargePermissionId}'`,
          pageSize: 20,
        })) {
          if (wf.workflowId === excludeWorkflowId) continue;
          found.push({
            workflowId: wf.workflowId,
            running: wf.status.name === 'RUNNING',
            startTime: wf.startTime.getTime(),
          });
          if (found.length >= 20) break;
        }
      } catch (err) {
        Context.current().log.warn('Owner lookup by AmazonChargePermissionId failed', {
          chargePermissionId,
          error: (err as Error).message,
        });
        return null;
      }
      found.sort((a, b) => Number(b.running) - Number(a.running) || b.startTime - a.startTime);
      const best = found[0];
      return best ? { workflowId: best.workflowId, running: best.running } : null;
    },

    async describeNotificationOwner({
      ownerWorkflowId,
    }: {
      ownerWorkflowId: string;
    }): Promise<'Running' | 'Closed' | 'NotFound'> {
      try {
        const d = await deps.temporal.workflow.getHandle(ownerWorkflowId).describe();
        return d.status.name === 'RUNNING' ? 'Running' : 'Closed';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return 'NotFound';
        throw err;
      }
    },
  };
}

export type NotificationActivities = ReturnType<typeof createNotificationActivities>;
