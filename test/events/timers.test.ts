// Merchant events at their real durations on the time-skipping test server: the Standard Webhooks
// retry schedule (5 s, 5 min, 30 min, 2 h, 5 h, ...) and Amazon's deadlines.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTimeSkippingStack, type TimeSkippingStack } from '../support/time-skipping';
import { setFinalAmountUpdate } from '../../workflows/checkout-messages';
import { eventsQuery } from '../../workflows/events/messages';
import { DEFAULT_RETRY_SCHEDULE_MS } from '../../activities/events';
import { finalAmount, openCheckout, paidCheckout } from '../checkout/helpers';
import { startReceiver, type Receiver } from './receiver';
import { until } from '../support/until';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

let stack: TimeSkippingStack;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  stack = await startTimeSkippingStack({
    ipn: false,
    webhooks: {
      endpoints: [{ id: 'orders', url: receiver.url, secrets: [receiver.secret] }],
      retryScheduleMs: DEFAULT_RETRY_SCHEDULE_MS,
      timeoutMs: 5_000,
    },
  });
});
afterEach(async () => {
  const drift = (await stack.env.currentTimeMs()) - (await stack.admin.now()).getTime();
  expect(Math.abs(drift)).toBeLessThan(MINUTE);
  receiver.answer = () => 204;
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
  await receiver?.[Symbol.asyncDispose]();
});

const forCheckout = (id: string) => receiver.received.filter((r) => r.event?.data.checkoutSessionId === id);

describe('merchant events over real durations (time-skipping)', () => {
  it('a receiver answering 500 for six hours then receives everything, in order, with the same ids', async () => {
    receiver.answer = () => 500;
    const { checkoutSessionId, handle } = await paidCheckout(stack, finalAmount('12.00', 'AuthorizeWithCapture'));
    await until(() => forCheckout(checkoutSessionId).length >= 1, 'the first attempt');
    await stack.elapse(6 * HOUR);
    // Tried at 0, 5 s, 5 min, 30 min and 2 h after the previous failure: five times, always the oldest event.
    const failed = forCheckout(checkoutSessionId);
    expect(failed.map((r) => r.answered)).toEqual([500, 500, 500, 500, 500]);
    expect(new Set(failed.map((r) => r.event!.type))).toEqual(new Set(['checkout.completed']));

    receiver.answer = () => 204;
    await stack.elapse(2 * HOUR); // the retry 5 h after the last failure
    const all = await until(
      () => forCheckout(checkoutSessionId).length >= 7 && forCheckout(checkoutSessionId),
      'the recovered delivery',
    );
    const delivered = all.filter((r) => r.answered === 204).map((r) => r.event!);
    expect(delivered.map((e) => e.type)).toEqual(['checkout.completed', 'payment.captured']);
    expect(delivered[0]!.id).toBe(failed[0]!.event!.id);
    const listed = await handle.query(eventsQuery);
    expect(listed[0]!.deliveries[0]!.attempts.map((a) => a.statusCode)).toEqual([500, 500, 500, 500, 500, 204]);
    // The gaps between attempts follow the schedule (workflow time).
    const at = listed[0]!.deliveries[0]!.attempts.map((a) => Date.parse(a.at));
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(DEFAULT_RETRY_SCHEDULE_MS[i]!));
    await handle.terminate('test done');
  });

  it('an unused authorization: payment.authorization_expiring two days before, payment.canceled when Amazon expires it', async () => {
    const { checkoutSessionId } = await paidCheckout(stack, finalAmount('20.00', 'Authorize'));
    await stack.elapse(28 * DAY + HOUR);
    await until(
      () => forCheckout(checkoutSessionId).some((r) => r.event!.type === 'payment.authorization_expiring'),
      'the warning',
    );
    await stack.elapse(2 * DAY + HOUR);
    const types = await until(() => {
      const t = forCheckout(checkoutSessionId).map((r) => r.event!.type);
      return t.includes('payment.canceled') && t;
    }, 'the cancellation');
    expect(types.slice(0, 4)).toEqual([
      'checkout.completed',
      'payment.authorized',
      'payment.authorization_expiring',
      'payment.canceled',
    ]);
    const warning = forCheckout(checkoutSessionId).find(
      (r) => r.event!.type === 'payment.authorization_expiring',
    )!.event!;
    expect(warning.data.expiresAt).toBeTruthy();
  });

  it('a buyer who never completes: checkout.expired after the 24 hours, and nothing else', async () => {
    const { handle, checkoutSessionId } = await openCheckout(stack);
    await handle.executeUpdate(setFinalAmountUpdate, { args: [finalAmount('9.00', 'Authorize')] });
    await stack.elapse(DAY + 2 * HOUR);
    await stack.resultOf(handle);
    expect(forCheckout(checkoutSessionId).map((r) => r.event!.type)).toEqual(['checkout.expired']);
    expect(forCheckout(checkoutSessionId)[0]!.event!.data).toMatchObject({
      status: 'Expired',
      reasonCode: 'Expired',
      chargeId: null,
    });
  });
});
