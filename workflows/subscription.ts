/**
 * One workflow per recurring charge permission (`subscription-<chargePermissionId>`), started once
 * by the recurring checkout that created the permission. Amazon Pay does no billing: this workflow
 * charges each cycle at anchor + n periods in the subscription's zone, follows Amazon's decline
 * rules (dunning for soft declines; past due until the buyer fixes a hard one, learned from the
 * CHARGE_PERMISSION IPN), and ends when the merchant cancels or the permission closes at Amazon.
 *
 * subscription/owner.ts holds the state, subscription/billing.ts the loop, subscription/calendar.ts
 * the billing dates. It continues as new after each billed cycle, so ten years stay small runs, and
 * sleeps between cycles on a durable timer (the worker does not keep it in memory meanwhile).
 */
import { allHandlersFinished, condition, continueAsNew, patched, setHandler } from '@temporalio/workflow';
import { eventsQuery } from './events/messages';
import { amazonPayNotificationSignal } from './notification-messages';
import { releaseNotifications } from './payments/notifications';
import { fail } from './payments/proxies';
import {
  cancelSubscriptionUpdate,
  changeSubscriptionPlanUpdate,
  offerRecheckoutUpdate,
  pauseSubscriptionUpdate,
  refundCycleUpdate,
  replaceChargePermissionUpdate,
  resumeSubscriptionUpdate,
  subscriptionStatusQuery,
  type SubscriptionStatus,
} from './subscription-messages';
import { runSubscription } from './subscription/billing';
import { SubscriptionOwner } from './subscription/owner';
import { changePlan, validatePlanChange } from './subscription/plan';
import {
  hasOpenRefunds,
  receiveRefundNotification,
  refundCycle,
  trackRefunds,
  validateCycleRefund,
} from './subscription/refunds';
import {
  recheckoutTerms,
  replaceChargePermission,
  validateRecheckout,
  validateReplacement,
} from './subscription/recheckout';
import { RELEASES_INBOX, type SubscriptionWorkflowInput } from './subscription/state';

export type { SubscriptionWorkflowInput } from './subscription/state';

export async function subscriptionWorkflow(input: SubscriptionWorkflowInput): Promise<SubscriptionStatus> {
  const o = new SubscriptionOwner(input);
  const s = o.s;
  const ended = () => {
    if (o.final || s.cancelNow)
      throw fail('SubscriptionEnded', `The subscription is ${s.cancelNow ? 'canceling' : s.status}`);
  };

  setHandler(subscriptionStatusQuery, () => o.status());
  setHandler(eventsQuery, () => o.outbox.list());
  setHandler(amazonPayNotificationSignal, (n) => {
    const queued = s.inbox.length;
    o.receive(n);
    // A REFUND IPN still reaches the billing loop's inbox as before (which ignores it), and, once
    // accepted there (deduplicated), the refund tracker too.
    if (n.objectType === 'REFUND' && s.inbox.length > queued) receiveRefundNotification(o, n);
  });
  // Validators refuse before anything is written (a rejected update leaves no history); the
  // handlers take the lock, so a cycle being charged right now finishes first.
  setHandler(
    cancelSubscriptionUpdate,
    (req) =>
      o.lock.runExclusive(() => {
        if (req.atPeriodEnd) {
          s.cancelAtPeriodEnd = true;
          s.retryAt = null;
          o.setStatus(s.status);
          o.event('subscription.cancel_scheduled', {
            detail: req.reason ?? null,
            expiresAt: o.periodEnd(),
            nextBillingAt: null,
          });
        } else {
          s.cancelNow = { reason: req.reason ?? 'Canceled by the merchant' };
          o.publish();
        }
        o.version++;
        return Promise.resolve(o.status());
      }),
    {
      validator: (req) => {
        ended();
        if (req.atPeriodEnd && s.cancelAtPeriodEnd)
          throw fail('SubscriptionCancelScheduled', 'The subscription already cancels at the end of the paid period');
      },
    },
  );
  setHandler(
    pauseSubscriptionUpdate,
    () =>
      o.lock.runExclusive(() => {
        s.pausedAt = new Date().toISOString();
        s.retryAt = null;
        o.setStatus('paused');
        o.event('subscription.paused', { nextBillingAt: null });
        o.version++;
        return Promise.resolve(o.status());
      }),
    {
      validator: () => {
        ended();
        if (s.pausedAt) throw fail('SubscriptionPaused', 'The subscription is already paused');
        if (s.cancelAtPeriodEnd)
          throw fail('SubscriptionCancelScheduled', 'The subscription cancels at the end of the paid period');
      },
    },
  );
  setHandler(
    resumeSubscriptionUpdate,
    () =>
      o.lock.runExclusive(() => {
        // From the anchor: cycles that fell in the pause are skipped, never charged later.
        s.nextCycle = Math.max(s.nextCycle, o.cycleAfter(new Date().toISOString()));
        s.pausedAt = null;
        s.attempts = 0;
        s.awaitingBuyer = false;
        s.pastDueSince = null;
        o.setStatus('active', null);
        o.event('subscription.resumed');
        o.version++;
        return Promise.resolve(o.status());
      }),
    {
      validator: () => {
        ended();
        if (!s.pausedAt) throw fail('SubscriptionNotPaused', 'The subscription is not paused');
      },
    },
  );
  setHandler(changeSubscriptionPlanUpdate, (req) => o.lock.runExclusive(() => changePlan(o, req)), {
    validator: (req) => {
      ended();
      validatePlanChange(o, req);
    },
  });

  // A new update handler needs no patch: no recorded history calls it. The validator refuses
  // before anything is written; the handler takes the lock like the others.
  setHandler(refundCycleUpdate, (req) => o.lock.runExclusive(() => refundCycle(o, req)), {
    validator: (req) => validateCycleRefund(o, req),
  });
  // New handlers, no patch: registering a handler adds no command, and no recorded history holds
  // an accepted offerRecheckout or replaceChargePermission (the server refused them as unknown).
  setHandler(offerRecheckoutUpdate, (req) => Promise.resolve(recheckoutTerms(o, req)), {
    validator: (req) => {
      ended();
      validateRecheckout(o, req);
    },
  });
  setHandler(
    replaceChargePermissionUpdate,
    (req) => o.lock.runExclusive(() => Promise.resolve(replaceChargePermission(o, req))),
    { validator: (req) => validateReplacement(o, req) },
  );

  o.publish();
  // Waits on a condition only (no command) until a refund exists: recorded histories are unchanged.
  void trackRefunds(o);
  const outcome = await runSubscription(o);
  if (outcome === 'continueAsNew') {
    // Every handler finished first, so no update is lost across the hand-over; a delivery on the
    // wire finishes first (bounded by its activity timeouts), so an event is not sent twice for
    // nothing. No timer here: a timer cancelled in the continue-as-new task upsets the Java
    // time-skipping test server.
    await condition(() => allHandlersFinished() && !o.lock.isLocked() && o.outbox.idle());
    await continueAsNew<typeof subscriptionWorkflow>({ ...input, resume: s });
  }
  // A refund still pending is tracked to its final state first (checked, so that histories
  // without one await nothing more here).
  if (hasOpenRefunds(o)) await condition(() => !hasOpenRefunds(o));
  // Told, the inbox records later IPNs as late and ends after its linger, rather than staying open.
  if (s.notificationOwnerRegistered && patched(RELEASES_INBOX)) await releaseNotifications(o.chargePermissionId, o.id); // the sign-up's, or a re-checkout's
  await o.outbox.drain();
  await condition(allHandlersFinished);
  return o.status();
}
