import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack';
import { finalAmount, paidCheckout } from '../checkout/helpers';
import { closeUpdate } from '../../workflows/checkout-messages';
import { startReceiver, type Receiver } from './receiver';
import { until } from '../support/until';

let stack: TestStack;
let gone: Receiver;
let orders: Receiver;

beforeAll(async () => {
  gone = await startReceiver();
  orders = await startReceiver();
  stack = await startTestStack({
    webhooks: {
      endpoints: [
        { id: `gone-${randomUUID().slice(0, 8)}`, url: gone.url, secrets: [gone.secret] },
        { id: 'orders', url: orders.url, secrets: [orders.secret] },
      ],
      retryScheduleMs: [200, 400],
      timeoutMs: 5_000,
    },
  });
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
  await gone?.[Symbol.asyncDispose]();
  await orders?.[Symbol.asyncDispose]();
});

function api(method: string, path: string, headers: Record<string, string> = {}) {
  return stack.app.request(path, { method, headers: { authorization: `Bearer ${stack.apiKey}`, ...headers } });
}

describe('webhook endpoints and the events API', () => {
  it('an endpoint answering 410 is disabled for every owner, operators find it, and the API enables it again', async () => {
    gone.answer = () => 410;
    const first = await paidCheckout(stack, finalAmount('4.00', 'AuthorizeWithCapture'));
    // The first 410 disables it: nothing after that first request reaches it, from this or any checkout.
    const endpointId = await until(async () => {
      const events = (await (await api('GET', `/v1/checkouts/${first.checkoutSessionId}/events`)).json()) as {
        data: Array<{ deliveries: Array<{ endpointId: string; status: string }> }>;
      };
      const d = events.data
        .flatMap((e) => e.deliveries)
        .find((x) => x.endpointId.startsWith('gone-') && x.status === 'EndpointDisabled');
      return d?.endpointId;
    }, 'the endpoint disabled');
    expect(gone.received).toHaveLength(1);
    const second = await paidCheckout(stack, finalAmount('5.00', 'AuthorizeWithCapture'));
    await until(
      () => orders.delivered().filter((e) => e.data.checkoutSessionId === second.checkoutSessionId).length >= 2,
      'the other endpoint',
    );
    expect(gone.received).toHaveLength(1);

    const status = await (await api('GET', `/v1/webhook-endpoints/${endpointId}`)).json();
    expect(status).toMatchObject({ endpointId, status: 'Disabled' });
    expect((status as { reason: string }).reason).toContain('410');
    const listed = await until(async () => {
      const ids: string[] = [];
      for await (const w of stack.temporal.workflow.list({
        query: `WebhookEndpointStatus = 'Disabled' AND WorkflowId = 'webhook-endpoint-${endpointId}'`,
      }))
        ids.push(w.workflowId);
      return ids.length > 0 && ids;
    }, 'the endpoint in visibility');
    expect(listed).toEqual([`webhook-endpoint-${endpointId}`]);

    const enabled = await api('POST', `/v1/webhook-endpoints/${endpointId}/enable`);
    expect(enabled.status).toBe(200);
    expect(await enabled.json()).toMatchObject({ endpointId, status: 'Enabled', disabledAt: null });
    gone.answer = () => 204;
    // Redeliver sends a missed event to it under the same id (after the 5 s status cache of the worker).
    const missed = orders
      .delivered()
      .find((e) => e.data.checkoutSessionId === second.checkoutSessionId && e.type === 'checkout.completed')!;
    const redelivered = await until(async () => {
      const res = await api('POST', `/v1/events/${missed.id}/redeliver`, { 'idempotency-key': randomUUID() });
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        status: string;
        event: { deliveries: Array<{ endpointId: string; status: string }> };
      };
      return body.event.deliveries.find((d) => d.endpointId === endpointId)?.status === 'Delivered' && body;
    }, 'redelivery to the enabled endpoint');
    expect(redelivered.status).toBe('Done');
    expect(gone.delivered().map((e) => e.id)).toContain(missed.id);
  });

  it('GET events of an ended checkout, redeliver with the same key is one redelivery, unknown ids are 404s', async () => {
    const { checkoutSessionId, handle } = await paidCheckout(stack, finalAmount('6.00', 'AuthorizeWithCapture'));
    await handle.executeUpdate(closeUpdate, { args: [{ reason: 'done' }] });
    await handle.result();
    const res = await api('GET', `/v1/checkouts/${checkoutSessionId}/events`);
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as {
      data: Array<{
        id: string;
        type: string;
        deliveries: Array<{ endpointId: string; status: string; attempts: unknown[] }>;
      }>;
    };
    expect(data.map((e) => e.type)).toEqual(['checkout.completed', 'payment.captured', 'order.closed']);
    const closed = data[2]!;
    expect(closed.deliveries.find((d) => d.endpointId === 'orders')).toMatchObject({ status: 'Delivered' });

    const before = orders.received.filter((r) => r.id === closed.id).length;
    const key = randomUUID();
    const a = await api('POST', `/v1/events/${closed.id}/redeliver`, { 'idempotency-key': key });
    const b = await api('POST', `/v1/events/${closed.id}/redeliver`, { 'idempotency-key': key });
    expect([a.status, b.status]).toEqual([200, 200]);
    const bodyA = (await a.json()) as { redeliveryId: string; event: { id: string; type: string } };
    expect(bodyA.event).toMatchObject({ id: closed.id, type: 'order.closed' });
    expect(((await b.json()) as { redeliveryId: string }).redeliveryId).toBe(bodyA.redeliveryId);
    expect(orders.received.filter((r) => r.id === closed.id && r.event)).toHaveLength(before + 1);

    for (const [path, status, code] of [
      [`/v1/events/evt_checkout-${randomUUID()}_1/redeliver`, 404, 'event_not_found'],
      [`/v1/events/evt_amazon-pay-cp-S01-1_1/redeliver`, 404, 'event_not_found'],
      [`/v1/events/${closed.id.replace(/_\d+$/, '_99')}/redeliver`, 404, 'event_not_found'],
      ['/v1/events/not-an-event/redeliver', 400, 'validation_error'],
    ] as const) {
      const r = await api('POST', path);
      expect(r.status, path).toBe(status);
      expect(((await r.json()) as { error: { code: string } }).error.code, path).toBe(code);
    }
    const unknown = await api('GET', `/v1/checkouts/${randomUUID()}/events`);
    expect(unknown.status).toBe(404);
    expect((await api('GET', '/v1/webhook-endpoints/bad%20id')).status).toBe(400);
  });
});
