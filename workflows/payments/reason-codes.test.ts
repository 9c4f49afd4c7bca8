import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  NON_RETRYABLE_REASON_CODES,
  REASON_CODES,
  httpStatusOf,
  isRetryableReason,
  reasonCode,
  settlesTheCall,
} from './reason-codes';

describe('the reason-code table', () => {
  it.each(['PeriodicAmountExceeded', 'TransactionCountExceeded', 'PaymentMethodNotAllowed', 'MFANotCompleted'])(
    'recurring limit %s is a business answer: never retried, settles the call, 422',
    (code) => {
      expect(reasonCode(code)?.category).toBe('business');
      expect(NON_RETRYABLE_REASON_CODES).toContain(code);
      expect(settlesTheCall(code)).toBe(true);
      expect(httpStatusOf(code)).toBe(422);
    },
  );

  it.each(['DuplicateIdempotencyKey', 'UnauthorizedAccess', 'InvalidAccountStatus', 'InvalidRequestSignature'])(
    '%s comes before Amazon looks at the key: never retried, settles nothing',
    (code) => {
      expect(NON_RETRYABLE_REASON_CODES).toContain(code);
      expect(settlesTheCall(code)).toBe(false);
    },
  );

  it.each([
    'ServiceUnavailable',
    'InternalServerError',
    'ProcessingFailure',
    'TooManyRequests',
    'Timeout',
    'NetworkError',
    'InvalidResponse',
    'AmazonPayUnavailable',
  ])('%s: the outcome is unknown, settles nothing, and the API answers 503 (retry later)', (code) => {
    expect(settlesTheCall(code)).toBe(false);
    expect(NON_RETRYABLE_REASON_CODES).not.toContain(code);
    expect(httpStatusOf(code)).toBe(503);
  });

  it('a call our client never sent is settled; an unknown code is not, and the API calls it a business refusal', () => {
    expect(settlesTheCall('InvalidRequest')).toBe(true);
    expect(settlesTheCall('InvalidIdempotencyKey')).toBe(true);
    expect(settlesTheCall('SomethingNew')).toBe(false);
    expect(settlesTheCall(null)).toBe(false);
    expect(httpStatusOf('SomethingNew')).toBe(422);
    // Not a property of Object.prototype either.
    expect(reasonCode('toString')).toBeUndefined();
  });

  it('a final answer is never retried, whatever the HTTP status said; the rest follows the status', () => {
    expect(isRetryableReason('HardDeclined', true)).toBe(false);
    expect(isRetryableReason('ServiceUnavailable', true)).toBe(true);
    expect(isRetryableReason('Timeout', false)).toBe(false); // our client gave the answer up
    expect(isRetryableReason('InvalidResponse', true)).toBe(true);
    expect(isRetryableReason('SomethingNew', false)).toBe(false);
  });

  it('the API statuses: state conflicts 409, unknown objects 404, declines and bad input 422', () => {
    for (const code of [
      'InvalidChargeStatus',
      'InvalidChargePermissionStatus',
      'InvalidCheckoutSessionStatus',
      'AmountMismatch',
      'CheckoutSessionCanceled',
      'ChargeAmountNotSet',
      'UnresolvedAmazonPayCall',
    ]) {
      expect([code, httpStatusOf(code)]).toEqual([code, 409]);
    }
    expect(httpStatusOf('ResourceNotFound')).toBe(404);
    expect(httpStatusOf('idempotency_key_required')).toBe(400);
    for (const code of [
      'HardDeclined',
      'SoftDeclined',
      'TransactionAmountExceeded',
      'CurrencyMismatch',
      'InvalidParameterValue',
    ]) {
      expect([code, httpStatusOf(code)]).toEqual([code, 422]);
    }
  });

  it('every reason code our Amazon Pay client makes up itself is in the table', async () => {
    const sources = await Promise.all(
      ['../../amazon-pay/client.ts', '../../amazon-pay/errors.ts'].map((p) =>
        readFile(new URL(p, import.meta.url), 'utf8'),
      ),
    );
    const made = new Set(sources.flatMap((s) => [...s.matchAll(/reasonCode: '([A-Za-z]+)'/g)].map((m) => m[1]!)));
    expect(made.size).toBeGreaterThan(3);
    expect([...made].filter((code) => !(code in REASON_CODES))).toEqual([]);
  });
});
