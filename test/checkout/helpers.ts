import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { expect } from 'vitest';
import type { PaymentMethodChoice } from '../../simulator/admin-client';
import type { TestStack } from '../support/stack';
import {
  checkoutWorkflowId,
  completeUpdate,
  reviewUpdate,
  setFinalAmountUpdate,
  statusQuery,
  type CheckoutStatus,
  type CheckoutStatusName,
  type FinalAmountInput,
  type PaymentIntent,
  type Price,
} from '../../workflows/checkout-messages';
import type { checkoutWorkflow, CheckoutWorkflowInput } from '../../workflows/checkout';

export const STORE_ID = 'amzn1.application-oa2-client.00000000000000000000000000000000';
export type CheckoutHandle = WorkflowHandleWithFirstExecutionRunId<typeof checkoutWorkflow>;

export const usd = (amount: string): Price => ({ amount, currencyCode: 'USD' });

export function finalAmount(
  amount: string,
  paymentIntent: PaymentIntent,
  extra: Partial<FinalAmountInput> = {},
): FinalAmountInput {
  return {
    chargeAmount: usd(amount),
    paymentIntent,
    canHandlePendingAuthorization: false,
    merchantReferenceId: `order-${randomUUID().slice(0, 8)}`,
    checkoutResultReturnUrl: 'https://shop.example/result',
    ...extra,
  };
}

/** The buyer clicked the button and signed in; the shop's review page starts the workflow (like the API does). */
export async function openCheckout(
  stack: TestStack,
  input: Partial<CheckoutWorkflowInput> = {},
): Promise<{ checkoutSessionId: string; handle: CheckoutHandle }> {
  const session = await stack.amazonPay.createCheckoutSession(
    { storeId: STORE_ID, webCheckoutDetails: { checkoutReviewReturnUrl: 'https://shop.example/review' } },
    { idempotencyKey: randomUUID().replace(/-/g, '') },
  );
  const checkoutSessionId = session.checkoutSessionId;
  await stack.admin.signIn(checkoutSessionId);
  // start + update rather than update-with-start: the Java time-skipping server lacks ExecuteMultiOperation.
  const handle = await stack.temporal.workflow.start<typeof checkoutWorkflow>('checkoutWorkflow', {
    workflowId: checkoutWorkflowId(checkoutSessionId),
    taskQueue: stack.taskQueue,
    args: [{ ...input, checkoutSessionId }],
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
  const review = await handle.executeUpdate(reviewUpdate);
  if (review.state !== 'Open' || !review.buyer) throw new Error(`unexpected review ${JSON.stringify(review)}`);
  return { checkoutSessionId, handle };
}

/** setFinalAmount, then the buyer pays at Amazon with `method`. */
export async function buyerPays(
  stack: TestStack,
  handle: CheckoutHandle,
  amount: FinalAmountInput,
  method: PaymentMethodChoice,
): Promise<void> {
  const { amazonPayRedirectUrl } = await handle.executeUpdate(setFinalAmountUpdate, { args: [amount] });
  await stack.admin.pay(amazonPayRedirectUrl, method);
}

/** Open, set the amount, pay, complete: the usual way to a completed checkout. */
export async function paidCheckout(
  stack: TestStack,
  amount: FinalAmountInput,
  method: PaymentMethodChoice = 'happy',
  input: Partial<CheckoutWorkflowInput> = {},
) {
  const { checkoutSessionId, handle } = await openCheckout(stack, input);
  await buyerPays(stack, handle, amount, method);
  const outcome = await handle.executeUpdate(completeUpdate);
  return { checkoutSessionId, handle, outcome };
}

export const statusOf = (handle: CheckoutHandle): Promise<CheckoutStatus> => handle.query(statusQuery);

export async function waitForStatus(
  handle: CheckoutHandle,
  predicate: (s: CheckoutStatus) => boolean,
  { timeoutMs = 20_000, intervalMs = 100 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<CheckoutStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: CheckoutStatus | undefined;
  while (Date.now() < deadline) {
    last = await statusOf(handle);
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`status not reached in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

export const hasStatus = (name: CheckoutStatusName) => (s: CheckoutStatus) => s.status === name;

export async function countOf(stack: TestStack, operation: string): Promise<number> {
  return (await stack.admin.requestCounts()).byOperation[operation] ?? 0;
}

/** The failure a rejected workflow update carries (its type is the reason: InvalidChargeStatus, ...). */
export async function updateFailure(p: Promise<unknown>): Promise<{ type?: string; message?: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return (err as WorkflowUpdateFailedError).cause as { type?: string; message?: string };
}
