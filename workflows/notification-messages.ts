import { defineSignal } from '@temporalio/workflow';

/**
 * An Amazon Pay IPN, reduced to what routing and deduplication need. It carries no state: the
 * workflow that receives it GETs the object from Amazon Pay and applies only forward transitions.
 */
export interface AmazonPayNotification {
  /** SNS MessageId; SNS redeliveries keep it. */
  messageId: string;
  /** Amazon's NotificationId from the inner message. */
  notificationId: string;
  objectType: 'CHARGE' | 'REFUND' | 'CHARGE_PERMISSION' | 'CHARGEBACK';
  objectId: string;
  chargePermissionId: string;
  notificationType: 'STATE_CHANGE' | 'ATTRIBUTE_CHANGE' | string;
  /** ISO-8601 time our endpoint accepted it. */
  receivedAt: string;
}

/** Delivered to the workflow that owns `chargePermissionId` (checkout or subscription). */
export const amazonPayNotificationSignal = defineSignal<[AmazonPayNotification]>('amazonPayNotification');
