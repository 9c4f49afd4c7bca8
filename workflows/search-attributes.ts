import { defineSearchAttributeKey } from '@temporalio/common';

/**
 * Custom search attributes operators use to find payments in the Web UI and with
 * `temporal workflow list --query`. Never put personal data here: search attributes are stored
 * unencrypted. `searchAttributeTypes` is what the dev server and the cluster setup register.
 */
export const CheckoutStatus = defineSearchAttributeKey('CheckoutStatus', 'KEYWORD');
export const AmazonCheckoutSessionId = defineSearchAttributeKey('AmazonCheckoutSessionId', 'KEYWORD');
export const AmazonChargePermissionId = defineSearchAttributeKey('AmazonChargePermissionId', 'KEYWORD');
export const AmazonChargeId = defineSearchAttributeKey('AmazonChargeId', 'KEYWORD');
export const MerchantReferenceId = defineSearchAttributeKey('MerchantReferenceId', 'KEYWORD');
export const NotificationStatus = defineSearchAttributeKey('NotificationStatus', 'KEYWORD');
/** Set while a checkout step cannot succeed on its own (CheckoutOwner.needsOperator): what failed. */
export const OperatorAttention = defineSearchAttributeKey('OperatorAttention', 'KEYWORD');

/** name -> type as the Temporal CLI spells it (`--search-attribute NAME=TYPE`). */
export const searchAttributeTypes = {
  CheckoutStatus: 'Keyword',
  AmazonCheckoutSessionId: 'Keyword',
  AmazonChargePermissionId: 'Keyword',
  AmazonChargeId: 'Keyword',
  MerchantReferenceId: 'Keyword',
  NotificationStatus: 'Keyword',
  OperatorAttention: 'Keyword',
} as const;
