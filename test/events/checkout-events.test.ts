import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { startTestStack, type TestStack } from '../support/stack';
import { captureUpdate, closeUpdate, refundUpdate, cancelUpdate } from '../../workflows/checkout-messages';
import { eventsQuery, type EventView, type MerchantEvent } from '../../workflows/events/messages';
import { finalAmount, paidCheckout, usd, waitForStatus } from '../checkout/helpers';
import { newSecret, startReceiver, type Receiver } from './receiver';
import { until as waitFor } from '../support/until';

let stack: TestStack;
let receiver: Receiver;
let second: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  // An endpoint whose secret is being rotated: every event carries a signature for each secret.
  second = await startReceiver();
  const rotatedFrom = newSecret();
  stack = await startTestStack({
    simulator: { delays: { refundMs: 300, pendingAuthorizationMs: 500 } },
    webhooks: {
      endpoints: [
        { id: 'orders', url: receiver.url, secrets: [receiver.secret] },
        { id: 'rotating', url: second.url, secrets: [rotatedFrom, second.secret] },
      ],
      retryScheduleMs: [200, 400, 800],
      timeoutMs: 5_000,
    },
  });
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
  await receiver?.[Symbol.asyncDispose]();
  await second?.[Symbol.asyncDispose]();
});

const eventsFor = (r: Receiver, checkoutSessionId: string): MerchantEvent[] =>
  r.delivered().filter((e) => e.data.checkoutSessionId === checkoutSessionId);

describe('merchant events of a checkout (Standard Webhooks, verified by the standardwebhooks package)', () => {
  it('Authorize → capture → refund → close emits exactly its events, in order, with stable ids, to every endpoint', async () => {
    const { checkoutSessionId, handle, outcome } = await paidCheckout(stack, finalAmount('30.00', 'Authorize'));
    if (!outcome.completed) throw new Error('not completed');
    await handle.executeUpdate(captureUpdate, { args: [{}] });
    await handle.executeUpdate(refundUpdate, { args: [{ amount: usd('10.00'), requestId: randomUUID() }] });
    await waitForStatus(handle, (s) => s.refunds[0]?.state === 'Refunded');
    await handle.executeUpdate(closeUpdate, { args: [{ reason: 'Shipped' }] });
    await handle.result();

    const expected = [
      'checkout.completed',
      'payment.authorized',
      'payment.captured',
      'refund.pending',
      'refund.succeeded',
      'order.closed',
    ];
    for (const r of [receiver, second]) {
      const got = await waitFor(
        () => eventsFor(r, checkoutSessionId).length >= expected.length && eventsFor(r, checkoutSessionId),
        'all events',
      );
      expect(got.map((e) => e.type)).toEqual(expected);
      expect(new Set(got.map((e) => e.id)).size).toBe(expected.length);
    }
    const [completed, authorized, captured, refundPending, refunded, closed] = eventsFor(receiver, checkoutSessionId);
    expect(completed).toMatchObject({
      data: {
        object: 'checkout',
        checkoutSessionId,
        chargePermissionId: outcome.chargePermissionId,
        amount: usd('30.00'),
      },
    });
    expect(authorized).toMatchObject({
      data: { chargeId: outcome.chargeId, state: 'Authorized', amount: usd('30.00') },
    });
    expect(authorized!.data.expiresAt).toBeTruthy();
    expect(captured).toMatchObject({ data: { state: 'Captured', amount: usd('30.00') } });
    expect(refundPending).toMatchObject({ data: { state: 'RefundInitiated', amount: usd('10.00') } });
    expect(refunded).toMatchObject({ data: { refundId: refundPending!.data.refundId, state: 'Refunded' } });
    expect(closed).toMatchObject({ data: { status: 'Closed' } });
    // Both endpoints got the same events under the same ids, whatever the retries.
    expect(eventsFor(second, checkoutSessionId).map((e) => e.id)).toEqual(
      eventsFor(receiver, checkoutSessionId).map((e) => e.id),
    );
    // No buyer personal data: the simulator's buyer never appears in a body.
    for (const r of receiver.received.filter((x) => x.event?.data.checkoutSessionId === checkoutSessionId)) {
      expect(r.body).not.toMatch(/@|buyer|Jane|shipping/i);
    }

    // The list an operator or the merchant reads: each event with its delivery to each endpoint.
    const listed = await handle.query(eventsQuery);
    expect(listed.map((e) => e.type)).toEqual(expected);
    for (const e of listed) {
      expect(e.deliveries.map((d) => [d.endpointId, d.status])).toEqual([
        ['orders', 'Delivered'],
        ['rotating', 'Delivered'],
      ]);
      expect(e.deliveries[0]!.attempts[0]).toMatchObject({ statusCode: 204, error: null });
    }
  });

  it.each([
    ['declinedAtAmazon', 'Authorize', ['checkout.declined']],
    ['buyerCancel', 'Authorize', ['checkout.canceled']],
    [
      'pendingThenAuthorized',
      'Authorize',
      ['checkout.completed', 'payment.authorization_pending', 'payment.authorized'],
    ],
    ['pendingThenDeclined', 'Authorize', ['checkout.completed', 'payment.authorization_pending', 'payment.declined']],
    ['happy', 'Confirm', ['checkout.completed']],
  ] as const)('path %s (%s) emits exactly %j', async (method, intent, expected) => {
    const amount = finalAmount('11.00', intent, { canHandlePendingAuthorization: true });
    const { checkoutSessionId, handle } = await paidCheckout(stack, amount, method);
    if (method.startsWith('pending')) await waitForStatus(handle, (s) => s.status !== 'AuthorizationPending');
    const got = await waitFor(
      () => eventsFor(receiver, checkoutSessionId).length >= expected.length && eventsFor(receiver, checkoutSessionId),
      'events',
    );
    // Nothing more follows for this checkout once its events are settled.
    await waitFor(
      () => handle.query(eventsQuery).then((l) => l.every((e) => e.deliveries.every((d) => d.status === 'Delivered'))),
      'settled',
    );
    expect(got.map((e) => e.type)).toEqual(expected);
    expect((await handle.query(eventsQuery)).map((e) => e.type)).toEqual(expected);
    if (method === 'declinedAtAmazon')
      expect(got[0]!.data).toMatchObject({ status: 'Declined', reasonCode: 'Declined', chargePermissionId: null });
    if (method === 'pendingThenDeclined')
      expect(got[2]!.data).toMatchObject({ state: 'Declined', reasonCode: 'HardDeclined' });
    await handle.terminate('test done').catch(() => undefined);
  });

  it('a refund Amazon declines: refund.pending, then refund.failed with the reason', async () => {
    const { checkoutSessionId, handle } = await paidCheckout(stack, finalAmount('40.00', 'AuthorizeWithCapture'));
    const original = stack.amazonPay.createRefund.bind(stack.amazonPay);
    stack.amazonPay.createRefund = (body, opts) => original(body, { ...opts, simulationCode: 'RefundDeclined' });
    try {
      await handle.executeUpdate(refundUpdate, { args: [{ amount: usd('5.00'), requestId: randomUUID() }] });
    } finally {
      stack.amazonPay.createRefund = original;
    }
    const got = await waitFor(
      () => eventsFor(receiver, checkoutSessionId).length >= 4 && eventsFor(receiver, checkoutSessionId),
      'events',
    );
    expect(got.map((e) => e.type)).toEqual([
      'checkout.completed',
      'payment.captured',
      'refund.pending',
      'refund.failed',
    ]);
    expect(got[3]!.data).toMatchObject({
      state: 'Declined',
      reasonCode: 'AmazonRejected',
      amount: usd('5.00'),
      refundId: got[2]!.data.refundId,
    });
    await handle.terminate('test done');
  });

  it('a rotated secret: each request carries one signature per secret and verifies with either', async () => {
    const { checkoutSessionId } = await paidCheckout(stack, finalAmount('5.00', 'AuthorizeWithCapture'));
    const r = await waitFor(
      () => second.received.find((x) => x.event?.data.checkoutSessionId === checkoutSessionId),
      'a delivery',
    );
    const signatures = String(r.headers['webhook-signature']).split(' ');
    expect(signatures).toHaveLength(2);
    for (const sig of signatures) expect(sig).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    // The receiver verified with the new secret; the old one verifies the same request too.
    expect(r.event).not.toBeNull();
    expect(() => new Webhook(second.secret).verify(r.body, r.headers as Record<string, string>)).not.toThrow();
  });

  it('a tampered body or a stale timestamp fails verification', async () => {
    const { checkoutSessionId } = await paidCheckout(stack, finalAmount('6.00', 'AuthorizeWithCapture'));
    const r = await waitFor(
      () => receiver.received.find((x) => x.event?.data.checkoutSessionId === checkoutSessionId),
      'a delivery',
    );
    const verifier = new Webhook(receiver.secret);
    const headers = r.headers as Record<string, string>;
    expect(() => verifier.verify(r.body.replace('6.00', '60.00'), headers)).toThrow();
    expect(() =>
      verifier.verify(r.body, { ...headers, 'webhook-timestamp': String(Math.floor(Date.now() / 1000) - 600) }),
    ).toThrow();
    expect(() => verifier.verify(r.body, { ...headers, 'webhook-id': `${r.id}x` })).toThrow();
  });

  it('a failing endpoint is retried on the schedule and receives the events in order; the other endpoint is not held up', async () => {
    let failing = true;
    receiver.answer = () => (failing ? 500 : 204);
    try {
      const { checkoutSessionId, handle } = await paidCheckout(stack, finalAmount('7.00', 'Authorize'));
      await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'Out of stock' }] });
      const expected = ['checkout.completed', 'payment.authorized', 'payment.canceled'];
      // The healthy endpoint gets everything while the other one fails.
      const onSecond = await waitFor(
        () => eventsFor(second, checkoutSessionId).length >= 3 && eventsFor(second, checkoutSessionId),
        'second endpoint',
      );
      expect(onSecond.map((e) => e.type)).toEqual(expected);
      await waitFor(
        () => receiver.received.filter((x) => x.event?.data.checkoutSessionId === checkoutSessionId).length >= 2,
        'a retry',
      );
      failing = false;
      const got = await waitFor(
        () => eventsFor(receiver, checkoutSessionId).length >= 3 && eventsFor(receiver, checkoutSessionId),
        'recovered endpoint',
      );
      expect(got.map((e) => e.type)).toEqual(expected);
      expect(got.map((e) => e.id)).toEqual(onSecond.map((e) => e.id));
      // Never out of order: every request for this checkout, failed or not, came in event order.
      const tried = receiver.received
        .filter((x) => x.event?.data.checkoutSessionId === checkoutSessionId)
        .map((x) => x.id);
      const order = onSecond.map((e) => e.id);
      for (let i = 1; i < tried.length; i++)
        expect(order.indexOf(tried[i]!)).toBeGreaterThanOrEqual(order.indexOf(tried[i - 1]!));
      const listed = await handle.query(eventsQuery);
      const first = listed[0]!.deliveries.find((d) => d.endpointId === 'orders')!;
      expect(first.status).toBe('Delivered');
      expect(first.attempts.length).toBeGreaterThan(1);
      expect(first.attempts[0]).toMatchObject({ statusCode: 500, error: 'HTTP 500' });
    } finally {
      receiver.answer = () => 204;
    }
  });

  it('an endpoint that keeps failing gives up after the schedule: the event is Failed and operators find the owner', async () => {
    receiver.answer = (r) => (r.event?.data.merchantReferenceId === reference ? 503 : 204);
    const reference = `order-${randomUUID()}`;
    try {
      const { checkoutSessionId, handle } = await paidCheckout(
        stack,
        finalAmount('8.00', 'AuthorizeWithCapture', { merchantReferenceId: reference }),
      );
      const failed = await waitForEvents(handle, (events) =>
        events.some((e) => e.deliveries.some((d) => d.endpointId === 'orders' && d.status === 'Failed')),
      );
      const first = failed
        .find((e) => e.type === 'checkout.completed')!
        .deliveries.find((d) => d.endpointId === 'orders')!;
      // The first attempt and one per entry of the schedule (200, 400, 800 ms), then it failed for good.
      expect(first.attempts.map((a) => a.statusCode)).toEqual([503, 503, 503, 503]);
      expect(first.nextAttemptAt).toBeNull();
      // Later events are still tried (in order) after an earlier one failed for good; the healthy endpoint has all.
      expect(eventsFor(second, checkoutSessionId).map((e) => e.type)).toEqual([
        'checkout.completed',
        'payment.captured',
      ]);
      const query = `WorkflowId = '${handle.workflowId}' AND WebhookDelivery = 'Failed'`;
      const found = await waitForList(query);
      expect(found).toEqual([handle.workflowId]);
    } finally {
      receiver.answer = () => 204;
    }
  });
});

async function waitForEvents(
  handle: { query: (q: typeof eventsQuery) => Promise<EventView[]> },
  until: (e: EventView[]) => boolean,
): Promise<EventView[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const events = await handle.query(eventsQuery);
    if (until(events)) return events;
    if (Date.now() > deadline) throw new Error(`events did not reach the expected state: ${JSON.stringify(events)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitForList(query: string): Promise<string[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ids: string[] = [];
    for await (const w of stack.temporal.workflow.list({ query })) ids.push(w.workflowId);
    if (ids.length > 0 || Date.now() > deadline) return ids;
    await new Promise((r) => setTimeout(r, 200));
  }
}
