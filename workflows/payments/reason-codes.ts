/**
 * Every failure type a payment owner (checkout today, subscription later) can meet: Amazon Pay's
 * reason codes, our Amazon Pay client's own, and the owner's refusals. One table decides, per code,
 * whether Temporal retries the call, whether an unanswered Create Charge / Create Refund is settled
 * by it (unanswered.ts), and what the API answers. Pure data: the workflow sandbox, the activities
 * and the API all import it.
 */

/**
 * - business: Amazon looked at the request and refused it (decline, state, amount, input). Final:
 *   never retried, and it settles the idempotency key (the same call gets the same answer).
 * - keyUnseen: Amazon refused before it looked at the key (authentication, the key itself). Never
 *   retried, but it says nothing about what an earlier attempt with this key did.
 * - notSent: our client refused to send the request (a malformed id or key). Nothing happened.
 * - transient: 5xx, throttling, transport failures. Retried with the same key (as far as our client
 *   says: a lost answer it gives up on is not); the outcome is unknown.
 * - unreadable: Amazon answered something our client could not read. Retried only if the HTTP status
 *   says so (a 5xx page from a proxy is, an unexpected 200 body is not); the outcome is unknown.
 * - ours: the owner refused the request itself, before or instead of calling Amazon.
 */
export type ReasonCategory = 'business' | 'keyUnseen' | 'notSent' | 'transient' | 'unreadable' | 'ours';

export interface ReasonCode {
  category: ReasonCategory;
  /** What the API answers for a request that failed with this code. */
  httpStatus: 400 | 404 | 409 | 422 | 503;
}

const business = (httpStatus: ReasonCode['httpStatus'] = 422): ReasonCode => ({ category: 'business', httpStatus });
const keyUnseen: ReasonCode = { category: 'keyUnseen', httpStatus: 422 };
const notSent: ReasonCode = { category: 'notSent', httpStatus: 422 };
const transient: ReasonCode = { category: 'transient', httpStatus: 503 };
const ours = (httpStatus: ReasonCode['httpStatus']): ReasonCode => ({ category: 'ours', httpStatus });

export const REASON_CODES = {
  // Amazon: the checkout's or the object's state does not allow it (409: the order is in the way).
  AmountMismatch: business(409),
  CheckoutSessionCanceled: business(409),
  InvalidCheckoutSessionStatus: business(409),
  InvalidChargePermissionStatus: business(409),
  InvalidChargeStatus: business(409),
  ResourceNotFound: business(404),
  ChargePermissionNotModifiable: business(),
  // Amazon: amounts, limits and declines.
  TransactionAmountExceeded: business(),
  TransactionCountExceeded: business(),
  // Recurring limits (§8.4): a charge refused for them was answered, so it is never resent.
  PeriodicAmountExceeded: business(),
  CurrencyMismatch: business(),
  SoftDeclined: business(),
  HardDeclined: business(),
  AmazonRejected: business(),
  PaymentMethodNotAllowed: business(),
  MFANotCompleted: business(),
  TransactionTimedOut: business(),
  // Amazon: the request's fields.
  InvalidParameterValue: business(),
  InvalidParameterCombination: business(),
  MissingParameterValue: business(),
  UnrecognizedField: business(),
  // Amazon, before it looks at the key.
  DuplicateIdempotencyKey: keyUnseen,
  UnauthorizedAccess: keyUnseen,
  InvalidAccountStatus: keyUnseen,
  InvalidRequestSignature: keyUnseen,
  // Our client, before sending (amazon-pay/client.ts, amazon-pay/errors.ts).
  InvalidRequest: notSent,
  InvalidIdempotencyKey: notSent,
  // Transient: Amazon's 5xx and 429, and our client's transport failures.
  InternalServerError: transient,
  ServiceUnavailable: transient,
  ProcessingFailure: transient,
  TooManyRequests: transient,
  Timeout: transient,
  NetworkError: transient,
  InvalidResponse: { category: 'unreadable', httpStatus: 503 },
  // The owner's own refusals (workflows/checkout/*).
  ChargeAmountNotSet: ours(409),
  NotCompleted: ours(409),
  CheckoutSessionNotReady: ours(409),
  UnresolvedAmazonPayCall: ours(409),
  /** Amazon did not answer in time (retries or the interactive budget used up): retry later, same key. */
  AmazonPayUnavailable: ours(503),
  idempotency_key_reused: ours(422),
  idempotency_key_required: ours(400),
  /** A subscription's new amount or frequency where PSD2 applies: Amazon wants a new checkout. */
  recheckout_required: ours(409),
  /** A subscription refund names a cycle the subscription does not know (not yet, or no longer kept). */
  CycleNotFound: ours(404),
} as const satisfies Record<string, ReasonCode>;

export type ReasonCodeName = keyof typeof REASON_CODES;

export function reasonCode(type: string | null | undefined): ReasonCode | undefined {
  return type && Object.hasOwn(REASON_CODES, type) ? REASON_CODES[type as ReasonCodeName] : undefined;
}

const codesIn = (...categories: ReasonCategory[]): string[] =>
  Object.entries(REASON_CODES)
    .filter(([, c]) => categories.includes(c.category))
    .map(([name]) => name);

/** Failure types Temporal must never retry (the activity retry policies' nonRetryableErrorTypes). */
export const NON_RETRYABLE_REASON_CODES: readonly string[] = codesIn('business', 'keyUnseen', 'notSent');

/**
 * Whether a failed activity is retried: what our client decided from the HTTP status
 * (`retryableByStatus`), except that a final answer (business, keyUnseen, notSent) never is.
 */
export function isRetryableReason(type: string, retryableByStatus: boolean): boolean {
  return retryableByStatus && !NON_RETRYABLE_REASON_CODES.includes(type);
}

/**
 * Whether a failed Create Charge / Create Refund is settled for good, so it is never sent again:
 * Amazon refused it having looked at it, or it was never sent.
 */
export function settlesTheCall(type: string | null | undefined): boolean {
  const c = reasonCode(type)?.category;
  return c === 'business' || c === 'notSent';
}

/** What the API answers for a failure of this type; a type the table does not know is a business refusal. */
export function httpStatusOf(type: string): ReasonCode['httpStatus'] {
  return reasonCode(type)?.httpStatus ?? 422;
}
