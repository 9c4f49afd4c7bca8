import { log } from '@temporalio/workflow';
import type { NotificationOwnerRegistration } from '../notifications';
import { bestEffort } from './proxies';

/**
 * The payment owners' side of the charge permission's notification inbox (workflows/notifications.ts):
 * register once the charge permission id is known, release when the owner ends. Both are best
 * effort: a missed registration only means polling (the next read finds what the IPN would have
 * said), a missed release only means the inbox finds out at the next IPN.
 */

/** True when the inbox now forwards this charge permission's IPNs (of `objectTypes`, else all) to the owner. */
export async function registerNotifications(
  chargePermissionId: string,
  ownerWorkflowId: string,
  objectTypes?: NotificationOwnerRegistration['objectTypes'],
): Promise<boolean> {
  try {
    await bestEffort.registerNotificationOwner({
      chargePermissionId,
      ownerWorkflowId,
      ...(objectTypes ? { objectTypes } : {}),
    });
    return true;
  } catch (err) {
    log.warn('could not register for notifications; relying on reads', { error: String(err) });
    return false;
  }
}

/** Tells the inbox its owner ended: later IPNs are recorded as late and the inbox ends after its linger. */
export async function releaseNotifications(chargePermissionId: string, ownerWorkflowId: string): Promise<void> {
  try {
    await bestEffort.notificationOwnerClosed({ chargePermissionId, ownerWorkflowId });
  } catch (err) {
    log.warn('could not release the notification inbox', { error: String(err) });
  }
}
