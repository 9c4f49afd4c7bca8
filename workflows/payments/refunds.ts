import type { MerchantEventType } from '../events/messages';

/**
 * A refund's life at Amazon, shared by the payment owners (checkout, subscription): always
 * asynchronous, RefundInitiated, then Refunded or Declined once. `Requested` is ours: a Create
 * Refund sent but not answered yet (it is sent again under the same key, so Amazon creates it once).
 */
export type RefundState = 'Requested' | 'RefundInitiated' | 'Refunded' | 'Declined';

const RANK: Record<RefundState, number> = { Requested: 0, RefundInitiated: 1, Refunded: 2, Declined: 2 };

/** Forward-only: a late or repeated answer (IPN, poll, replayed Create Refund) never moves a refund back. */
export const refundAdvances = (current: RefundState, next: RefundState): boolean => RANK[next] > RANK[current];

/** A refund that has not reached its final state. */
export const refundOpen = (state: RefundState): boolean => RANK[state] < 2;

/** The merchant event each state a refund reaches is told with. */
export const REFUND_EVENTS: Record<Exclude<RefundState, 'Requested'>, MerchantEventType> = {
  RefundInitiated: 'refund.pending',
  Refunded: 'refund.succeeded',
  Declined: 'refund.failed',
};
