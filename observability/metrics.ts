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
 *   and reason code (429s and 5xx visible; status 0 is no answer at all).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricMeter } from '@temporalio/common';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { AmazonPayCallOutcome } from '../amazon-pay/client';

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
