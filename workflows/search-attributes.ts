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
/** On an owner: Failing (a merchant event waits for a retry), Failed, EndpointDisabled; absent while all is well. */
export const WebhookDelivery = defineSearchAttributeKey('WebhookDelivery', 'KEYWORD');
/** On a webhook endpoint's workflow: Enabled or Disabled (the endpoint answered 410). */
export const WebhookEndpointStatus = defineSearchAttributeKey('WebhookEndpointStatus', 'KEYWORD');

/** trialing, active, past_due, paused, canceled, ended (workflows/subscription-messages.ts). */
export const SubscriptionStatus = defineSearchAttributeKey('SubscriptionStatus', 'KEYWORD');
/** When the subscription's next charge is due; absent once nothing more will be charged. */
export const NextBillingAt = defineSearchAttributeKey('NextBillingAt', 'DATETIME');
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
  WebhookDelivery: 'Keyword',
  WebhookEndpointStatus: 'Keyword',
  SubscriptionStatus: 'Keyword',
  NextBillingAt: 'Datetime',
  OperatorAttention: 'Keyword',
} as const;
