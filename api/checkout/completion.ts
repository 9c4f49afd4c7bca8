import { WorkflowNotFoundError } from '@temporalio/common';
import { completeUpdate, statusQuery, type CheckoutStatus, type CompletionOutcome } from '../../workflows/checkout-messages';
import { checkoutHandle, withTemporal, type CheckoutRouteDeps } from './deps';

const UNSUCCESSFUL: ReadonlySet<string> = new Set(['Declined', 'BuyerCanceled', 'Expired', 'Canceled']);

/**
 * The completion outcome of a checkout whose workflow has ended, or null if it never completed.
 * Uses the workflow's memoized outcome (`completion`), so a refresh after the workflow ended gets
 * the very answer the first complete got; histories from before that field existed are rebuilt.
 */
export function outcomeFromStatus(status: CheckoutStatus): CompletionOutcome | null {
  if (status.completion) return status.completion;
  if (status.chargePermissionId) {
    return {
      completed: true,
      chargePermissionId: status.chargePermissionId,
      chargeId: status.charge?.chargeId ?? null,
      chargeState: status.charge?.state ?? null,
      status: status.status,
    };
  }
  if (UNSUCCESSFUL.has(status.status)) {
    return {
      completed: false,
      status: status.status as 'Declined' | 'BuyerCanceled' | 'Expired' | 'Canceled',
      reasonCode: status.lastReasonCode,
      message: `the checkout ended as ${status.status}`,
    };
  }
  return null;
}

/**
 * Sends `complete` to an existing checkout workflow; never starts one. The workflow memoizes the
 * outcome, so repeated and concurrent calls get the same answer. Once the workflow has ended
 * (closed), updates are refused, so the answer is rebuilt from its final status instead.
 */
export async function completeCheckout(deps: CheckoutRouteDeps, checkoutSessionId: string): Promise<CompletionOutcome> {
  const handle = checkoutHandle(deps, checkoutSessionId);
  return withTemporal(deps, checkoutSessionId, async () => {
    try {
      return await handle.executeUpdate(completeUpdate);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      // Unknown session: the query fails with WorkflowNotFoundError too, which becomes a 404.
      const outcome = outcomeFromStatus(await handle.query(statusQuery));
      if (!outcome) throw err;
      return outcome;
    }
  });
}
