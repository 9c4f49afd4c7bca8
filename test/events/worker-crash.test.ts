// A worker process dies (SIGKILL) while a merchant event is on the wire: the receiver got the
// request, the worker never recorded the answer. The next worker sends the same event again under
// the same id (a duplicate, which the spec allows and the receiver dedupes by webhook-id), never
// under another id, and every later event still arrives after it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack';
import { captureUpdate, closeUpdate } from '../../workflows/checkout-messages';
import { eventsQuery } from '../../workflows/events/messages';
import { finalAmount, paidCheckout } from '../checkout/helpers';
import { startReceiver, type Receiver } from './receiver';
import { until } from '../support/until';

let stack: TestStack;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  stack = await startTestStack({
    worker: false,
    webhooks: {
      endpoints: [{ id: 'orders', url: receiver.url, secrets: [receiver.secret] }],
      retryScheduleMs: [1000, 1000, 1000],
      timeoutMs: 30_000,
    },
  });
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
  await receiver?.[Symbol.asyncDispose]();
});

describe('worker killed mid-delivery', () => {
  it('the event is sent again under the same id; no event ever has a second id; order holds', async () => {
    const proc = await stack.worker.spawnProcess();
    // The first request is held open until the worker that sent it is dead.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let first = true;
    receiver.answer = async () => {
      if (!first) return 204;
      first = false;
      await held;
      return 204;
    };
    const { checkoutSessionId, handle } = await paidCheckout(stack, finalAmount('15.00', 'Authorize'));
    const mine = () => receiver.received.filter((r) => r.event?.data.checkoutSessionId === checkoutSessionId);
    await until(() => mine().length >= 1, 'the first delivery on the wire');
    proc.kill();
    await proc.exited;
    release();
    await stack.temporal.workflowService.resetStickyTaskQueue({
      namespace: stack.namespace,
      execution: { workflowId: handle.workflowId },
    });
    await stack.worker.start();

    await handle.executeUpdate(captureUpdate, { args: [{}] });
    await handle.executeUpdate(closeUpdate, { args: [{ reason: 'Shipped' }] });
    await handle.result();

    const expected = ['checkout.completed', 'payment.authorized', 'payment.captured', 'order.closed'];
    const events = await handle.query(eventsQuery);
    expect(events.map((e) => e.type)).toEqual(expected);
    expect(events.every((e) => e.deliveries[0]!.status === 'Delivered')).toBe(true);
    const got = mine().map((r) => r.event!);
    // Only the recorded ids ever reached the receiver: one id per event, however often it was sent.
    expect(new Set(got.map((e) => e.id))).toEqual(new Set(events.map((e) => e.id)));
    for (const e of got) expect(e.type).toBe(events.find((x) => x.id === e.id)!.type);
    const duplicates = got.length - new Set(got.map((e) => e.id)).size;
    expect(duplicates).toBeGreaterThanOrEqual(1);
    // Deduplicated by webhook-id, in arrival order, the receiver saw the events in the order they happened.
    const firstSeen = [...new Map(got.map((e) => [e.id, e])).values()];
    expect(firstSeen.map((e) => e.type)).toEqual(expected);
  }, 120_000);
});
