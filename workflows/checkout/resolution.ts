/**
 * An operator's resolution of an Amazon Pay call the checkout gave up on (unanswered.ts): after
 * looking the order up in Seller Central, the operator says whether the call was executed there
 * (and which charge or refund it made) or not. Executed: the object is read from Amazon Pay and
 * recorded as if the call had answered. Not executed: the order forgets the call, so the
 * storefront may send the request again. docs/runbook.md has the steps.
 */
import { log, upsertMemo, workflowInfo } from '@temporalio/workflow';
import type { CheckoutStatus, ResolveAmazonPayCallInput } from '../checkout-messages';
import { nowIso } from './constants';
import { samePrice, toMinor } from '../payments/money';
import type { CheckoutOwner } from './owner';
import { asUpdateFailure, bestEffort, fail, reasonOf } from '../payments/proxies';
import type { AmazonPayCallResolution, UnresolvedCall } from './state';
import { chargeCreated } from './unanswered';
import type { ChargeView, RefundView } from '../payments/views';

const OPERATIONS = ['createCharge', 'createRefund'] as const;
const OUTCOMES = ['executed', 'not_executed'] as const;
const AMAZON_ID = /^[A-Za-z0-9-]{1,100}$/;
const NOTE_MAX = 500;

/**
 * The calls waiting for an operator. A call given up in an earlier run before the state kept them
 * (continued as new under older code) is known only from the memo, which keeps the last one.
 */
export function unresolvedCalls(o: CheckoutOwner): UnresolvedCall[] {
  const s = o.s;
  if (s.unresolvedCalls) return s.unresolvedCalls;
  if (!s.givenUpCharge && !s.givenUpRefundMinor) return [];
  const memo = workflowInfo().memo?.unresolvedAmazonPayCall as Partial<UnresolvedCall> | undefined;
  if (!memo?.input || !memo.requestId || !OPERATIONS.includes(memo.operation!)) return [];
  return [{ error: '', gaveUpAt: nowIso(), ...memo, searchable: false } as UnresolvedCall];
}

/**
 * The update's validator: a rejected resolution leaves no trace in the history. Checks the input's
 * shape (it may come from the CLI as hand-written JSON) and that the call it names is unresolved.
 */
export function validateResolution(o: CheckoutOwner, req: ResolveAmazonPayCallInput): void {
  const r = (req ?? {}) as Partial<Record<keyof ResolveAmazonPayCallInput, unknown>>;
  const invalid = (message: string) => fail('InvalidParameterValue', message);
  if (!OPERATIONS.includes(r.operation as never)) throw invalid('operation must be createCharge or createRefund');
  if (!OUTCOMES.includes(r.outcome as never)) throw invalid('outcome must be executed or not_executed');
  if (typeof r.note !== 'string' || r.note.trim() === '' || r.note.length > NOTE_MAX)
    throw invalid(`note (who resolved it and why) is required, at most ${NOTE_MAX} characters`);
  const idField = r.operation === 'createCharge' ? 'chargeId' : 'refundId';
  const otherField = r.operation === 'createCharge' ? 'refundId' : 'chargeId';
  if (r[otherField] !== undefined) throw invalid(`${otherField} does not belong to a ${r.operation} resolution`);
  if (r.outcome === 'executed' && !(typeof r[idField] === 'string' && AMAZON_ID.test(r[idField] as string)))
    throw invalid(`executed needs the ${idField} Seller Central shows`);
  if (r.outcome === 'not_executed' && r[idField] !== undefined)
    throw invalid(`not_executed takes no ${idField}: nothing was created`);
  if (r.requestId !== undefined && typeof r.requestId !== 'string') throw invalid('requestId must be a string');
  callsOf(o, req);
}

/**
 * The unresolved call the resolution names; refused when there is none, or it is ambiguous. Calls
 * given up under one requestId are one call at Amazon (the key is Amazon's idempotency key: at most
 * one charge or refund for it): a given-up key the storefront sent again, and that was given up
 * again, is listed twice but resolved once. (Before, naming its requestId was refused as ambiguous
 * too, so such a call could not be resolved at all: no accepted resolution in any history meets
 * the change.)
 */
function callsOf(o: CheckoutOwner, req: ResolveAmazonPayCallInput): UnresolvedCall[] {
  const calls = unresolvedCalls(o).filter(
    (c) => c.operation === req.operation && (req.requestId === undefined || c.requestId === req.requestId),
  );
  if (calls.length === 0)
    throw fail(
      'NothingUnresolved',
      `No ${req.operation}${req.requestId ? ` with requestId ${req.requestId}` : ''} of this checkout waits for an operator`,
    );
  const requestIds = [...new Set(calls.map((c) => c.requestId))];
  if (requestIds.length > 1)
    throw fail(
      'InvalidParameterValue',
      `${requestIds.length} ${req.operation} calls are unresolved: name one by its requestId (${requestIds.join(', ')})`,
    );
  return calls;
}

/** The update: runs under the owner's lock, so no other step interleaves with the read and the record. */
export async function resolveAmazonPayCall(o: CheckoutOwner, req: ResolveAmazonPayCallInput): Promise<CheckoutStatus> {
  // Checked again under the lock: another resolution may have run since the validator.
  const calls = callsOf(o, req);
  const call = calls[0]!;
  let objectId: string | null = null;
  if (req.outcome === 'executed')
    objectId =
      call.operation === 'createCharge'
        ? await adoptCharge(o, call, req.chargeId!)
        : await adoptRefund(o, call, req.refundId!);
  const s = o.s;
  const remaining = unresolvedCalls(o).filter((c) => c.operation !== call.operation || c.requestId !== call.requestId);
  s.unresolvedCalls = remaining;
  if (call.operation === 'createCharge') s.givenUpCharge = false;
  // Each time the call was given up its amount was held back: all of them are released.
  for (const c of calls)
    if (c.operation === 'createRefund')
      s.givenUpRefundMinor = Math.max(0, (s.givenUpRefundMinor ?? 0) - toMinor(c.input.refundAmount));
  if (remaining.length === 0 && s.lastReasonCode === 'UnresolvedAmazonPayCall') s.lastReasonCode = null;
  const resolution: AmazonPayCallResolution = {
    operation: call.operation,
    outcome: req.outcome,
    note: req.note.trim(),
    requestId: call.requestId,
    objectId,
    resolvedAt: nowIso(),
  };
  (s.resolutions ??= []).push(resolution);
  log.info('an operator resolved an unanswered Amazon Pay call', { checkoutSessionId: o.sid, ...resolution });
  // Null removes the key: what is left unresolved (if anything) stays in the memo.
  const { searchable: _searchable, ...next } = remaining[0] ?? { searchable: false };
  upsertMemo({
    unresolvedAmazonPayCall: remaining[0] ? next : null,
    amazonPayCallResolution: resolution,
  });
  // Clears OperatorAttention once nothing is unresolved, and emits operator.call_resolved (events.ts).
  o.publish();
  return o.status();
}

/** Amazon's answer to a read of an id the operator typed: a missing object is their mistake, not an outage. */
async function read<T>(what: string, id: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (reasonOf(err) === 'ResourceNotFound')
      throw fail('ResolutionMismatch', `Amazon Pay has no ${what} ${id}: check the id in Seller Central`);
    throw asUpdateFailure(err);
  }
}

async function adoptCharge(
  o: CheckoutOwner,
  call: Extract<UnresolvedCall, { operation: 'createCharge' }>,
  chargeId: string,
): Promise<string> {
  const s = o.s;
  // Only activities talk to Amazon Pay; a few quick retries: an operator is waiting.
  const charge: ChargeView = await read('charge', chargeId, () => bestEffort.getCharge(chargeId));
  const mismatch = (why: string) =>
    fail('ResolutionMismatch', `Charge ${chargeId} is not the given-up charge of this order: ${why}; nothing changed`);
  if (charge.chargePermissionId !== s.chargePermissionId)
    throw mismatch(
      `it belongs to charge permission ${charge.chargePermissionId ?? 'unknown'}, not ${s.chargePermissionId}`,
    );
  if (!samePrice(charge.chargeAmount, call.input.chargeAmount))
    throw mismatch(
      `it is for ${charge.chargeAmount.amount} ${charge.chargeAmount.currencyCode}, the call was for ${call.input.chargeAmount.amount} ${call.input.chargeAmount.currencyCode}`,
    );
  if (s.charge && s.charge.chargeId !== charge.chargeId)
    throw mismatch(`the order already has charge ${s.charge.chargeId}`);
  // As if the call had answered: recorded under the caller's key (its retry gets this charge), and
  // its merchant event (payment.authorized, payment.captured ...) follows from the state.
  chargeCreated(o, charge, call.requestId);
  return charge.chargeId;
}

async function adoptRefund(
  o: CheckoutOwner,
  call: Extract<UnresolvedCall, { operation: 'createRefund' }>,
  refundId: string,
): Promise<string> {
  const s = o.s;
  const refund: RefundView = await read('refund', refundId, () => bestEffort.getRefund(refundId));
  const mismatch = (why: string) =>
    fail('ResolutionMismatch', `Refund ${refundId} is not the given-up refund of this order: ${why}; nothing changed`);
  if (refund.chargeId !== call.input.chargeId)
    throw mismatch(`it refunds charge ${refund.chargeId}, the call refunded ${call.input.chargeId}`);
  if (!samePrice(refund.amount, call.input.refundAmount))
    throw mismatch(
      `it is for ${refund.amount.amount} ${refund.amount.currencyCode}, the call was for ${call.input.refundAmount.amount} ${call.input.refundAmount.currencyCode}`,
    );
  const answered = Object.entries(s.refundRequests ?? {}).find(([, id]) => id === refund.refundId);
  if (answered && answered[0] !== call.requestId)
    throw mismatch(`it is already the answer to the refund request ${answered[0]}`);
  // Not refundCreated: that also clears a stored unanswered refund, which may be another call.
  o.recordRefund(refund);
  (s.refundRequests ??= {})[call.requestId] = refund.refundId;
  return refund.refundId;
}
