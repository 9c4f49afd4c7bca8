/**
 * After completion the workflow owns the order until it is final: it reacts to IPNs, merchant
 * requests and Amazon's deadlines, polls pending objects, and closes the charge permission.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  patched,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { ChargeSummary, CheckoutStatusName } from '../checkout-messages';
import type { checkoutWorkflow } from '../checkout';
import type { AmazonPayNotification } from '../notification-messages';
import {
  AUTH_EXPIRY_WARNING_MS,
  DAY,
  HISTORY_LIMIT,
  NOTIFICATION_ATTEMPTS,
  PENDING_AUTHORIZATION_LIMIT_MS,
  READ_ONLY_THE_UNKNOWN,
  REFUND_WINDOW_DAYS,
  nowIso,
  pollDelay,
} from './constants';
import { adoptCharge, adoptRefund, resolveUnanswered } from './unanswered';
import type { CheckoutOwner } from './owner';
import { samePrice } from '../payments/money';
import { registerNotifications } from '../payments/notifications';
import { reads, reasonOf, writes } from '../payments/proxies';

export async function ownOrder(o: CheckoutOwner): Promise<void> {
  const s = o.s;
  if (s.final) return;
  // Without it, polling is the fallback: losing IPNs only slows pending objects down.
  s.notificationOwnerRegistered = await registerNotifications(s.chargePermissionId!, workflowInfo().workflowId);
  const longHistory = () =>
    workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > (o.input.historyLimit ?? HISTORY_LIMIT);
  while (!s.final) {
    await o.guarded(() => step(o), { yieldWhen: longHistory });
    if (longHistory() && !s.final) {
      // Updates in flight would be lost by continueAsNew: let them finish (a close carries over in the state).
      await condition(() => allHandlersFinished() && !o.busy);
      // A merchant event on the wire finishes first (bounded by its activity timeouts), so it is
      // not sent twice for nothing; no timer, so histories without events schedule nothing here.
      if (!o.outbox.idle()) await condition(() => o.outbox.idle());
      await continueAsNew<typeof checkoutWorkflow>({ ...o.input, resume: s });
    }
  }
}

/** One turn of the post-completion loop: react to notifications, requests and deadlines. */
async function step(o: CheckoutOwner): Promise<void> {
  const s = o.s;
  await processInbox(o);
  if (s.final) return; // a notification ended the order (a permission closed at Amazon)
  const seen = o.version;
  const changed = () => o.version !== seen || s.inbox.length > 0;
  if (s.unansweredCharge || s.unansweredRefund) {
    // Resolved on our own, backing off, even if nobody asks again (unanswered.ts); at once when the
    // order is to close (at most UNANSWERED_RESENDS times, then it is given up).
    if (!s.closeRequested && (await condition(changed, pollDelay(s.unansweredResends ?? 0)))) return;
    await o.exclusive(() => resolveUnanswered(o));
    return;
  }
  const charge = s.charge;

  if (!charge) return awaitChargeOrClose(o, changed);
  const pendingRefund = s.refunds.find((r) => r.state === 'RefundInitiated');
  const pendingCharge = charge.state === 'AuthorizationInitiated' || charge.state === 'CaptureInitiated';

  if (s.closeRequested && !pendingRefund && charge.state !== 'CaptureInitiated') {
    await o.exclusive(() => closeOrder(o, s.closeRequested!.reason));
    return;
  }
  if (pendingCharge) {
    if (await condition(changed, pollDelay(s.pendingPolls))) return;
    s.pendingPolls++;
    await o.exclusive(async () => {
      await o.refreshCharge();
      const since = s.pendingSince ? Date.parse(s.pendingSince) : Date.now();
      if (s.charge?.state === 'AuthorizationInitiated' && Date.now() - since > PENDING_AUTHORIZATION_LIMIT_MS) {
        log.error('authorization still pending after 24 h: canceling it', { chargeId: charge.chargeId });
        o.applyCharge(
          await writes.cancelCharge({
            chargeId: charge.chargeId,
            cancellationReason: 'Authorization pending too long',
          }),
        );
      }
    });
    return;
  }
  if (pendingRefund) {
    if (await condition(changed, pollDelay(s.refundPolls))) return;
    s.refundPolls++;
    await o.exclusive(async () => {
      o.applyRefund(await reads.getRefund(pendingRefund.refundId));
    });
    return;
  }
  switch (charge.state) {
    case 'Authorized':
      return awaitCaptureOrExpiry(o, charge, changed);
    case 'Captured': {
      const windowEnds =
        Date.parse(s.capturedAt ?? s.updatedAt) + (o.input.refundWindowDays ?? REFUND_WINDOW_DAYS) * DAY;
      if (await o.deadlines.until(changed, windowEnds)) return;
      s.closeRequested ??= { reason: 'Refund window ended' };
      return;
    }
    default:
      // Declined or Canceled: nothing can happen any more; release the charge permission.
      await o.exclusive(() =>
        closeOrder(o, 'Payment ' + charge.state.toLowerCase(), charge.state as CheckoutStatusName),
      );
  }
}

/** Intent Confirm: wait for the merchant's charge or close, at most until the permission expires. */
async function awaitChargeOrClose(o: CheckoutOwner, changed: () => boolean): Promise<void> {
  const s = o.s;
  if (s.closeRequested) {
    await o.exclusive(async () => {
      if (!s.charge) await closeOrder(o, s.closeRequested!.reason);
    });
    return;
  }
  const expiresAt = Date.parse(s.chargePermissionExpiresAt ?? s.updatedAt);
  if (expiresAt > Date.now() && (await o.deadlines.until(changed, expiresAt))) return;
  // Amazon closes an unused permission when it expires; the GET confirms rather than assumes.
  await o.exclusive(async () => {
    if (s.charge || s.final || s.unansweredCharge) return; // a charge without an answer is resolved first
    const cp = await reads.getChargePermission(s.chargePermissionId!);
    if (cp.state === 'Closed') {
      o.setStatus('Closed', cp.reasonCodes[0] ?? 'Expired');
      s.final = true;
      o.publish();
    } else {
      s.chargePermissionExpiresAt = new Date(Date.now() + pollDelay(s.pendingPolls++)).toISOString();
    }
  });
}

async function awaitCaptureOrExpiry(o: CheckoutOwner, charge: ChargeSummary, changed: () => boolean): Promise<void> {
  const s = o.s;
  // A charge carried over from before expiries were fixed on first sight may lack one.
  const expiresAt = charge.expiresAt ? Date.parse(charge.expiresAt) : Date.parse(s.updatedAt) + 30 * DAY;
  if (!s.expiryWarned) {
    const warnAt = expiresAt - AUTH_EXPIRY_WARNING_MS;
    if (warnAt > Date.now() && (await o.deadlines.until(changed, warnAt))) return;
    s.expiryWarned = true;
    log.warn('authorization expires soon and is not captured', {
      chargeId: charge.chargeId,
      expiresAt: charge.expiresAt,
    });
    upsertMemo({
      authorizationExpiryWarning: { chargeId: charge.chargeId, expiresAt: charge.expiresAt, warnedAt: nowIso() },
    });
    o.publish();
    return;
  }
  const left = expiresAt - Date.now();
  if (left > 0 ? await o.deadlines.until(changed, expiresAt) : await condition(changed, pollDelay(s.pendingPolls++)))
    return;
  // Amazon cancels it (Canceled/ExpiredUnused); the GET confirms rather than assumes.
  await o.exclusive(() => o.refreshCharge());
}

/** Closes the charge permission and ends the order, unless something is still on its way. */
async function closeOrder(o: CheckoutOwner, reason: string, finalStatus: CheckoutStatusName = 'Closed'): Promise<void> {
  const s = o.s;
  // Only when there is something to resolve: an extra await would reorder recorded commands.
  if ((s.unansweredCharge || s.unansweredRefund) && !(await resolveUnanswered(o))) return;
  // Checked here, inside the section: a refund or capture that held it (or was just resolved) may
  // be pending; the loop comes back once it has settled.
  if (s.refunds.some((r) => r.state === 'RefundInitiated') || s.charge?.state === 'CaptureInitiated') return;
  const cpId = s.chargePermissionId!;
  const live = s.charge && (s.charge.state === 'Authorized' || s.charge.state === 'AuthorizationInitiated');
  if (closedByAmazon(o) && patched(READ_ONLY_THE_UNKNOWN)) {
    log.info('Amazon closed the OneTime charge permission itself (order total captured)', { chargePermissionId: cpId });
  } else if (!(await closeChargePermission(o, cpId, reason, !!live))) {
    // One Amazon no longer knows (ResourceNotFound) cannot be closed either: retrying would never end.
    log.warn('charge permission unknown to Amazon Pay; closing the order without it', { chargePermissionId: cpId });
    if (finalStatus === 'Closed') o.setStatus('Closed');
    s.final = true;
    o.publish();
    return;
  }
  if (live) await o.refreshCharge();
  if (finalStatus === 'Closed') o.setStatus('Closed');
  s.final = true;
  o.publish();
}

/** Amazon closes a OneTime charge permission by itself once the order total has been captured. */
function closedByAmazon(o: CheckoutOwner): boolean {
  const { charge, finalAmount, chargePermissionType } = o.s;
  const total = finalAmount?.totalOrderAmount ?? finalAmount?.chargeAmount;
  return (
    chargePermissionType === 'OneTime' &&
    charge?.state === 'Captured' &&
    !!charge.capturedAmount &&
    !!total &&
    samePrice(charge.capturedAmount, total)
  );
}

/** Close Charge Permission; false when Amazon does not know the permission. */
async function closeChargePermission(o: CheckoutOwner, cpId: string, reason: string, live: boolean): Promise<boolean> {
  try {
    await writes.closeChargePermission({
      chargePermissionId: cpId,
      closureReason: reason.slice(0, 255),
      cancelPendingCharges: live,
    });
  } catch (err) {
    const code = reasonOf(err);
    if (code === 'ResourceNotFound') return false;
    // Already closed (Amazon closes a OneTime permission once the order is captured): GET confirms.
    if (code !== 'InvalidChargePermissionStatus') throw err;
    const cp = await reads.getChargePermission(cpId);
    if (cp.state !== 'Closed' && !live)
      log.warn('charge permission could not be closed', { chargePermissionId: cpId, state: cp.state });
  }
  return true;
}

async function processInbox(o: CheckoutOwner): Promise<void> {
  const s = o.s;
  while (s.inbox.length > 0) {
    const n = s.inbox[0]!;
    try {
      // Under the lock: an update at Amazon right now (a refund whose answer is on its way) must
      // not see its object read and adopted from the IPN behind its back.
      await o.exclusive(() => applyNotification(o, n));
    } catch (err) {
      // One notification whose object cannot be read must not hold up the others for ever: after
      // a few tries it is dropped (it is only a hint; the pending-object poll still reads the truth).
      s.inboxHeadFailures = (s.inboxHeadFailures ?? 0) + 1;
      if (s.inboxHeadFailures < NOTIFICATION_ATTEMPTS) throw err;
      log.error('dropping a notification whose object could not be read', {
        objectType: n.objectType,
        objectId: n.objectId,
        error: String(err),
      });
    }
    s.inboxHeadFailures = 0;
    s.inbox.shift();
  }
}

async function applyNotification(o: CheckoutOwner, n: AmazonPayNotification): Promise<void> {
  const s = o.s;
  // IPNs carry no state: GET the object, apply only forward transitions.
  const ours = n.chargePermissionId === s.chargePermissionId;
  if (n.objectType === 'CHARGE' && s.charge?.chargeId === n.objectId) {
    if (chargeStateKnown(o) && patched(READ_ONLY_THE_UNKNOWN)) {
      s.chargeCreationNoticed = true;
      log.info('notification about a charge whose state is known; not read', {
        chargeId: n.objectId,
        state: s.charge.state,
      });
    } else {
      await o.refreshCharge();
    }
  } else if (n.objectType === 'CHARGE' && ours && !s.charge) {
    // Intent Confirm: a charge on our permission before we recorded one (its Create Charge got no
    // answer, or was given up): this is the order's charge.
    log.warn('adopting the charge learned from its notification', { chargeId: n.objectId });
    adoptCharge(o, await reads.getCharge(n.objectId));
  } else if (n.objectType === 'REFUND' && s.refunds.some((r) => r.refundId === n.objectId)) {
    o.applyRefund(await reads.getRefund(n.objectId));
  } else if (n.objectType === 'REFUND' && ours && s.charge) {
    const view = await reads.getRefund(n.objectId);
    if (view.chargeId === s.charge.chargeId) {
      // A refund of our charge we never heard back about (its Create Refund got no answer).
      log.warn('adopting the refund learned from its notification', { refundId: view.refundId });
      adoptRefund(o, view);
    }
  } else if (n.objectType === 'CHARGE_PERMISSION' && n.objectId === s.chargePermissionId) {
    // Only an order without a charge ends by its permission closing; for the others it changes nothing.
    if ((s.charge || s.unansweredCharge || s.final) && patched(READ_ONLY_THE_UNKNOWN)) return;
    const cp = await reads.getChargePermission(n.objectId);
    log.info('charge permission notification', {
      chargePermissionId: cp.chargePermissionId,
      state: cp.state,
      reasons: cp.reasonCodes,
    });
    if (cp.state === 'Closed' && !s.charge && !s.unansweredCharge && !s.final) {
      // Intent Confirm, closed at Amazon (by the buyer, or expired) before anything was charged.
      o.setStatus('Closed', cp.reasonCodes[0] ?? 'Closed');
      s.final = true;
      o.publish();
    }
  } else if (n.objectType === 'CHARGEBACK') {
    log.warn('chargeback filed', { chargePermissionId: n.chargePermissionId, objectId: n.objectId });
    s.lastReasonCode = 'Chargeback';
    upsertMemo({ chargeback: { objectId: n.objectId, receivedAt: n.receivedAt } });
    o.publish();
  } else {
    log.info('notification for an object this checkout does not track', {
      objectType: n.objectType,
      objectId: n.objectId,
    });
  }
}

/**
 * Whether a notification about our charge can tell nothing new: the charge is final (Captured,
 * Canceled, Declined), or this is the first notification of a charge we read (or were answered)
 * after Amazon created it, which is its creation notice. A pending charge is always read.
 */
function chargeStateKnown(o: CheckoutOwner): boolean {
  const s = o.s;
  const state = s.charge!.state;
  if (state === 'Captured' || state === 'Canceled' || state === 'Declined') return true;
  return !state.endsWith('Initiated') && !s.chargeCreationNoticed;
}
