import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { finalReasonOf, reads, writes } from './proxies';
import type { ChargePermissionView } from './views';

/**
 * Closing a charge permission that some other party may have closed first (the buyer at Amazon,
 * Amazon itself, an earlier attempt whose answer was lost). Used by both payment owners where a
 * permission is retired rather than a subscription ended: the subscription's replaced permission
 * after a re-checkout, and a re-checkout's new permission when its subscription ended meanwhile.
 */
export type CloseOutcome =
  /** Closed now, or found closed already: nothing can be charged on it any more. */
  | { closed: true; permission: ChargePermissionView | null }
  /**
   * Not closed. reasonCode null: no final answer (the retries ran out), try again later, it may be
   * closed already; else Amazon's final refusal (e.g. ResourceNotFound), which a retry would only repeat.
   */
  | { closed: false; reasonCode: string | null };

export async function closeChargePermissionOnce(
  chargePermissionId: string,
  closureReason: string,
): Promise<CloseOutcome> {
  try {
    // Close is idempotent at Amazon for an open permission; a repeat after a lost answer meets
    // InvalidChargePermissionStatus, which the read below turns into "closed".
    const permission = await writes.closeChargePermission({
      chargePermissionId,
      closureReason: closureReason.slice(0, 255),
      cancelPendingCharges: false,
    });
    return { closed: true, permission };
  } catch (err) {
    if (!(err instanceof ActivityFailure || err instanceof ApplicationFailure)) throw err;
    const code = finalReasonOf(err);
    if (code !== 'InvalidChargePermissionStatus') return { closed: false, reasonCode: code };
    const permission = await reads.getChargePermission(chargePermissionId);
    return permission.state === 'Closed' ? { closed: true, permission } : { closed: false, reasonCode: code };
  }
}
