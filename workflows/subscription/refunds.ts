import { condition, log } from '@temporalio/workflow';
import type { AmazonPayNotification } from '../notification-messages';
import { Deadlines } from '../payments/deadlines';
import { fromMinor, toMinor } from '../payments/money';
import { registerNotifications } from '../payments/notifications';
import { asUpdateFailure, fail, reads, reasonOf, writes } from '../payments/proxies';
import { settlesTheCall } from '../payments/reason-codes';
import { REFUND_EVENTS, refundAdvances, refundOpen } from '../payments/refunds';
import type { CreateRefundInput, RefundView } from '../payments/views';
import type { Price } from '../checkout-messages';
import type { CycleRefund, CycleSummary, RefundCycleInput } from '../subscription-messages';
import type { SubscriptionOwner } from './owner';

/**
 * Refunds of a cycle's charge, fully or partly, tracked to their final state. Amazon answers
 * Create Refund with RefundInitiated; the refund becomes Refunded or Declined later, which the
 * REFUND IPN tells (the inbox forwards REFUND IPNs once the first refund registers them), with a
 * poll (Get Refund) on a capped backoff as the fallback. Open refunds live in the compact state,
 * so a refund pending across continue-as-new is tracked on by the next run.
 *
 * The tracker is a coroutine of its own beside the billing loop: a refund never wakes the loop,
 * and the loop's waits (weeks to the next cycle) stay one timer each. Both take the owner's lock
 * for their Amazon calls, so a cycle being charged and a refund being read never interleave.
 */

/** A refund as the state keeps it: the API's view plus what its tracking needs. */
export interface TrackedRefund extends CycleRefund {
  /** The caller's Idempotency-Key: a retry with it gets this refund, in any later run too. */
  requestId: string;
  /** Polls (or resends, while Requested) since the refund last changed; the backoff grows with it. */
  checks: number;
  /** When the tracker next reads it (or sends it again); null once final. */
  nextCheckAt: string | null;
}

export interface RefundsState {
  /** The refunds of the cycles kept, and every open one, oldest first. */
  list: TrackedRefund[];
  /** REFUND IPNs waiting for the tracker, in arrival order (carried over continue-as-new). */
  inbox: AmazonPayNotification[];
  /** The inbox forwards REFUND IPNs too: registered at the first refund, then kept. */
  registered: boolean;
}

const MINUTE = 60_000;
/** Fallback to the IPN: Get Refund 10 min after it was created, then 20, 40 ... at most every 6 h. */
const POLL = { firstMs: 10 * MINUTE, maxMs: 6 * 60 * MINUTE };
/** A Create Refund with no answer is sent again (same key) after 1 min, 2, 4 ... at most every hour. */
const RESEND = { firstMs: MINUTE, maxMs: 60 * MINUTE };

const nowIso = () => new Date().toISOString();
const after = (b: { firstMs: number; maxMs: number }, n: number) =>
  new Date(Date.now() + Math.min(b.firstMs * 2 ** Math.min(n, 20), b.maxMs)).toISOString();

/** Read-only (queries and validators must not write the state). */
const listOf = (o: SubscriptionOwner): TrackedRefund[] => o.s.refunds?.list ?? [];
const stateOf = (o: SubscriptionOwner): RefundsState => (o.s.refunds ??= { list: [], inbox: [], registered: false });

export const hasOpenRefunds = (o: SubscriptionOwner): boolean => listOf(o).some((r) => refundOpen(r.state));

const viewOf = (r: TrackedRefund): CycleRefund => ({
  cycle: r.cycle,
  refundId: r.refundId,
  chargeId: r.chargeId,
  amount: r.amount,
  state: r.state,
  reasonCode: r.reasonCode,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

/** The status's cycles, each with its refunds and what they gave back. */
export function cyclesWithRefunds(o: SubscriptionOwner): CycleSummary[] {
  const list = listOf(o);
  return o.s.cycles.map((c) => {
    const refunds = list.filter((r) => r.cycle === c.n);
    const refunded = refunds.filter((r) => r.state === 'Refunded').reduce((sum, r) => sum + toMinor(r.amount), 0);
    return { ...c, refunds: refunds.map(viewOf), refundedAmount: fromMinor(refunded, c.amount.currencyCode) };
  });
}

function requireKey(req: { requestId?: unknown }): void {
  if (typeof req.requestId !== 'string' || req.requestId === '')
    throw fail('idempotency_key_required', 'requestId (the Idempotency-Key) is required to refund');
}

/** The refund this key already made; the same key for another cycle or amount is refused. */
function earlierRefund(o: SubscriptionOwner, req: RefundCycleInput): TrackedRefund | undefined {
  const earlier = listOf(o).find((r) => r.requestId === req.requestId);
  if (!earlier) return undefined;
  const same =
    earlier.cycle === req.cycle &&
    earlier.amount.currencyCode === req.amount.currencyCode &&
    minorOf(earlier.amount) === minorOf(req.amount);
  if (!same)
    throw fail(
      'idempotency_key_reused',
      `This Idempotency-Key already refunded ${earlier.amount.amount} ${earlier.amount.currencyCode} of cycle ${earlier.cycle}`,
    );
  return earlier;
}

function minorOf(amount: Price): number {
  try {
    return toMinor(amount);
  } catch {
    throw fail('InvalidParameterValue', `Invalid amount ${amount.amount} ${amount.currencyCode}`);
  }
}

/** The cycle to refund, if `amount` fits in what its charge has left (the checkout's reason codes). */
function refundableCycle(o: SubscriptionOwner, n: number, amount: Price): CycleSummary & { chargeId: string } {
  const cycle = o.s.cycles.find((c) => c.n === n);
  if (!cycle) throw fail('CycleNotFound', `Cycle ${n} is not among this subscription's recent cycles`);
  if (cycle.state !== 'Paid' || !cycle.chargeId)
    throw fail('InvalidChargeStatus', `Nothing to refund: cycle ${n} is ${cycle.state}`);
  if (amount.currencyCode !== cycle.amount.currencyCode)
    throw fail('CurrencyMismatch', `Refund currency differs from the cycle's charge (${cycle.amount.currencyCode})`);
  // An unanswered Create Refund may have happened: its amount stays held back, as a pending one's.
  const held = listOf(o)
    .filter((r) => r.cycle === n && r.state !== 'Declined')
    .reduce((sum, r) => sum + toMinor(r.amount), 0);
  const left = toMinor(cycle.amount) - held;
  const wanted = minorOf(amount);
  if (wanted <= 0 || wanted > left) {
    const rest = fromMinor(Math.max(0, left), cycle.amount.currencyCode);
    throw fail(
      'TransactionAmountExceeded',
      `Refund exceeds what is left of cycle ${n}'s charge (at most ${rest.amount} ${rest.currencyCode})`,
    );
  }
  return { ...cycle, chargeId: cycle.chargeId };
}

/** The update's validator: refuses before anything is written; a repeated key passes (it gets its refund). */
export function validateCycleRefund(o: SubscriptionOwner, req: RefundCycleInput): void {
  requireKey(req);
  if (earlierRefund(o, req)) return;
  if (o.final) throw fail('SubscriptionEnded', `The subscription is ${o.s.status}`);
  refundableCycle(o, req.cycle, req.amount);
}

/** The update's handler, under the owner's lock. */
export async function refundCycle(o: SubscriptionOwner, req: RefundCycleInput): Promise<CycleRefund> {
  // The validator ran before the lock: the same key may have refunded meanwhile, or a refund
  // before this one taken what was left.
  const earlier = earlierRefund(o, req);
  if (earlier) {
    if (earlier.state === 'Requested') await send(o, earlier, true);
    return viewOf(earlier);
  }
  if (o.final) throw fail('SubscriptionEnded', `The subscription is ${o.s.status}`);
  const cycle = refundableCycle(o, req.cycle, req.amount);
  const r = stateOf(o);
  if (!r.registered) {
    // Before Create Refund, so its IPNs are not skipped by the inbox. Kept afterwards: a REFUND
    // IPN only exists for a refund, so it costs nothing while none is open (narrowing it again
    // would be an activity per refund). At sign-up the subscription registers CHARGE_PERMISSION
    // only, unchanged, so no recorded history meets this.
    r.registered = await registerNotifications(o.chargePermissionId, o.id, ['CHARGE_PERMISSION', 'REFUND']);
    if (r.registered) o.s.notificationOwnerRegistered = true;
  }
  const now = nowIso();
  const refund: TrackedRefund = {
    cycle: req.cycle,
    refundId: null,
    chargeId: cycle.chargeId,
    amount: req.amount,
    state: 'Requested',
    reasonCode: null,
    createdAt: now,
    updatedAt: now,
    requestId: req.requestId,
    checks: 0,
    nextCheckAt: null,
  };
  r.list.push(refund);
  await send(o, refund, true);
  return viewOf(refund);
}

function createRefundInput(o: SubscriptionOwner, r: TrackedRefund): CreateRefundInput {
  return {
    chargeId: r.chargeId,
    refundAmount: r.amount,
    // From the business operation: every send of this refund (a retry, a resend after a lost
    // answer, a worker killed mid-request, a later run) carries the same Amazon key.
    operationId: `subscription/${o.input.chargePermissionId}/cycle/${r.cycle}/refund/${r.requestId}`,
  };
}

/**
 * Create Refund for a Requested refund. Refused (Amazon looked at it, or it was never sent): no
 * refund exists under the key, so it is forgotten. No answer: it stays Requested, holds its
 * amount back, and is sent again later under the same key. For a request the failure is its answer.
 */
async function send(o: SubscriptionOwner, r: TrackedRefund, forRequest: boolean): Promise<void> {
  try {
    apply(o, r, await writes.createRefund(createRefundInput(o, r)));
  } catch (err) {
    const code = reasonOf(err);
    if (settlesTheCall(code)) {
      const list = stateOf(o).list;
      list.splice(list.indexOf(r), 1);
      log.info('a cycle refund was refused by Amazon Pay', { cycle: r.cycle, reasonCode: code });
    } else {
      r.nextCheckAt = after(RESEND, r.checks++);
      log.warn('Create Refund got no answer; it is sent again under the same key', { cycle: r.cycle });
    }
    if (forRequest) throw asUpdateFailure(err);
  }
}

/** Forward-only, and each state reached is told once (a refund first seen final says only how it ended). */
function apply(o: SubscriptionOwner, r: TrackedRefund, view: RefundView): void {
  r.refundId ??= view.refundId;
  if (!refundAdvances(r.state, view.state)) return;
  r.state = view.state;
  r.reasonCode = view.reasonCode;
  r.updatedAt = nowIso();
  r.checks = 0;
  r.nextCheckAt = refundOpen(view.state) ? after(POLL, 0) : null;
  o.event(REFUND_EVENTS[view.state], {
    cycle: r.cycle,
    chargeId: r.chargeId,
    refundId: r.refundId,
    state: r.state,
    amount: r.amount,
    reasonCode: r.reasonCode,
  });
  if (!refundOpen(r.state)) {
    log.info('cycle refund final', { cycle: r.cycle, refundId: r.refundId, state: r.state });
    // What the status shows: the kept cycles' refunds; open ones are never dropped.
    const kept = new Set(o.s.cycles.map((c) => c.n));
    const s = stateOf(o);
    s.list = s.list.filter((x) => refundOpen(x.state) || kept.has(x.cycle));
  }
}

/** The signal handler's part: a REFUND IPN the owner accepted (deduplicated) goes to the tracker too. */
export function receiveRefundNotification(o: SubscriptionOwner, n: AmazonPayNotification): void {
  stateOf(o).inbox.push(n);
}

/** IPNs carry no state: Get Refund for one of ours that is open; an unknown id may answer a Requested one. */
async function onNotification(o: SubscriptionOwner, n: AmazonPayNotification): Promise<void> {
  const list = stateOf(o).list;
  const ours = list.find((r) => r.refundId === n.objectId);
  if (ours) {
    if (refundOpen(ours.state)) apply(o, ours, await reads.getRefund(n.objectId));
    return;
  }
  const requested = list.filter((r) => r.state === 'Requested');
  if (requested.length === 0)
    log.info('REFUND notification for a refund this subscription did not make', { refundId: n.objectId });
  // Sent again now under its own key, Amazon answers which refund it created: matched by the key,
  // never guessed from the amount (two refunds of a cycle may be of the same amount). The answer
  // replayed is the first one (RefundInitiated); the IPN may have been its final state: read it.
  for (const r of requested) {
    await send(o, r, false);
    if (r.refundId !== n.objectId) continue;
    if (refundOpen(r.state)) apply(o, r, await reads.getRefund(n.objectId));
    return;
  }
}

/** Reads (or sends again) every open refund whose check is due. */
async function checkDue(o: SubscriptionOwner): Promise<void> {
  for (const r of stateOf(o).list.filter((x) => x.nextCheckAt && Date.parse(x.nextCheckAt) <= Date.now())) {
    if (r.state === 'Requested') {
      await send(o, r, false);
      continue;
    }
    const before = r.state;
    try {
      apply(o, r, await reads.getRefund(r.refundId!));
    } catch (err) {
      log.warn('Get Refund failed; read again later', { refundId: r.refundId, error: String(err) });
    }
    if (r.state === before) r.nextCheckAt = after(POLL, ++r.checks);
  }
}

const nextCheck = (o: SubscriptionOwner): number | null => {
  const due = listOf(o).flatMap((r) => (r.nextCheckAt && refundOpen(r.state) ? [Date.parse(r.nextCheckAt)] : []));
  return due.length ? Math.min(...due) : null;
};

/**
 * The tracker, started with every run. A run without refunds only waits on a condition (no
 * command), so recorded histories are unchanged; with open refunds it keeps one timer per check
 * (the shared Deadlines), however often IPNs or requests wake it.
 */
export async function trackRefunds(o: SubscriptionOwner): Promise<void> {
  const deadlines = new Deadlines();
  const inbox = () => o.s.refunds?.inbox ?? [];
  for (;;) {
    await condition(() => inbox().length > 0 || nextCheck(o) !== null);
    while (inbox().length > 0) {
      const n = inbox()[0]!;
      try {
        await o.lock.runExclusive(() => onNotification(o, n));
      } catch (err) {
        // Only a hint: the poll reads the refund later anyway.
        log.warn('could not read the refund of a notification', { refundId: n.objectId, error: String(err) });
      }
      inbox().shift();
    }
    const at = nextCheck(o);
    if (at === null) continue;
    if (await deadlines.until(() => inbox().length > 0 || nextCheck(o) !== at, at)) continue;
    await o.lock.runExclusive(() => checkDue(o));
  }
}
