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

const { createCheckoutSession, startRecheckout } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

export async function createCheckoutSessionWorkflow(
  input: CreateCheckoutSessionWorkflowInput,
): Promise<CreatedCheckoutSession> {
  const created = await createCheckoutSession(input.payload, `${workflowInfo().workflowId}/create`);
  const merchantReferenceId = input.payload.merchantMetadata?.merchantReferenceId;
  if (input.replacesSubscription) {
    // A re-checkout's checkout is started by an activity, as startSubscription starts a
    // subscription, not as a child: its close would be reported to this long-closed parent, which
    // the Java time-skipping server mishandles (its clock stalls: sdk-java#2392), and the
    // subscription's tests run at real durations there. No recorded creation has this input.
    await startRecheckout({
      checkoutSessionId: created.checkoutSessionId,
      replacesSubscription: input.replacesSubscription,
    });
    return created;
  }
  await startChild(checkoutWorkflow, {
    workflowId: checkoutWorkflowId(created.checkoutSessionId),
    staticSummary: checkoutSummary(created.checkoutSessionId, merchantReferenceId),
    args: [
      {
        checkoutSessionId: created.checkoutSessionId,
        ...(merchantReferenceId ? { merchantReferenceId } : {}),
      },
    ],
    parentClosePolicy: ParentClosePolicy.ABANDON,
  });
  return created;
}
