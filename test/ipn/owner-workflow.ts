// A minimal owner for routing tests, standing in for the checkout and subscription workflows: it
// learns its charge permission id by signal, registers with the inbox, records every
// notification it receives (deduped on NotificationId) and tells the inbox when it ends.
import {
  condition,
  defineQuery,
  defineSignal,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { amazonPayNotificationSignal, type AmazonPayNotification } from '../../workflows/notification-messages';
import { AmazonChargePermissionId } from '../../workflows/search-attributes';

export interface TestOwnerState {
  chargePermissionId: string | null;
  received: (AmazonPayNotification & { seenAt: number })[];
  duplicatesIgnored: number;
}

export const knowChargePermissionSignal = defineSignal<[string]>('testKnowChargePermission');
export const finishOwnerSignal = defineSignal('testFinishOwner');
export const testOwnerQuery = defineQuery<TestOwnerState>('testOwnerState');

const { registerNotificationOwner, notificationOwnerClosed } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
});

export async function testNotificationOwner(options: { tellInboxOnClose?: boolean } = {}): Promise<TestOwnerState> {
  const state: TestOwnerState = { chargePermissionId: null, received: [], duplicatesIgnored: 0 };
  let finished = false;
  setHandler(amazonPayNotificationSignal, (n) => {
    if (state.received.some((r) => r.notificationId === n.notificationId)) {
      state.duplicatesIgnored += 1;
      return;
    }
    state.received.push({ ...n, seenAt: Date.now() });
  });
  setHandler(knowChargePermissionSignal, (id) => {
    state.chargePermissionId = id;
  });
  setHandler(finishOwnerSignal, () => {
    finished = true;
  });
  setHandler(testOwnerQuery, () => state);

  await condition(() => state.chargePermissionId !== null);
  const chargePermissionId = state.chargePermissionId!;
  upsertSearchAttributes([{ key: AmazonChargePermissionId, value: chargePermissionId }]);
  await registerNotificationOwner({ chargePermissionId, ownerWorkflowId: workflowInfo().workflowId });
  await condition(() => finished);
  if (options.tellInboxOnClose !== false) {
    await notificationOwnerClosed({ chargePermissionId, ownerWorkflowId: workflowInfo().workflowId });
  }
  return state;
}
