/**
 * Metrics as Prometheus scrapes them, after a checkout: the worker's endpoint is the Temporal SDK's
 * own exporter (Runtime telemetry), serving the SDK's metrics and our Amazon Pay call counters; the
 * API's endpoint serves its HTTP and IPN metrics. A throttled capture shows up as a 429.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/dev-server';
import { startMetricsServer, type MetricsServer } from '../../observability/metrics';
import { countOf, finalAmount, paidCheckout } from '../checkout/helpers';
import { installTestRuntime } from '../support/logs';
import { sampleSum, scrape } from '../support/prometheus';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
let workerMetrics: string;
let apiMetrics: MetricsServer;

beforeAll(async () => {
  const port = await freePort();
  // Before the stack: the Runtime is created once per process, with its exporter or without.
  installTestRuntime({ metricsBindAddress: `127.0.0.1:${port}` });
  workerMetrics = `http://127.0.0.1:${port}/metrics`;
  stack = await startTestStack();
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
