import { ParentClosePolicy, proxyActivities, startChild, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { checkoutSummary, checkoutWorkflowId } from './checkout-messages';
import { checkoutWorkflow } from './checkout';

/**
 * Server-side Checkout Session creation (the alternative to the Amazon Pay button creating it).
 * One workflow per storefront Idempotency-Key, id `create-checkout-session-<key>`; the Amazon
 * idempotency key is derived from that id, so a retried request can never create two sessions.
 * The checkout workflow is started right away, so the session's 24-hour window is owned from the
 * moment the session exists, even if the buyer never comes back.
 */
export interface CreateCheckoutSessionWorkflowInput {
  /** The Create Checkout Session body, as the API built it (and would sign it for the button). */
  payload: {
    webCheckoutDetails: { checkoutReviewReturnUrl: string; checkoutCancelUrl?: string };
    storeId: string;
    chargePermissionType: 'OneTime' | 'Recurring';
    recurringMetadata?: {
      frequency: { unit: 'Day' | 'Week' | 'Month' | 'Year'; value: string };
      amount: { amount: string; currencyCode: string };
    };
    merchantMetadata?: { merchantReferenceId?: string; merchantStoreName?: string };
  };
  /** A re-checkout: the checkout hands its charge permission to this subscription (CheckoutInput). */
  replacesSubscription?: string;
}

export interface CreatedCheckoutSession {
  checkoutSessionId: string;
  amazonPayRedirectUrl: string | null;
}

const { createCheckoutSession } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

export async function createCheckoutSessionWorkflow(
  input: CreateCheckoutSessionWorkflowInput,
): Promise<CreatedCheckoutSession> {
  const created = await createCheckoutSession(input.payload, `${workflowInfo().workflowId}/create`);
  const merchantReferenceId = input.payload.merchantMetadata?.merchantReferenceId;
  await startChild(checkoutWorkflow, {
    workflowId: checkoutWorkflowId(created.checkoutSessionId),
    staticSummary: checkoutSummary(created.checkoutSessionId, merchantReferenceId),
    args: [
      {
        checkoutSessionId: created.checkoutSessionId,
        ...(merchantReferenceId ? { merchantReferenceId } : {}),
        // Absent in every recorded creation; a child's input is not compared on replay anyway.
        ...(input.replacesSubscription ? { replacesSubscription: input.replacesSubscription } : {}),
      },
    ],
    parentClosePolicy: ParentClosePolicy.ABANDON,
  });
  return created;
}
