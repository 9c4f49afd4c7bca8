// What one happy checkout costs (issue 8, defects 7 and 8), driven through the API as a storefront
// does (review starts the workflow with update-with-start), IPNs on: the Amazon Pay calls the
// simulator counted, and the Temporal actions in the checkout's history. Counts are behaviour.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { startTestStack, type TestStack } from '../support/stack';
import { checkoutWorkflowId, type CheckoutStatus, type PaymentIntent } from '../../workflows/checkout-messages';
import { STORE_ID, finalAmount, waitForStatus, type CheckoutHandle } from './helpers';
import { until } from '../support/until';
import { recordHistory } from './record';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
});

async function api<T>(method: string, path: string, body?: unknown, key?: string): Promise<T> {
  const res = await stack.app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${stack.apiKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(key ? { 'idempotency-key': key } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as T;
}

const counts = async () => ({ ...(await stack.admin.requestCounts()).byOperation });

/** The storefront's checkout through the API; returns the Amazon calls it caused, by operation, and the session id. */
async function checkout(
  intent: PaymentIntent,
  capture?: string,
  beforeClose?: (handle: WorkflowHandle) => Promise<void>,
) {
  // The button and the buyer's sign-in happen at Amazon before our service is involved.
  const session = await stack.amazonPay.createCheckoutSession(
    { storeId: STORE_ID, webCheckoutDetails: { checkoutReviewReturnUrl: 'https://shop.example/review' } },
    { idempotencyKey: randomUUID().replace(/-/g, '') },
  );
  const id = session.checkoutSessionId;
  await stack.admin.signIn(id);
  const before = await counts();
  await api('POST', `/v1/checkouts/${id}/review`, {});
  const { amazonPayRedirectUrl } = await api<{ amazonPayRedirectUrl: string }>(
    'POST',
    `/v1/checkouts/${id}/amount`,
    finalAmount('30.00', intent),
  );
  await stack.admin.pay(amazonPayRedirectUrl, 'happy');
  await api('POST', `/v1/checkouts/${id}/complete`);
  if (capture)
    await api(
      'POST',
      `/v1/checkouts/${id}/capture`,
      { amount: { amount: capture, currencyCode: 'USD' } },
      `capture-${id}`,
    );
  const handle = stack.temporal.workflow.getHandle(checkoutWorkflowId(id));
  await beforeClose?.(handle);
  await api('POST', `/v1/checkouts/${id}/close`, {});
  expect(await handle.result()).toMatchObject({ status: 'Closed', final: true } satisfies Partial<CheckoutStatus>);
  await stack.simulator.ipn.idle();
  const after = await counts();
  const calls = Object.fromEntries(
    Object.entries(after).flatMap(([op, n]) => (n - (before[op] ?? 0) ? [[op, n - (before[op] ?? 0)]] : [])),
  );
  return { id, calls, handle };
}

const total = (calls: Record<string, number>) => Object.values(calls).reduce((a, b) => a + b, 0);

/** Billable actions in a history (Temporal Cloud): start, activities, timers, signals, updates, search-attribute upserts, markers. */
function actionsIn(events: temporal.api.history.v1.IHistoryEvent[]): number {
  return events.filter(
    (e) =>
      e.workflowExecutionStartedEventAttributes ||
      e.activityTaskScheduledEventAttributes ||
      e.timerStartedEventAttributes ||
      e.workflowExecutionSignaledEventAttributes ||
      e.workflowExecutionUpdateAcceptedEventAttributes ||
      e.upsertWorkflowSearchAttributesEventAttributes ||
      e.markerRecordedEventAttributes,
  ).length;
}

describe('what a happy checkout costs', () => {
  it('Authorize, capture, close: five Amazon calls (Get Checkout Session once, Update, Complete, one Get Charge, Capture)', async () => {
    const { calls, handle } = await checkout('Authorize', '30.00');
    // Before: the session read twice, the charge read after every IPN, the permission closed and read again (11).
    expect(calls).toEqual({
      getCheckoutSession: 1,
      updateCheckoutSession: 1,
      completeCheckoutSession: 1,
      getCharge: 1,
      captureCharge: 1,
    });
    expect(total(calls)).toBeLessThanOrEqual(5);
    await recordHistory(handle, 'authorize-capture-close-read-once');
    // Reported, not asserted (issue 8, defect 8 is a goal, not met here): see the README.
    console.log(
      `checkout Authorize->capture->close: ${total(calls)} Amazon calls, ${actionsIn((await handle.fetchHistory()).events ?? [])} Temporal actions in its history`,
    );
  });

  it('the refund window is one timer, however many IPNs wake the order while it waits', async () => {
    const events = async (h: WorkflowHandle) => (await h.fetchHistory()).events ?? [];
    const refundWindow = async (h: WorkflowHandle) =>
      (await events(h)).filter(
        (e) => Number(e.timerStartedEventAttributes?.startToFireTimeout?.seconds ?? 0) > 100 * 86_400,
      ).length;
    const { handle } = await checkout('Authorize', '30.00', async (h) => {
      await until(async () => (await refundWindow(h)) >= 1, 'the refund window timer');
      const { chargePermissionId, charge } = await waitForStatus(h as CheckoutHandle, (st) => st.status === 'Captured');
      const signals = async () => (await events(h)).filter((e) => e.workflowExecutionSignaledEventAttributes).length;
      const before = await signals();
      // Three IPNs about the captured charge (Amazon repeats itself): each wakes the order, changes nothing.
      for (let i = 0; i < 3; i++)
        stack.simulator.ipn.notify({
          objectType: 'CHARGE',
          objectId: charge!.chargeId,
          chargePermissionId: chargePermissionId!,
          notificationType: 'STATE_CHANGE',
        });
      await stack.simulator.ipn.idle();
      // Each one handled: signalled, and the task that reacted to it completed (its commands are in).
      await until(async () => {
        const all = await events(h);
        const last = (pick: (e: (typeof all)[number]) => unknown) => all.findLastIndex((e) => pick(e));
        const completed = last((e) => e.workflowTaskCompletedEventAttributes);
        return (
          all.filter((e) => e.workflowExecutionSignaledEventAttributes).length >= before + 3 &&
          completed > last((e) => e.workflowExecutionSignaledEventAttributes) &&
          completed > last((e) => e.workflowTaskScheduledEventAttributes)
        );
      }, 'the IPNs handled');
    });
    // Before: a new 180-day timer at every wake-up (six in this test).
    expect(await refundWindow(handle)).toBe(1);
    await recordHistory(handle, 'refund-window-one-timer');
  });

  it('AuthorizeWithCapture, close: four Amazon calls', async () => {
    const { calls, handle } = await checkout('AuthorizeWithCapture');
    // The review's start carries the first attributes: the workflow upserts only what changed after.
    const statuses = ((await handle.fetchHistory()).events ?? []).flatMap((e) => {
      const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {};
      return fields.CheckoutStatus ? [JSON.parse(Buffer.from(fields.CheckoutStatus.data!).toString())] : [];
    });
    expect(statuses[0]).not.toBe('AwaitingBuyer');
    expect(statuses.at(-1)).toBe('Closed');
    expect(calls).toEqual({
      getCheckoutSession: 1,
      updateCheckoutSession: 1,
      completeCheckoutSession: 1,
      getCharge: 1,
    });
  });

  it('a partial capture leaves the permission open at Amazon: the order closes it', async () => {
    const { id, calls } = await checkout('Authorize', '20.00');
    expect(calls).toMatchObject({ captureCharge: 1, closeChargePermission: 1 });
    const status = await api<CheckoutStatus>('GET', `/v1/checkouts/${id}`);
    expect((await stack.amazonPay.getChargePermission(status.chargePermissionId!)).statusDetails.state).toBe('Closed');
  });
});
