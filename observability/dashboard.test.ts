/**
 * The observability profile, checked without a Docker engine: docker-compose.yml's prometheus and
 * grafana services, Prometheus' targets against the ports the app services set, and every metric
 * the Grafana dashboard queries against the names our processes serve (observability/metrics.ts;
 * test/observability/metrics.test.ts checks those lists against a real scrape).
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { API_METRICS, WORKER_BUSINESS_METRICS, WORKER_METRICS } from './metrics';

const repoFile = (p: string) => new URL(`../${p}`, import.meta.url);
const read = (p: string) => readFileSync(repoFile(p), 'utf8');

interface Service {
  profiles?: string[];
  environment?: Record<string, string | number>;
  volumes?: string[];
}
const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service> };
const prometheus = parse(read('observability/prometheus/prometheus.yml')) as {
  scrape_configs: Array<{
    job_name: string;
    metrics_path?: string;
    static_configs?: Array<{ targets: string[] }>;
    dns_sd_configs?: Array<{ names: string[]; type: string; port: number }>;
  }>;
};
const dashboard = JSON.parse(read('observability/grafana/dashboards/amazon-pay.json')) as {
  panels: Array<{ type: string; title: string; datasource?: { uid: string }; targets?: Array<{ expr: string }> }>;
};

const PROMQL_WORDS = new Set(
  'sum by without rate increase irate histogram_quantile avg min max count topk bottomk on ignoring group_left group_right and or unless offset bool'.split(
    ' ',
  ),
);

/** The metric names a PromQL expression selects (label names, values, functions and ranges left out). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  return [...bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g)]
    .filter(([, name, call]) => !call && !PROMQL_WORDS.has(name!))
    .map(([, name]) => name!);
}

describe('the observability profile (docker-compose.yml)', () => {
  it('runs Prometheus and Grafana only with --profile observability, from files in the repository', () => {
    const { prometheus: prom, grafana } = compose.services;
    expect(prom?.profiles).toEqual(['observability']);
    expect(grafana?.profiles).toEqual(['observability']);
    for (const volume of [...prom!.volumes!, ...grafana!.volumes!]) {
      const [source] = volume.split(':');
      if (source!.startsWith('./')) expect(existsSync(repoFile(source!.slice(2))), volume).toBe(true);
    }
    expect(prom!.volumes).toContain('./observability/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    // The app services stay outside any profile: `docker compose up` still starts them alone.
    expect(compose.services.api?.profiles).toBeUndefined();
    expect(compose.services.worker?.profiles).toBeUndefined();
  });

  it('scrapes the API and every worker replica on the ports the app services bind, on all interfaces', () => {
    const { api, worker } = compose.services;
    expect(api!.environment).toMatchObject({ METRICS_HOST: '0.0.0.0' });
    expect(worker!.environment).toMatchObject({ METRICS_HOST: '0.0.0.0' });
    const job = (name: string) => prometheus.scrape_configs.find((j) => j.job_name === name)!;
    expect(job('api').metrics_path ?? '/metrics').toBe('/metrics');
    expect(job('api').static_configs!.flatMap((c) => c.targets)).toEqual([`api:${api!.environment!.API_METRICS_PORT}`]);
    expect(job('worker').metrics_path ?? '/metrics').toBe('/metrics');
    expect(job('worker').dns_sd_configs).toEqual([
      expect.objectContaining({ names: ['worker'], type: 'A', port: Number(worker!.environment!.WORKER_METRICS_PORT) }),
    ]);
  });

  it('provisions the datasource the dashboard names, and the dashboard from the mounted folder', () => {
    const datasources = parse(read('observability/grafana/provisioning/datasources/prometheus.yml')) as {
      datasources: Array<{ uid: string; type: string; url: string }>;
    };
    expect(datasources.datasources).toEqual([
      expect.objectContaining({ uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090' }),
    ]);
    const providers = parse(read('observability/grafana/provisioning/dashboards/dashboards.yml')) as {
      providers: Array<{ options: { path: string } }>;
    };
    expect(compose.services.grafana!.volumes).toContain(
      `./observability/grafana/dashboards:${providers.providers[0]!.options.path}:ro`,
    );
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row'))
      expect(panel.datasource?.uid, panel.title).toBe('prometheus');
  });
});

describe('the Grafana dashboard', () => {
  const queried = dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr, names: metricNames(t.expr) })),
  );

  it('reads each metric name out of a query', () => {
    expect(
      metricNames('histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket[5m])))'),
    ).toEqual(['http_request_duration_seconds_bucket']);
    expect(
      metricNames('sum by (operation) (rate(amazon_pay_api_calls_total{status=~"5..|0"}[$__rate_interval]))'),
    ).toEqual(['amazon_pay_api_calls_total']);
  });

  it('queries only metrics our processes serve, and shows every business counter', () => {
    const served = new Set([...API_METRICS, ...WORKER_METRICS]);
    for (const q of queried) {
      expect(q.names.length, `${q.panel}: ${q.expr}`).toBeGreaterThan(0);
      for (const name of q.names) expect(served.has(name), `${q.panel}: ${name} is not served`).toBe(true);
    }
    const shown = new Set(queried.flatMap((q) => q.names));
    const base = (name: string) => name.replace(/_(bucket|count|sum)$/, '');
    const shownBase = new Set([...shown].map(base));
    for (const name of [...WORKER_BUSINESS_METRICS, ...API_METRICS]) expect(shownBase.has(base(name)), name).toBe(true);
  });
});
