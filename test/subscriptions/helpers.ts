import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import type { PaymentMethodChoice } from '../../simulator/admin-client';
import {
  checkoutWorkflowId,
  completeUpdate,
  reviewUpdate,
  type FinalAmountInput,
} from '../../workflows/checkout-messages';
import {
  subscriptionStatusQuery,
  type FrequencyUnit,
  type SubscriptionStatus,
} from '../../workflows/subscription-messages';
import type { checkoutWorkflow } from '../../workflows/checkout';
import type { subscriptionWorkflow } from '../../workflows/subscription';
import type { TestStack } from '../support/stack';
import { STORE_ID, buyerPays, finalAmount, usd } from '../checkout/helpers';
import { until } from '../support/until';

export { until };

export type SubscriptionHandle = WorkflowHandle<typeof subscriptionWorkflow>;

/**
 * A recurring checkout as a storefront runs it: the session is Recurring with the agreed frequency
 * and amount; AuthorizeWithCapture charges the first cycle, Confirm starts a free trial.
 */
export async function subscribe(
  stack: TestStack,
  opts: {
    unit?: FrequencyUnit;
    value?: number;
    amount?: string;
    intent?: 'AuthorizeWithCapture' | 'Confirm';
    method?: PaymentMethodChoice;
    subscription?: FinalAmountInput['subscription'];
  } = {},
) {
  const amount = opts.amount ?? '10.00';
  const session = await stack.amazonPay.createCheckoutSession(
    {
      storeId: STORE_ID,
      webCheckoutDetails: { checkoutReviewReturnUrl: 'https://shop.example/review' },
      chargePermissionType: 'Recurring',
      recurringMetadata: {
        frequency: { unit: opts.unit ?? 'Month', value: String(opts.value ?? 1) },
        amount: usd(amount),
      },
    },
    { idempotencyKey: randomUUID().replace(/-/g, '') },
  );
  const checkoutSessionId = session.checkoutSessionId;
  await stack.admin.signIn(checkoutSessionId);
  const checkout = await stack.temporal.workflow.start<typeof checkoutWorkflow>('checkoutWorkflow', {
    workflowId: checkoutWorkflowId(checkoutSessionId),
    taskQueue: stack.taskQueue,
    args: [{ checkoutSessionId }],
  });
  await checkout.executeUpdate(reviewUpdate);
  const intent = opts.intent ?? 'AuthorizeWithCapture';
  await buyerPays(
    stack,
    checkout,
    finalAmount(amount, intent, opts.subscription ? { subscription: opts.subscription } : {}),
    opts.method ?? 'happy',
  );
  const outcome = await checkout.executeUpdate(completeUpdate);
  if (!outcome.completed) throw new Error(`not completed: ${JSON.stringify(outcome)}`);
  const subscription = stack.temporal.workflow.getHandle(
    `subscription-${outcome.chargePermissionId}`,
  ) as SubscriptionHandle;
  return { checkoutSessionId, checkout, outcome, chargePermissionId: outcome.chargePermissionId, subscription };
}

export const statusOfSubscription = (h: SubscriptionHandle): Promise<SubscriptionStatus> =>
  h.query(subscriptionStatusQuery);
