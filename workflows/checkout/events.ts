import type { MerchantEventData, MerchantEventType } from '../events/messages';
import { REFUND_EVENTS } from '../payments/refunds';
import type { CheckoutState } from './state';

/**
 * Which merchant events a checkout's change makes: the last observed checkout against the current
 * one, compared each time the owner publishes. Deriving events from the state, not at each call
 * site, means every path to a transition (an update, an IPN, a poll, a timer) emits the same event
 * once, and the snapshot carried by continueAsNew keeps the next run from emitting it again.
 */
export interface ObservedCheckout {
  completed: boolean;
  status: string;
  chargeId: string | null;
  chargeState: string | null;
  refunds: Record<string, string>;
  expiring: boolean;
  givenUp: number;
  /** CheckoutOwner.needsOperator's reason while a step cannot succeed on its own. */
  attention?: string | null;
  /** Operator resolutions of given-up calls recorded (resolution.ts); absent in older snapshots. */
  resolutions?: number;
}

export const observe = (s: CheckoutState, status: string): ObservedCheckout => ({
  completed: s.completion?.completed === true,
  status,
  // The charge is read while completing, before the completion is recorded: its event follows
  // checkout.completed, so it is observed only once the completion is.
  chargeId: s.completion ? (s.charge?.chargeId ?? null) : null,
  chargeState: s.completion ? (s.charge?.state ?? null) : null,
  refunds: Object.fromEntries(s.refunds.map((r) => [r.refundId, r.state])),
  expiring: s.expiryWarned && s.charge?.state === 'Authorized',
  givenUp: (s.givenUpCharge ? 1 : 0) + (s.givenUpRefundMinor ?? 0),
  attention: s.attention?.reason ?? null,
  resolutions: s.resolutions?.length ?? 0,
});

export const NOTHING_OBSERVED: ObservedCheckout = {
  completed: false,
  status: 'AwaitingBuyer',
  chargeId: null,
  chargeState: null,
  refunds: {},
  expiring: false,
  givenUp: 0,
};

const CHARGE_EVENTS: Record<string, MerchantEventType> = {
  AuthorizationInitiated: 'payment.authorization_pending',
  Authorized: 'payment.authorized',
  CaptureInitiated: 'payment.capture_pending',
  Captured: 'payment.captured',
  Canceled: 'payment.canceled',
  Declined: 'payment.declined',
};
const ENDED_UNCOMPLETED: Record<string, MerchantEventType> = {
  Declined: 'checkout.declined',
  Expired: 'checkout.expired',
  BuyerCanceled: 'checkout.canceled',
  Canceled: 'checkout.canceled',
};

export interface CheckoutEvent {
  type: MerchantEventType;
  data: Partial<MerchantEventData>;
}

/** In the order a receiver should see them: completion, charge, refunds, warnings, the end. */
export function checkoutEvents(prev: ObservedCheckout, next: ObservedCheckout, s: CheckoutState): CheckoutEvent[] {
  const out: CheckoutEvent[] = [];
  const charge = s.charge;
  if (next.completed && !prev.completed) out.push({ type: 'checkout.completed', data: {} });
  if (!next.completed && next.status !== prev.status && ENDED_UNCOMPLETED[next.status]) {
    out.push({
      type: ENDED_UNCOMPLETED[next.status]!,
      data: { reasonCode: s.completion?.completed === false ? (s.completion.reasonCode ?? null) : s.lastReasonCode },
    });
  }
  if (
    charge &&
    next.chargeState &&
    (next.chargeState !== prev.chargeState || next.chargeId !== prev.chargeId) &&
    CHARGE_EVENTS[charge.state]
  ) {
    out.push({
      type: CHARGE_EVENTS[charge.state]!,
      data: {
        state: charge.state,
        reasonCode: charge.reasonCode ?? null,
        expiresAt: charge.state === 'Authorized' ? charge.expiresAt : null,
      },
    });
  }
  for (const r of s.refunds) {
    const was = prev.refunds[r.refundId];
    if (was === r.state) continue;
    // A refund first seen already final says only how it ended.
    const type = REFUND_EVENTS[r.state];
    if (type)
      out.push({ type, data: { refundId: r.refundId, state: r.state, amount: r.amount, reasonCode: r.reasonCode } });
  }
  if (next.expiring && !prev.expiring && charge) {
    out.push({
      type: 'payment.authorization_expiring',
      data: {
        state: charge.state,
        expiresAt: charge.expiresAt,
        detail: 'The authorization expires unused at expiresAt: capture or cancel it',
      },
    });
  }
  if (next.givenUp > prev.givenUp) {
    out.push({
      type: 'operator.attention_required',
      data: {
        reasonCode: 'UnresolvedAmazonPayCall',
        detail: 'Amazon Pay never answered a call that may have moved money; check it in Seller Central',
      },
    });
  }
  if (next.attention && next.attention !== (prev.attention ?? null)) {
    out.push({
      type: 'operator.attention_required',
      data: { reasonCode: s.lastReasonCode, detail: `A step cannot succeed on its own: ${next.attention}` },
    });
  }
  const resolved = s.resolutions?.[(next.resolutions ?? 0) - 1];
  if ((next.resolutions ?? 0) > (prev.resolutions ?? 0) && resolved) {
    const object = resolved.operation === 'createCharge' ? 'charge' : 'refund';
    out.push({
      type: 'operator.call_resolved',
      data: {
        reasonCode: 'UnresolvedAmazonPayCall',
        ...(resolved.operation === 'createRefund' ? { refundId: resolved.objectId } : {}),
        detail:
          resolved.outcome === 'executed'
            ? `An operator found the ${object} ${resolved.objectId} in Seller Central: it is recorded as if the call had answered`
            : `An operator found that the ${object} was not executed at Amazon Pay: the request may be sent again with a new Idempotency-Key`,
      },
    });
  }
  if (next.status === 'Closed' && prev.status !== 'Closed')
    out.push({ type: 'order.closed', data: { reasonCode: s.lastReasonCode } });
  return out;
}

/** The fields every checkout event carries, filled from the state after the transition. */
export function checkoutEventData(
  s: CheckoutState,
  status: string,
  extra: Partial<MerchantEventData>,
): MerchantEventData {
  return {
    object: 'checkout',
    checkoutSessionId: s.checkoutSessionId,
    merchantReferenceId: s.merchantReferenceId ?? s.finalAmount?.merchantReferenceId ?? null,
    chargePermissionId: s.chargePermissionId,
    chargeId: s.charge?.chargeId ?? null,
    refundId: null,
    subscriptionId: null,
    status,
    state: null,
    amount: s.charge
      ? s.charge.state === 'Captured'
        ? (s.charge.capturedAmount ?? s.charge.chargeAmount)
        : s.charge.chargeAmount
      : (s.finalAmount?.chargeAmount ?? null),
    reasonCode: null,
    detail: null,
    expiresAt: null,
    ...extra,
  };
}
