import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { AmazonPayError } from '../amazon-pay/errors';
import { idempotencyKeyFor } from '../amazon-pay/idempotency';
import { isRetryableReason } from '../workflows/payments/reason-codes';
import type { CheckoutReview, ChargeSummary, FinalAmountInput, Price } from '../workflows/checkout-messages';
import type { FrequencyUnit } from '../workflows/subscription-messages';
import type {
  CaptureChargeInput,
  ChargePermissionView,
  ChargeView,
  CheckoutSessionView,
  CloseChargePermissionInput,
  UpdateChargePermissionInput,
  CompleteCheckoutSessionInput,
  CreateChargeInput,
  CreateRefundInput,
  RefundView,
} from '../workflows/payments/views';

/*
 * The subset of AmazonPayClient these activities call, typed loosely (Amazon answers null for
 * anything unset) so that the client's stricter response types are assignable to it.
 */
type Nullish<T> = T | null | undefined;
interface StatusDetailsLike {
  state: string;
  reasonCode?: Nullish<string>;
  reasonDescription?: Nullish<string>;
}
interface CheckoutSessionLike {
  checkoutSessionId: string;
  webCheckoutDetails?: Nullish<{ amazonPayRedirectUrl?: Nullish<string> }>;
  paymentDetails?: Nullish<{ chargeAmount?: Nullish<Price> }>;
  buyer?: Nullish<{ buyerId?: Nullish<string>; name?: Nullish<string>; email?: Nullish<string> }>;
  shippingAddress?: Nullish<object>;
  paymentPreferences?: Nullish<Array<Nullish<{ paymentDescriptor?: Nullish<string> }>>>;
  statusDetails: StatusDetailsLike;
  chargePermissionId?: Nullish<string>;
  chargePermissionType?: Nullish<string>;
  chargeId?: Nullish<string>;
  expirationTimestamp?: Nullish<string>;
  recurringMetadata?: Nullish<{ frequency?: Nullish<{ unit: string; value: string }>; amount?: Nullish<Price> }>;
}
interface ChargeLike {
  chargeId: string;
  chargePermissionId?: Nullish<string>;
  chargeAmount: Price;
  captureAmount?: Nullish<Price>;
  refundedAmount?: Nullish<Price>;
  statusDetails: StatusDetailsLike;
  expirationTimestamp?: Nullish<string>;
}
interface RefundLike {
  refundId: string;
  chargeId: string;
  refundAmount: Price;
  statusDetails: StatusDetailsLike;
}
interface ChargePermissionLike {
  chargePermissionId: string;
  statusDetails: { state: string; reasons?: Nullish<Array<{ reasonCode: string }>> };
  expirationTimestamp?: Nullish<string>;
}

export interface AmazonPayPort {
  getCheckoutSession(id: string): Promise<CheckoutSessionLike>;
  updateCheckoutSession(id: string, body: UpdateCheckoutSessionBody): Promise<CheckoutSessionLike>;
  completeCheckoutSession(
    id: string,
    body: { chargeAmount: Price; totalOrderAmount?: Price },
    opts?: { idempotencyKey?: string },
  ): Promise<CheckoutSessionLike>;
  getChargePermission(id: string): Promise<ChargePermissionLike>;
  updateChargePermission(
    id: string,
    body: { recurringMetadata: { frequency: { unit: FrequencyUnit; value: string }; amount: Price } },
  ): Promise<ChargePermissionLike>;
  closeChargePermission(
    id: string,
    body: { closureReason: string; cancelPendingCharges: boolean },
  ): Promise<ChargePermissionLike>;
  getCharge(id: string): Promise<ChargeLike>;
  createCharge(
    body: {
      chargePermissionId: string;
      chargeAmount: Price;
      captureNow: boolean;
      canHandlePendingAuthorization: boolean;
      softDescriptor?: string;
    },
    opts: { idempotencyKey: string },
  ): Promise<ChargeLike>;
  captureCharge(
    id: string,
    body: { captureAmount: Price; softDescriptor?: string },
    opts: { idempotencyKey: string },
  ): Promise<ChargeLike>;
  cancelCharge(id: string, body: { cancellationReason: string }): Promise<ChargeLike>;
  createRefund(
    body: { chargeId: string; refundAmount: Price; softDescriptor?: string },
    opts: { idempotencyKey: string },
  ): Promise<RefundLike>;
  getRefund(id: string): Promise<RefundLike>;
}

interface UpdateCheckoutSessionBody {
  webCheckoutDetails: { checkoutResultReturnUrl: string };
  paymentDetails: {
    paymentIntent: FinalAmountInput['paymentIntent'];
    canHandlePendingAuthorization: boolean;
    chargeAmount: Price;
    totalOrderAmount?: Price;
    softDescriptor?: string;
  };
  merchantMetadata: { merchantReferenceId: string; merchantStoreName?: string; noteToBuyer?: string };
}

/** `20250105T101414Z` (Amazon) or an ISO string -> ISO-8601. */
export function toIso(value: Nullish<string>): string | null {
  if (!value) return null;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (m) return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.000Z`;
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? null : parsed.toISOString();
}

const priceOf = (p: Nullish<Price>): Price | null =>
  p ? { amount: String(p.amount), currencyCode: p.currencyCode } : null;

function sessionView(s: CheckoutSessionLike): CheckoutSessionView {
  return {
    checkoutSessionId: s.checkoutSessionId,
    state: s.statusDetails.state as CheckoutSessionView['state'],
    reasonCode: s.statusDetails.reasonCode ?? null,
    reasonDescription: s.statusDetails.reasonDescription ?? null,
    expiresAt: toIso(s.expirationTimestamp),
    chargePermissionId: s.chargePermissionId ?? null,
    chargePermissionType: s.chargePermissionType ?? null,
    chargeId: s.chargeId ?? null,
    chargeAmount: priceOf(s.paymentDetails?.chargeAmount),
    amazonPayRedirectUrl: s.webCheckoutDetails?.amazonPayRedirectUrl ?? null,
    recurringMetadata:
      s.recurringMetadata?.frequency && s.recurringMetadata.frequency.unit !== 'Variable'
        ? {
            unit: s.recurringMetadata.frequency.unit,
            value: Number(s.recurringMetadata.frequency.value),
            amount: priceOf(s.recurringMetadata.amount),
          }
        : null,
  };
}

function chargeSummary(c: ChargeLike): ChargeSummary {
  return {
    chargeId: c.chargeId,
    state: c.statusDetails.state,
    reasonCode: c.statusDetails.reasonCode ?? null,
    chargeAmount: priceOf(c.chargeAmount)!,
    capturedAmount: priceOf(c.captureAmount),
    refundedAmount: priceOf(c.refundedAmount),
    expiresAt: toIso(c.expirationTimestamp),
  };
}

function refundView(r: RefundLike): RefundView {
  return {
    refundId: r.refundId,
    chargeId: r.chargeId,
    state: r.statusDetails.state as RefundView['state'],
    reasonCode: r.statusDetails.reasonCode ?? null,
    amount: priceOf(r.refundAmount)!,
  };
}

function chargePermissionView(cp: ChargePermissionLike): ChargePermissionView {
  return {
    chargePermissionId: cp.chargePermissionId,
    state: cp.statusDetails.state as ChargePermissionView['state'],
    reasonCodes: (cp.statusDetails.reasons ?? []).map((r) => r.reasonCode),
    expiresAt: toIso(cp.expirationTimestamp),
  };
}

/**
 * Amazon's answer as a Temporal failure: `type` is Amazon's reasonCode so the workflow branches on
 * it by name; whether it is retried is the reason table's (transient codes: 429/5xx/timeouts, which
 * the activity retry policy backs off and retries with the same idempotency key).
 */
export function toApplicationFailure(err: unknown): unknown {
  if (!(err instanceof AmazonPayError)) return err;
  return ApplicationFailure.create({
    type: err.reasonCode,
    message: `Amazon Pay ${err.status || 'transport'} ${err.reasonCode}: ${err.message}`,
    nonRetryable: !isRetryableReason(err.reasonCode, err.retryable),
    details: [
      { status: err.status, reasonCode: err.reasonCode, requestId: err.requestId ?? null, message: err.message },
    ],
    cause: err,
  });
}

/**
 * Heartbeats while an Amazon call is in flight, so a worker that dies mid-request is noticed
 * after the heartbeat timeout (seconds) rather than the start-to-close timeout. Gives the call up
 * when the activity is cancelled: no workflow cancels these, so that is a worker draining past
 * WORKER_SHUTDOWN_GRACE_TIME_MS; the retry on another worker sends the same Idempotency-Key and
 * Amazon answers what it did with this one, whose late answer is dropped.
 */
async function call<T>(fn: () => Promise<T>): Promise<T> {
  let ctx: Context | undefined;
  try {
    ctx = Context.current();
  } catch {
    ctx = undefined; // called outside an activity (unit tests)
  }
  const beat = ctx ? setInterval(() => ctx.heartbeat(), 1000) : undefined;
  try {
    return await (ctx ? Promise.race([fn(), ctx.cancelled]) : fn());
  } catch (err) {
    throw toApplicationFailure(err);
  } finally {
    if (beat) clearInterval(beat);
  }
}

export function createAmazonPayActivities({ amazonPay }: { amazonPay: AmazonPayPort; temporal?: Client }) {
  return {
    /** The buyer's review page: who pays, where it ships, with what. */
    async getCheckoutReview(checkoutSessionId: string): Promise<CheckoutReview> {
      const s = await call(() => amazonPay.getCheckoutSession(checkoutSessionId));
      const address = s.shippingAddress
        ? Object.fromEntries(Object.entries(s.shippingAddress).map(([k, v]) => [k, v == null ? null : String(v)]))
        : null;
      return {
        checkoutSessionId: s.checkoutSessionId,
        state: s.statusDetails.state as CheckoutReview['state'],
        buyer: s.buyer
          ? { buyerId: s.buyer.buyerId ?? null, name: s.buyer.name ?? null, email: s.buyer.email ?? null }
          : null,
        shippingAddress: address,
        paymentDescriptor: s.paymentPreferences?.find((p) => p?.paymentDescriptor)?.paymentDescriptor ?? null,
        expiresAt: toIso(s.expirationTimestamp) ?? '',
      };
    },

    async getCheckoutSession(checkoutSessionId: string): Promise<CheckoutSessionView> {
      return sessionView(await call(() => amazonPay.getCheckoutSession(checkoutSessionId)));
    },

    async updateCheckoutSession(checkoutSessionId: string, input: FinalAmountInput): Promise<CheckoutSessionView> {
      const body: UpdateCheckoutSessionBody = {
        webCheckoutDetails: { checkoutResultReturnUrl: input.checkoutResultReturnUrl },
        paymentDetails: {
          paymentIntent: input.paymentIntent,
          canHandlePendingAuthorization: input.canHandlePendingAuthorization,
          chargeAmount: input.chargeAmount,
          ...(input.totalOrderAmount ? { totalOrderAmount: input.totalOrderAmount } : {}),
          // Amazon accepts a soft descriptor only when the money is captured right away.
          ...(input.softDescriptor && input.paymentIntent === 'AuthorizeWithCapture'
            ? { softDescriptor: input.softDescriptor }
            : {}),
        },
        merchantMetadata: {
          merchantReferenceId: input.merchantReferenceId,
          ...(input.merchantStoreName ? { merchantStoreName: input.merchantStoreName } : {}),
          ...(input.noteToBuyer ? { noteToBuyer: input.noteToBuyer } : {}),
        },
      };
      return sessionView(await call(() => amazonPay.updateCheckoutSession(checkoutSessionId, body)));
    },

    async completeCheckoutSession(input: CompleteCheckoutSessionInput): Promise<CheckoutSessionView> {
      const body = {
        chargeAmount: input.chargeAmount,
        ...(input.totalOrderAmount ? { totalOrderAmount: input.totalOrderAmount } : {}),
      };
      const idempotencyKey = idempotencyKeyFor(input.operationId);
      return sessionView(
        await call(() => amazonPay.completeCheckoutSession(input.checkoutSessionId, body, { idempotencyKey })),
      );
    },

    async getCharge(chargeId: string): Promise<ChargeView> {
      const charge = await call(() => amazonPay.getCharge(chargeId));
      return { ...chargeSummary(charge), chargePermissionId: charge.chargePermissionId ?? null };
    },

    async createCharge(input: CreateChargeInput): Promise<ChargeSummary> {
      const { operationId, ...body } = input;
      const idempotencyKey = idempotencyKeyFor(operationId);
      return chargeSummary(await call(() => amazonPay.createCharge(body, { idempotencyKey })));
    },

    async captureCharge(input: CaptureChargeInput): Promise<ChargeSummary> {
      const body = {
        captureAmount: input.captureAmount,
        ...(input.softDescriptor ? { softDescriptor: input.softDescriptor } : {}),
      };
      const idempotencyKey = idempotencyKeyFor(input.operationId);
      return chargeSummary(await call(() => amazonPay.captureCharge(input.chargeId, body, { idempotencyKey })));
    },

    async cancelCharge(input: { chargeId: string; cancellationReason: string }): Promise<ChargeSummary> {
      return chargeSummary(
        await call(() => amazonPay.cancelCharge(input.chargeId, { cancellationReason: input.cancellationReason })),
      );
    },

    async createRefund(input: CreateRefundInput): Promise<RefundView> {
      const body = {
        chargeId: input.chargeId,
        refundAmount: input.refundAmount,
        ...(input.softDescriptor ? { softDescriptor: input.softDescriptor } : {}),
      };
      const idempotencyKey = idempotencyKeyFor(input.operationId);
      return refundView(await call(() => amazonPay.createRefund(body, { idempotencyKey })));
    },

    async getRefund(refundId: string): Promise<RefundView> {
      return refundView(await call(() => amazonPay.getRefund(refundId)));
    },

    async getChargePermission(chargePermissionId: string): Promise<ChargePermissionView> {
      return chargePermissionView(await call(() => amazonPay.getChargePermission(chargePermissionId)));
    },

    /** Update Charge Permission with new recurring terms (a plan change in NA and JP). */
    async updateChargePermission(input: UpdateChargePermissionInput): Promise<ChargePermissionView> {
      const { frequency, amount } = input.recurringMetadata;
      const body = {
        recurringMetadata: { frequency: { unit: frequency.unit, value: String(frequency.value) }, amount },
      };
      return chargePermissionView(await call(() => amazonPay.updateChargePermission(input.chargePermissionId, body)));
    },

    async closeChargePermission(input: CloseChargePermissionInput): Promise<ChargePermissionView> {
      const body = { closureReason: input.closureReason, cancelPendingCharges: input.cancelPendingCharges };
      return chargePermissionView(await call(() => amazonPay.closeChargePermission(input.chargePermissionId, body)));
    },
  };
}

export type AmazonPayActivities = ReturnType<typeof createAmazonPayActivities>;
