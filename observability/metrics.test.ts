import { describe, expect, it } from 'vitest';
import { createApiMetrics, startMetricsServer } from './metrics';

describe('the metrics endpoint', () => {
  it('serves its registry in Prometheus text format at its path, and nothing elsewhere', async () => {
    const metrics = createApiMetrics();
    metrics.httpRequests.inc({ method: 'GET', route: '/health', status: '200' });
    const server = await startMetricsServer({
      host: '127.0.0.1',
      port: 0,
      path: '/metrics',
      registry: metrics.registry,
    });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const res = await fetch(server.url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      expect(text).toContain('http_requests_total{method="GET",route="/health",status="200"} 1');
      // Node process metrics come with it.
      expect(text).toMatch(/^process_cpu_user_seconds_total /m);
      expect((await fetch(server.url.replace('/metrics', '/other'))).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('keeps each registry apart: two APIs in one process do not count each other', () => {
    const a = createApiMetrics({ processMetrics: false });
    const b = createApiMetrics({ processMetrics: false });
    a.ipnMessages.inc({ outcome: 'accepted' });
    expect(b.ipnMessages).not.toBe(a.ipnMessages);
    return b.registry.metrics().then((text) => expect(text).not.toContain('outcome="accepted"'));
  });
});
