import { Context } from '@temporalio/activity';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { checkoutSummary, checkoutWorkflowId } from '../workflows/checkout-messages';
import {
  AmazonChargePermissionId,
  AmazonCheckoutSessionId,
  CheckoutStatus,
  MerchantReferenceId,
  NextBillingAt,
  SubscriptionStatus,
} from '../workflows/search-attributes';
import { cycleAt } from '../workflows/subscription/calendar';
import {
  replaceChargePermissionUpdate,
  subscriptionSummary,
  subscriptionWorkflowId,
  type ReplaceChargePermissionInput,
  type SubscriptionInput,
} from '../workflows/subscription-messages';

export interface SubscriptionActivityDeps {
  temporal: Client;
  /** The account's Amazon region decides how a plan changes (PSD2 in the EU and UK). */
  amazonPay: { region: 'na' | 'eu' | 'jp' };
}

export function createSubscriptionActivities(deps: SubscriptionActivityDeps) {
  return {
    /**
     * Called by a completed recurring checkout. The workflow id is the charge permission's, and a
     * finished one is never started again: a retried activity, a retried complete or a replayed
     * checkout can only reach the one subscription.
     */
    async startSubscription(input: SubscriptionInput): Promise<{ subscriptionId: string }> {
      const workflowId = subscriptionWorkflowId(input.chargePermissionId);
      try {
        await deps.temporal.workflow.start('subscriptionWorkflow', {
          workflowId,
          taskQueue: Context.current().info.taskQueue,
          args: [{ ...input, region: input.region ?? deps.amazonPay.region }],
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          workflowIdConflictPolicy: 'USE_EXISTING',
          staticSummary: subscriptionSummary(input.chargePermissionId, input.merchantReferenceId),
          // What the workflow would upsert at its first task (it compares and upserts nothing): the start is billed anyway.
          typedSearchAttributes: [
            { key: AmazonChargePermissionId, value: input.chargePermissionId },
            { key: SubscriptionStatus, value: input.firstChargeId ? 'active' : 'trialing' },
            { key: NextBillingAt, value: new Date(cycleAt(input.anchor, input.plan, 1, input.timeZone)) },
            ...(input.merchantReferenceId ? [{ key: MerchantReferenceId, value: input.merchantReferenceId }] : []),
          ],
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      return { subscriptionId: workflowId };
    },

    /**
     * Starts a re-checkout's checkout workflow (workflows/checkout-session-creation.ts says why not
     * as a child). Its id is the session's, and a finished one is never started again.
     */
    async startRecheckout(input: { checkoutSessionId: string; replacesSubscription: string }): Promise<void> {
      try {
        await deps.temporal.workflow.start('checkoutWorkflow', {
          workflowId: checkoutWorkflowId(input.checkoutSessionId),
          taskQueue: Context.current().info.taskQueue,
          args: [input],
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          workflowIdConflictPolicy: 'USE_EXISTING',
          staticSummary: checkoutSummary(input.checkoutSessionId),
          // What the workflow would upsert at its first task, as the API's review route starts one.
          typedSearchAttributes: [
            { key: CheckoutStatus, value: 'AwaitingBuyer' },
            { key: AmazonCheckoutSessionId, value: input.checkoutSessionId },
          ],
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
    },

    /**
     * Called by a completed re-checkout (workflows/checkout/recheckout.ts): the subscription bills
     * the new charge permission from its next cycle. The update id names the checkout session, so a
     * retried activity joins the first update; the subscription answers a hand-over it applied in an
     * earlier run with its status. An ended subscription refuses: SubscriptionEnded, not retried.
     */
    async replaceSubscriptionChargePermission(
      input: ReplaceChargePermissionInput & { subscriptionId: string },
    ): Promise<{ subscriptionId: string; chargePermissionId: string }> {
      const { subscriptionId, ...args } = input;
      try {
        const status = await deps.temporal.workflow
          .getHandle(subscriptionId)
          .executeUpdate(replaceChargePermissionUpdate, {
            args: [args],
            updateId: `recheckout:${input.checkoutSessionId}`,
          });
        return { subscriptionId, chargePermissionId: status.chargePermissionId };
      } catch (err) {
        // Temporal answers NotFound for an ended workflow as for an unknown one: neither bills again.
        const ended =
          err instanceof WorkflowNotFoundError ||
          (err instanceof WorkflowUpdateFailedError &&
            err.cause instanceof ApplicationFailure &&
            err.cause.type === 'SubscriptionEnded');
        if (!ended) throw err;
        throw ApplicationFailure.create({
          type: 'SubscriptionEnded',
          message: `subscription ${subscriptionId} has ended`,
          nonRetryable: true,
        });
      }
    },
  };
}
