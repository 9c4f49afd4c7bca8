// The activity boundary without a server: Amazon errors become ApplicationFailures named by
// reasonCode, retryable only when Amazon says so; every POST carries the operation's key.
import { describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { AmazonPayError, idempotencyKeyFor } from '../../amazon-pay';
import {
  createAmazonPayActivities,
  toApplicationFailure,
  toIso,
  type AmazonPayPort,
} from '../../activities/amazon-pay';

describe('Amazon Pay activities', () => {
  it('maps AmazonPayError to an ApplicationFailure typed by reasonCode', () => {
    const business = toApplicationFailure(
      new AmazonPayError({
        status: 409,
        reasonCode: 'AmountMismatch',
        message: 'amounts differ',
        retryable: false,
        requestId: 'r-1',
      }),
    );
    expect(business).toBeInstanceOf(ApplicationFailure);
    expect(business).toMatchObject({
      type: 'AmountMismatch',
      nonRetryable: true,
      details: [{ status: 409, requestId: 'r-1', message: 'amounts differ' }],
    });
    const throttled = toApplicationFailure(
      new AmazonPayError({ status: 429, reasonCode: 'TooManyRequests', message: 'slow down', retryable: true }),
    );
    expect(throttled).toMatchObject({ type: 'TooManyRequests', nonRetryable: false });
    // The reason table: a final answer is never retried, whatever status it came with.
    const declined = toApplicationFailure(
      new AmazonPayError({ status: 500, reasonCode: 'HardDeclined', message: 'declined', retryable: true }),
    );
    expect(declined).toMatchObject({ type: 'HardDeclined', nonRetryable: true });
    const other = new Error('socket hang up');
    expect(toApplicationFailure(other)).toBe(other);
  });

  it('converts Amazon timestamps to ISO-8601', () => {
    expect(toIso('20250105T101414Z')).toBe('2025-01-05T10:14:14.000Z');
    expect(toIso(null)).toBeNull();
  });

  it('sends the key derived from the business operation on every capture attempt', async () => {
    const keys: string[] = [];
    const charge = {
      chargeId: 'S01-0000000-0000000-C000001',
      chargeAmount: { amount: '10.00', currencyCode: 'USD' },
      captureAmount: { amount: '10.00', currencyCode: 'USD' },
      statusDetails: { state: 'Captured', reasonCode: null },
      expirationTimestamp: '20250205T102000Z',
    };
    const amazonPay = {
      captureCharge: async (_id: string, _body: unknown, opts: { idempotencyKey: string }) => {
        keys.push(opts.idempotencyKey);
        if (keys.length === 1)
          throw new AmazonPayError({ status: 503, reasonCode: 'ServiceUnavailable', message: 'down', retryable: true });
        return charge;
      },
    } as unknown as AmazonPayPort;
    const activities = createAmazonPayActivities({ amazonPay });
    const input = {
      chargeId: charge.chargeId,
      captureAmount: { amount: '10.00', currencyCode: 'USD' },
      operationId: 'checkout/abc/capture/1',
    };
    await expect(activities.captureCharge(input)).rejects.toMatchObject({
      type: 'ServiceUnavailable',
      nonRetryable: false,
    });
    await expect(activities.captureCharge(input)).resolves.toMatchObject({
      state: 'Captured',
      expiresAt: '2025-02-05T10:20:00.000Z',
    });
    expect(keys).toEqual([idempotencyKeyFor('checkout/abc/capture/1'), idempotencyKeyFor('checkout/abc/capture/1')]);
  });
});
