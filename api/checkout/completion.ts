import { WorkflowNotFoundError } from '@temporalio/common';
import { completeUpdate, statusQuery, type CompletionOutcome } from '../../workflows/checkout-messages';
import { checkoutHandle, withTemporal, type CheckoutRouteDeps } from './deps';

/**
 * Sends `complete` to an existing checkout workflow; never starts one. The workflow memoizes the
 * outcome, so repeated and concurrent calls get the same answer. Once the workflow has ended
 * (closed), updates are refused, so the answer is the memoized outcome its final status carries.
 */
export async function completeCheckout(deps: CheckoutRouteDeps, checkoutSessionId: string): Promise<CompletionOutcome> {
  const handle = checkoutHandle(deps, checkoutSessionId);
  return withTemporal(deps, checkoutSessionId, async () => {
    try {
      return await handle.executeUpdate(completeUpdate);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      // Unknown session: the query fails with WorkflowNotFoundError too, which becomes a 404.
      const { completion } = await handle.query(statusQuery);
      if (!completion) throw err;
      return completion;
    }
  });
}
