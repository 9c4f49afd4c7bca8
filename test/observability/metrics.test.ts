/**
 * Metrics as Prometheus scrapes them, after a checkout: the worker's endpoint is the Temporal SDK's
 * own exporter (Runtime telemetry), serving the SDK's metrics and ours (Amazon Pay calls, webhook
 * deliveries, and the business counters workflow code records); the API's endpoint serves its HTTP
 * and IPN metrics. A throttled capture shows up as a 429; a storefront checkout over HTTP moves the
 * status, money and delivery counters by exactly its amounts; every name the dashboard may query
 * (observability/metrics.ts) is served.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/dev-server';
import { API_METRICS, startMetricsServer, WORKER_METRICS, type MetricsServer } from '../../observability/metrics';
import { countOf, finalAmount, paidCheckout } from '../checkout/helpers';
import { startReceiver, type Receiver } from '../events/receiver';
import { subscribe } from '../subscriptions/helpers';
import { installTestRuntime } from '../support/logs';
import { parseSamples, sampleSum, scrape } from '../support/prometheus';
import { startTestStack, type TestStack } from '../support/stack';
import { until as waitFor } from '../support/until';

let stack: TestStack;
let workerMetrics: string;
let apiMetrics: MetricsServer;
let receiver: Receiver;

beforeAll(async () => {
  const port = await freePort();
  // Before the stack: the Runtime is created once per process, with its exporter or without.
  installTestRuntime({ metricsBindAddress: `127.0.0.1:${port}` });
  workerMetrics = `http://127.0.0.1:${port}/metrics`;
  receiver = await startReceiver();
  stack = await startTestStack({
    simulator: { delays: { refundMs: 300 } },
    webhooks: {
      endpoints: [{ id: 'orders', url: receiver.url, secrets: [receiver.secret] }],
      retryScheduleMs: [200, 400, 800],
      timeoutMs: 5_000,
    },
  });
  apiMetrics = await startMetricsServer({
    host: '127.0.0.1',
    port: 0,
    path: '/metrics',
    registry: stack.apiMetrics.registry,
  });
});
afterAll(async () => {
  await apiMetrics?.close();
  await stack?.[Symbol.asyncDispose]();
  await receiver?.[Symbol.asyncDispose]();
});

async function until(what: string, condition: () => Promise<boolean>) {
  const deadline = Date.now() + 30_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within 30 s: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const amazonCalls = async (labels: Record<string, string>) =>
  sampleSum(await scrape(workerMetrics), 'amazon_pay_api_calls_total', labels);

describe('metrics after a checkout', () => {
  it('the worker serves the SDK metrics and Amazon calls by operation and status; the API its requests and IPNs', async () => {
    const { checkoutSessionId: id, outcome } = await paidCheckout(stack, finalAmount('20.00', 'Authorize'));
    expect(outcome).toMatchObject({ completed: true, status: 'Authorized' });

    // Every Complete Amazon saw came from the worker, and was counted with Amazon's status.
    const completes = await countOf(stack, 'completeCheckoutSession');
    expect(completes).toBeGreaterThan(0);
    await until(
      'completeCheckoutSession counted',
      async () => (await amazonCalls({ operation: 'completeCheckoutSession', status: '200' })) === completes,
    );

    // Capture while Amazon throttles it: the 429 is visible, the retry captures once it lifts.
    // A bucket that never holds a whole token: every captureCharge is throttled until lifted.
    await stack.admin.setFaults({ throttling: { captureCharge: { maxQuota: 0.5, restorePerSecond: 0.5 } } });
    const capture = stack.app.request(`/v1/checkouts/${id}/capture`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${stack.apiKey}`,
        'content-type': 'application/json',
        'idempotency-key': `capture-${randomUUID()}`,
      },
      body: '{}',
    });
    await until(
      'a throttled captureCharge counted as 429',
      async () =>
        (await amazonCalls({ operation: 'captureCharge', status: '429', reason_code: 'TooManyRequests' })) >= 1,
    );
    await stack.admin.setFaults({ throttling: 'off' });
    const captured = await capture;
    expect(captured.status, await captured.clone().text()).toBe(200);
    await until(
      'captureCharge 200 counted',
      async () => (await amazonCalls({ operation: 'captureCharge', status: '200' })) === 1,
    );

    const worker = await scrape(workerMetrics);
    // The SDK's own metrics, from the same endpoint.
    expect(
      sampleSum(worker, 'temporal_activity_execution_latency_count', { activity_type: 'completeCheckoutSession' }),
    ).toBeGreaterThan(0);
    expect(sampleSum(worker, 'temporal_workflow_task_execution_latency_count')).toBeGreaterThan(0);
    expect(
      sampleSum(worker, 'amazon_pay_api_call_duration_ms_count', { operation: 'captureCharge' }),
    ).toBeGreaterThanOrEqual(2);

    await until(
      'the IPNs of the checkout accepted',
      async () =>
        sampleSum(await scrape(apiMetrics.url), 'amazon_pay_ipn_messages_total', { outcome: 'accepted' }) >= 1,
    );
    const api = await scrape(apiMetrics.url);
    const captureRoute = { method: 'POST', route: '/v1/checkouts/:checkoutSessionId/capture', status: '200' };
    expect(sampleSum(api, 'http_requests_total', captureRoute)).toBe(1);
    expect(sampleSum(api, 'http_request_duration_seconds_count', captureRoute)).toBe(1);
    expect(sampleSum(api, 'http_requests_total', { route: '/amazon-pay/ipn', status: '200' })).toBeGreaterThanOrEqual(
      1,
    );
  });
});

/** Over HTTP as a storefront does: button, review, amount, the buyer pays, the return URL completes. */
function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return stack.app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${stack.apiKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(method === 'POST' && /\/(capture|refunds)$/.test(path) ? { 'idempotency-key': `op-${randomUUID()}` } : {}),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function ok<T = Record<string, unknown>>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

async function storefrontCheckout(amount: string): Promise<string> {
  const config = await ok<{ payloadJSON: string; signature: string; publicKeyId: string; algorithm: string }>(
    await api('POST', '/v1/checkout-sessions/button-config', {
      amount: { amount, currencyCode: 'USD' },
      checkoutReviewReturnUrl: 'https://shop.example/checkout/review',
      merchantReferenceId: `cart-${randomUUID().slice(0, 8)}`,
    }),
  );
  const { checkoutSessionId: id } = await stack.admin.clickButton(config);
  await ok(await api('POST', `/v1/checkouts/${id}/review`));
  const { amazonPayRedirectUrl } = await ok<{ amazonPayRedirectUrl: string }>(
    await api('POST', `/v1/checkouts/${id}/amount`, {
      chargeAmount: { amount, currencyCode: 'USD' },
      paymentIntent: 'Authorize',
      canHandlePendingAuthorization: false,
      merchantReferenceId: `order-${randomUUID().slice(0, 8)}`,
      checkoutResultReturnUrl: `${stack.apiUrl}/v1/return/result`,
    }),
  );
  const back = new URL((await stack.admin.pay(amazonPayRedirectUrl, 'happy')).location);
  expect(await ok(await stack.app.request(`${back.pathname}${back.search}`))).toMatchObject({ status: 'Authorized' });
  return id;
}

/** The business counters' values now, summed over the SDK's tags. */
async function business() {
  const text = await scrape(workerMetrics);
  const checkouts = (status: string) => sampleSum(text, 'amazon_pay_checkout_transitions_total', { status });
  const money = (what: string) =>
    sampleSum(text, `amazon_pay_money_${what}_minor_total`, { currency: 'USD', object: 'checkout' });
  const deliveries = (outcome: string, status: string) =>
    sampleSum(text, 'amazon_pay_webhook_deliveries_total', { endpoint: 'orders', outcome, status });
  return {
    authorized: checkouts('Authorized'),
    captured: checkouts('Captured'),
    closed: checkouts('Closed'),
    authorizedMinor: money('authorized'),
    capturedMinor: money('captured'),
    refundedMinor: money('refunded'),
    subscriptionsActive: sampleSum(text, 'amazon_pay_subscription_transitions_total', { status: 'active' }),
    delivered: deliveries('delivered', '204'),
    rejected: deliveries('rejected', '503'),
  };
}

describe('business counters after a storefront checkout', () => {
  it('move by the checkout: statuses, money in minor units, webhook deliveries; a subscription by its status', async () => {
    // The first test's events may still be on their way: start from a settled count.
    await until('earlier deliveries counted', async () => (await business()).delivered === receiver.delivered().length);
    const before = await business();
    const deliveredBefore = receiver.delivered().length;
    // The endpoint refuses its first request once: counted as rejected with its status, then delivered.
    let refused = false;
    receiver.answer = () => (refused ? 204 : ((refused = true), 503));

    const id = await storefrontCheckout('49.99');
    await ok(await api('POST', `/v1/checkouts/${id}/capture`, {}));
    await ok(
      await api('POST', `/v1/checkouts/${id}/refunds`, { amount: { amount: '10.00', currencyCode: 'USD' } }),
      201,
    );
    await until('the refund settled', async () => {
      const status = await ok<{ refunds: Array<{ state: string }> }>(await api('GET', `/v1/checkouts/${id}`));
      return status.refunds[0]?.state === 'Refunded';
    });
    await ok(await api('POST', `/v1/checkouts/${id}/close`, { reason: 'Shipped' }));
    const events = [
      'checkout.completed',
      'payment.authorized',
      'payment.captured',
      'refund.pending',
      'refund.succeeded',
      'order.closed',
    ];
    await until('every event of the checkout delivered', async () => {
      const got = receiver.delivered().filter((e) => e.data.checkoutSessionId === id);
      return got.length === events.length;
    });
    await until('every delivery counted', async () => (await business()).delivered === receiver.delivered().length);
    const after = await business();
    expect({
      authorized: after.authorized - before.authorized,
      captured: after.captured - before.captured,
      closed: after.closed - before.closed,
      authorizedMinor: after.authorizedMinor - before.authorizedMinor,
      capturedMinor: after.capturedMinor - before.capturedMinor,
      refundedMinor: after.refundedMinor - before.refundedMinor,
      rejected: after.rejected - before.rejected,
      delivered: after.delivered - before.delivered,
    }).toEqual({
      authorized: 1,
      captured: 1,
      closed: 1,
      authorizedMinor: 4999,
      capturedMinor: 4999,
      refundedMinor: 1000,
      rejected: 1,
      // What the receiver answered 2xx since (this checkout's events, and any of the first test's still on their way).
      delivered: receiver.delivered().length - deliveredBefore,
    });
    expect(after.delivered - before.delivered).toBeGreaterThanOrEqual(events.length);

    // A subscription whose first cycle is its checkout's charge (AuthorizeWithCapture): active, and
    // that checkout's money captured (cycles billed later count with object="subscription").
    await subscribe(stack, { amount: '12.00' });
    const now = await waitFor(async () => {
      const now = await business();
      const done = now.subscriptionsActive > before.subscriptionsActive && now.capturedMinor > after.capturedMinor;
      return done && now;
    }, 'the subscription counted active');
    expect(now.subscriptionsActive - before.subscriptionsActive).toBe(1);
    expect(now.capturedMinor - after.capturedMinor).toBe(1200);
  });

  it('serves every metric name the dashboard may query (observability/metrics.ts)', async () => {
    // A sample, or a declared metric without one yet (a counter nothing moved in this file).
    const served = (text: string) =>
      new Set([
        ...parseSamples(text).map((s) => s.name),
        ...[...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) =>
          type === 'histogram' ? [`${name}_bucket`, `${name}_count`, `${name}_sum`] : [name!],
        ),
      ]);
    const worker = served(await scrape(workerMetrics));
    const api = served(await scrape(apiMetrics.url));
    expect(WORKER_METRICS.filter((name) => !worker.has(name))).toEqual([]);
    expect(API_METRICS.filter((name) => !api.has(name))).toEqual([]);
  });
});
