/**
 * One workflow per Amazon Pay checkout session (`checkoutWorkflowId`). It owns every step, so double
 * clicks, refreshes, IPNs and operator actions are serialized messages to one owner:
 * review -> setFinalAmount (Update Checkout Session, then the redirect URL) -> complete (once,
 * memoized) -> authorization / capture / cancel / refunds -> close. Amazon's deadlines are timers
 * (24 h session, 24 h pending authorization, 30-day authorization, refund window), each confirmed
 * by a GET. IPNs are hints: the object is read back and only forward transitions are applied.
 *
 * checkout/owner.ts holds the state and its forward-only transitions, checkout/completion.ts the way
 * to completion, checkout/operations.ts the merchant's operations and checkout/order.ts the loop
 * that owns the order afterwards.
 */
import { allHandlersFinished, condition, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  cancelUpdate,
  captureUpdate,
  chargeUpdate,
  closeUpdate,
  completeUpdate,
  refundUpdate,
  resolveAmazonPayCallUpdate,
  reviewUpdate,
  setFinalAmountUpdate,
  statusQuery,
  type CheckoutStatus,
} from './checkout-messages';
import { eventsQuery } from './events/messages';
import { amazonPayNotificationSignal } from './notification-messages';
import { awaitCompletion, complete, review, setFinalAmount } from './checkout/completion';
import { toMinor } from './payments/money';
import {
  cancel,
  capture,
  charge,
  close,
  refund,
  validateCapture,
  validateCharge,
  validateRefund,
} from './checkout/operations';
import { ownOrder } from './checkout/order';
import { resolveAmazonPayCall, validateResolution } from './checkout/resolution';
import { releaseNotifications } from './payments/notifications';
import { CheckoutOwner } from './checkout/owner';
import { validateRecheckoutAmount } from './checkout/recheckout';
import { fail } from './payments/proxies';
import type { CheckoutWorkflowInput } from './checkout/state';

export type { CheckoutState, CheckoutWorkflowInput } from './checkout/state';

export async function checkoutWorkflow(input: CheckoutWorkflowInput): Promise<CheckoutStatus> {
  const o = new CheckoutOwner(input);
  const s = o.s;

  setHandler(statusQuery, () => o.status());
  setHandler(eventsQuery, () => o.outbox.list());
  setHandler(amazonPayNotificationSignal, (n) => o.receive(n));
  setHandler(reviewUpdate, () => review(o));
  // Validators reject with the same failure type the handler would, so callers get a specific
  // reason (InvalidChargeStatus, ...) and a rejected update leaves no trace in the history.
  setHandler(setFinalAmountUpdate, (amount) => o.exclusive(() => setFinalAmount(o, amount)), {
    validator: (amount) => {
      if (s.completion || o.completing || s.final)
        throw fail('InvalidCheckoutSessionStatus', 'The checkout was already completed or ended');
      validAmount(amount.chargeAmount);
      if (amount.totalOrderAmount) validAmount(amount.totalOrderAmount);
      validateRecheckoutAmount(o, amount);
    },
  });
  setHandler(completeUpdate, () => complete(o), {
    validator: () => {
      if (!s.completion && !o.completing && !s.finalAmount)
        throw fail('ChargeAmountNotSet', 'Set the final amount (setFinalAmount) before complete');
    },
  });
  setHandler(chargeUpdate, (req) => o.exclusive(() => charge(o, req)), {
    validator: (req) => {
      if (req.amount) validAmount(req.amount);
      validateCharge(o, req);
    },
  });
  setHandler(captureUpdate, (req) => o.exclusive(() => capture(o, req)), {
    validator: (req) => {
      if (req.amount) validAmount(req.amount);
      validateCapture(o, req);
    },
  });
  setHandler(cancelUpdate, (req) => o.exclusive(() => cancel(o, req)), {
    validator: (_req) => {
      const st = s.charge?.state;
      if (st !== 'Authorized' && st !== 'AuthorizationInitiated')
        throw fail('InvalidChargeStatus', `Nothing to cancel: the charge is ${st ?? 'missing'}`);
    },
  });
  setHandler(refundUpdate, (req) => o.exclusive(() => refund(o, req)), { validator: (req) => validateRefund(o, req) });
  setHandler(closeUpdate, (req) => close(o, req), {
    validator: (_req) => {
      if (!s.completion?.completed && !s.final)
        throw fail('NotCompleted', 'Nothing to close before the checkout is completed');
    },
  });

  // New handler, no patch: registering it adds no command, and a history recorded before it
  // holds no accepted resolveAmazonPayCall update (the server rejected it as unknown), so no
  // existing history reaches this code. The validator rejects unless a call is unresolved.
  setHandler(resolveAmazonPayCallUpdate, (req) => o.exclusive(() => resolveAmazonPayCall(o, req)), {
    validator: (req) => validateResolution(o, req),
  });

  o.publish();
  try {
    if (!s.completion) await awaitCompletion(o);
    // A recurring checkout's order belongs to its subscription from here on.
    if (s.completion?.completed && !s.subscriptionId) await ownOrder(o);
  } finally {
    // Not on continueAsNew: the next run keeps owning the notifications.
    if (s.final && s.notificationOwnerRegistered)
      await releaseNotifications(s.chargePermissionId!, workflowInfo().workflowId);
  }
  // The run ends only when every merchant event it recorded is delivered or has failed for good.
  await o.outbox.drain();
  await condition(allHandlersFinished);
  return o.status();
}

function validAmount(price: Parameters<typeof toMinor>[0]): void {
  try {
    toMinor(price);
  } catch (err) {
    throw fail('InvalidParameterValue', (err as Error).message);
  }
}
