// On the dev server (the real server carries a run's search attributes over continue-as-new; the
// time-skipping test server does not): a subscription that bills a cycle continues as new, and its
// new run is still found by SubscriptionStatus and NextBillingAt without upserting them again
// (the key of what was upserted is carried in the state: one history event and action less a cycle).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack';
import { AmazonChargePermissionId, NextBillingAt, SubscriptionStatus } from '../../workflows/search-attributes';
import type { subscriptionWorkflow } from '../../workflows/subscription';
import type { SubscriptionWorkflowInput } from '../../workflows/subscription/state';
import { statusOfSubscription, subscribe, until, type SubscriptionHandle } from './helpers';

const DAY = 86_400_000;

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
});

describe('a subscription continuing as new (dev server)', () => {
  it('keeps its search attributes in the new run and upserts nothing it did not change', async () => {
    const { subscription, chargePermissionId } = await subscribe(stack, { unit: 'Day', value: 1, amount: '2.00' });
    const signedUp = await until(() => statusOfSubscription(subscription).catch(() => undefined), 'the subscription');
    // Real time cannot skip a day here: the same permission's subscription again, anchored a day
    // and a minute ago, so cycle 1 is due now.
    await subscription.terminate('the test restarts it with an earlier anchor');
    const input: SubscriptionWorkflowInput = {
      chargePermissionId,
      checkoutSessionId: signedUp.checkoutSessionId,
      merchantReferenceId: null,
      plan: signedUp.plan,
      timeZone: 'UTC',
      anchor: new Date(Date.now() - DAY - 60_000).toISOString(),
      firstChargeId: signedUp.cycles[0]!.chargeId,
    };
    const started = await stack.temporal.workflow.start<typeof subscriptionWorkflow>('subscriptionWorkflow', {
      workflowId: subscription.workflowId,
      taskQueue: stack.taskQueue,
      args: [input],
    });
    const restarted: SubscriptionHandle = stack.temporal.workflow.getHandle(subscription.workflowId);
    const firstRun = stack.temporal.workflow.getHandle(subscription.workflowId, started.firstExecutionRunId);
    await until(
      async () => (await firstRun.describe()).status.name === 'CONTINUED_AS_NEW',
      'cycle 1 billed and continued as new',
    );

    const status = await until(async () => {
      const s = await statusOfSubscription(restarted);
      return s.cycles.some((c) => c.n === 1 && c.state === 'Paid') && s;
    }, 'the new run');
    const { typedSearchAttributes } = await restarted.describe();
    expect(typedSearchAttributes.get(SubscriptionStatus)).toBe('active');
    expect(typedSearchAttributes.get(AmazonChargePermissionId)).toBe(chargePermissionId);
    expect(typedSearchAttributes.get(NextBillingAt)?.toISOString()).toBe(status.nextBillingAt);
    const history = await restarted.fetchHistory();
    // Ours, that is: the SDK upserts TemporalChangeVersion with the run's first patched() call.
    const ours = history.events!.flatMap((e) =>
      Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}),
    );
    expect(ours.filter((key) => key !== 'TemporalChangeVersion')).toEqual([]);
    // Visibility finds it by its status, as an operator's query would.
    await until(async () => {
      for await (const w of stack.temporal.workflow.list({
        query: `WorkflowId = '${subscription.workflowId}' AND SubscriptionStatus = 'active' AND ExecutionStatus = 'Running'`,
      }))
        return w;
      return undefined;
    }, 'the running subscription in visibility');
    await restarted.terminate('done');
  });
});
