/**
 * Prometheus metrics of each process, each on a port of its own (config: METRICS_HOST,
 * API_METRICS_PORT, WORKER_METRICS_PORT; off when unset):
 *
 * - API: prom-client. `http_requests_total` and `http_request_duration_seconds` by method, route
 *   pattern and status; `amazon_pay_ipn_messages_total` by outcome; Node process metrics.
 * - Worker: the Temporal SDK's own Prometheus exporter (Core; `temporal_*`: task latencies, slots,
 *   polls, activity and workflow outcomes, request latencies) plus our counters, recorded through
 *   the Runtime's metric meter so that they are served on that same endpoint:
 *   `amazon_pay_api_calls_total` and `amazon_pay_api_call_duration_ms` by operation, HTTP status
 *   and reason code (429s and 5xx visible; status 0 is no answer at all);
 *   `amazon_pay_webhook_deliveries_total` by endpoint, outcome and status (activities/events.ts);
 *   and, from workflow code through the SDK's workflow metric meter, checkouts and subscriptions by
 *   status and money authorized, captured and refunded by currency (workflows/events/metrics.ts).
 *
 * The Core exporter serves a name as given (no `_total` or unit suffix added: runtime.ts), with the
 * SDK's tags (namespace, task_queue, and activity_type or workflow_type). WORKER_METRICS and
 * API_METRICS below list what each endpoint serves, as scraped: the dashboard's queries are checked
 * against them (observability/dashboard.test.ts) and they against a real scrape
 * (test/observability/metrics.test.ts).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricMeter } from '@temporalio/common';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { AmazonPayCallOutcome } from '../amazon-pay/client';
import {
  CHECKOUT_TRANSITIONS,
  MONEY_AUTHORIZED,
  MONEY_CAPTURED,
  MONEY_REFUNDED,
  SUBSCRIPTION_TRANSITIONS,
} from '../workflows/events/metrics';

/** A histogram as Prometheus scrapes it. */
const histogram = (name: string) => [`${name}_bucket`, `${name}_count`, `${name}_sum`];

/** The API's endpoint (prom-client), besides Node's process_* and nodejs_* metrics. */
export const API_METRICS: readonly string[] = [
  'http_requests_total',
  ...histogram('http_request_duration_seconds'),
  'amazon_pay_ipn_messages_total',
];

/** Ours on the worker's endpoint (the Runtime's metric meter, from activities and workflows). */
export const WORKER_BUSINESS_METRICS: readonly string[] = [
  'amazon_pay_api_calls_total',
  ...histogram('amazon_pay_api_call_duration_ms'),
  'amazon_pay_webhook_deliveries_total',
  CHECKOUT_TRANSITIONS,
  SUBSCRIPTION_TRANSITIONS,
  MONEY_AUTHORIZED,
  MONEY_CAPTURED,
  MONEY_REFUNDED,
];

/**
 * The SDK's metrics the dashboard shows (Core names them; see Temporal's SDK metrics reference).
 * Not all of them: the exporter serves some 40, these are the ones an operator looks at first.
 */
export const WORKER_SDK_METRICS: readonly string[] = [
  ...histogram('temporal_workflow_task_execution_latency'),
  ...histogram('temporal_workflow_task_schedule_to_start_latency'),
  ...histogram('temporal_activity_execution_latency'),
  ...histogram('temporal_activity_schedule_to_start_latency'),
  'temporal_activity_execution_failed',
  'temporal_workflow_completed',
  'temporal_worker_task_slots_available',
  'temporal_sticky_cache_size',
];

export const WORKER_METRICS: readonly string[] = [...WORKER_BUSINESS_METRICS, ...WORKER_SDK_METRICS];

export interface ApiMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  ipnMessages: Counter<'outcome'>;
}

/** A registry of its own (not prom-client's global one), so two apps in one process never mix. */
export function createApiMetrics(options: { processMetrics?: boolean } = {}): ApiMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      // Most answers wait for a workflow update (an Amazon call behind it): up to the 10 s timeouts.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    ipnMessages: new Counter({
      name: 'amazon_pay_ipn_messages_total',
      help: 'SNS messages at the IPN endpoint by outcome: accepted, subscription_confirmed, or the error code they were refused with',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}

/**
 * The Amazon Pay client's onCall for the worker: counts and times every call on the Runtime's
 * metric meter (Core exports it with the SDK's metrics; a no-op meter when metrics are off).
 */
export function amazonPayCallMetrics(meter: MetricMeter): (call: AmazonPayCallOutcome) => void {
  const calls = meter.createCounter(
    'amazon_pay_api_calls_total',
    undefined,
    'Amazon Pay API calls by operation, HTTP status (0: no answer) and reason code',
  );
  const duration = meter.createHistogram(
    'amazon_pay_api_call_duration_ms',
    'float',
    'ms',
    'Amazon Pay API call duration by operation and HTTP status',
  );
  return ({ operation, status, reasonCode, durationMs }) => {
    calls.add(1, { operation, status: String(status), reason_code: reasonCode ?? '' });
    duration.record(durationMs, { operation, status: String(status) });
  };
}

/**
 * What became of one attempt to send a merchant event: answered 2xx (delivered), answered
 * otherwise (rejected; 410 is gone, which disables the endpoint), no answer (timeout, unreachable),
 * or not sent because the endpoint is disabled or no longer configured (skipped).
 */
export type WebhookDeliveryOutcome = 'delivered' | 'rejected' | 'gone' | 'timeout' | 'unreachable' | 'skipped';

/** Counts webhook delivery attempts (events, not batches) on the given meter (an activity's Context.metricMeter). */
export function countWebhookDeliveries(
  meter: MetricMeter,
  attempt: { endpointId: string; outcome: WebhookDeliveryOutcome; status: number },
  events = 1,
): void {
  meter
    .createCounter(
      'amazon_pay_webhook_deliveries_total',
      undefined,
      'Merchant events sent to webhook endpoints, by endpoint id, outcome and HTTP status (0: no answer or not sent)',
    )
    .add(events, { endpoint: attempt.endpointId, outcome: attempt.outcome, status: String(attempt.status) });
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** Serves a registry in Prometheus' text format at `path` (every other path is 404). */
export async function startMetricsServer(options: {
  host: string;
  port: number;
  path: string;
  registry: Registry;
}): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || new URL(req.url ?? '/', 'http://x').pathname !== options.path) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    options.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
      (err: unknown) =>
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}${options.path}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
