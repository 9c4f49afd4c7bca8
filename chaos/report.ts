// The run's summary: a table on the console and the same facts as JSON.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FaultEvent } from './faults';
import type { CheckoutRecord } from './load';
import type { ChaosOptions } from './options';
import type { Anomaly, MoneyTotals } from './reconcile';
import type { CycleTotals } from './reconcile-subscriptions';

export interface ChaosReport {
  version: 1;
  startedAt: string;
  finishedAt: string;
  seed: number;
  options: Omit<ChaosOptions, 'jsonFile'>;
  machine: { cpus: number; node: string; platform: string };
  load: {
    seconds: number;
    storefronts: number;
    checkoutsStarted: number;
    checkoutsFinished: number;
    checkoutsPerMinute: number;
    byScenario: Record<string, { finished: number; problems: number; unfinished: number }>;
    subscriptions: SubscriptionSummary;
  };
  settle: { seconds: number; settled: boolean };
  faults: { injected: Record<string, number>; failed: number; events: FaultEvent[] };
  http: { counts: Record<string, number>; validRequests: number; hostileRequests: number; storefrontRetries: number };
  amazon: {
    byOperation: Record<string, number>;
    idempotencyKeys: number;
    maxRequestsPerKey: number;
    ipnsForwarded: number;
  };
  money: MoneyTotals & { reconciledCheckouts: number };
  /** What was searched for the simulator's buyer data. */
  privacy: { logFiles: number; logBytes: number; searchAttributeSets: number; histories: number; unreadable: boolean };
  processes: Record<string, { starts: number }>;
  anomalies: Anomaly[];
  passed: boolean;
  dataDir: string | null;
}

export interface SubscriptionSummary extends CycleTotals {
  /** Recurring checkouts started (declined sign-ups included). */
  signUps: number;
  byLifecycle: Record<string, number>;
  /** Storefront requests on subscriptions (and the buyer's acts at Amazon), by operation. */
  actions: Record<string, number>;
  /** Final subscription statuses. */
  byStatus: Record<string, number>;
}

export function subscriptionSummary(
  checkouts: CheckoutRecord[],
  totals: CycleTotals,
  finalStatus: (c: CheckoutRecord) => string | null = () => null,
): SubscriptionSummary {
  const out: SubscriptionSummary = { ...totals, signUps: 0, byLifecycle: {}, actions: {}, byStatus: {} };
  for (const c of checkouts) {
    const sub = c.subscription;
    if (!sub) continue;
    out.signUps++;
    out.byLifecycle[sub.lifecycle] = (out.byLifecycle[sub.lifecycle] ?? 0) + 1;
    for (const a of sub.actions) out.actions[a.op] = (out.actions[a.op] ?? 0) + 1;
    const st = finalStatus(c);
    if (st) out.byStatus[st] = (out.byStatus[st] ?? 0) + 1;
  }
  return out;
}

export function byScenario(checkouts: CheckoutRecord[]): ChaosReport['load']['byScenario'] {
  const out: ChaosReport['load']['byScenario'] = {};
  for (const c of checkouts) {
    const s = (out[c.scenario] ??= { finished: 0, problems: 0, unfinished: 0 });
    if (c.problem) s.problems++;
    else if (c.unfinished) s.unfinished++;
    else s.finished++;
  }
  return out;
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));

export function summaryTable(r: ChaosReport): string {
  const rows: Array<[string, string]> = [
    ['result', r.passed ? 'PASSED (no anomaly)' : `FAILED (${r.anomalies.length} anomalies)`],
    ['seed', String(r.seed)],
    [
      'load',
      `${r.load.seconds} s, ${r.load.storefronts} storefronts, ${r.load.checkoutsStarted} checkouts started, ${r.load.checkoutsFinished} finished (${r.load.checkoutsPerMinute}/min)`,
    ],
    ...Object.entries(r.load.byScenario).map(([s, v]): [string, string] => [
      `  ${s}`,
      `${v.finished} finished, ${v.unfinished} cut by the end of load, ${v.problems} with problems`,
    ]),
    [
      'subscriptions',
      `${r.load.subscriptions.signUps} recurring checkouts, ${r.load.subscriptions.subscriptions} subscriptions (${r.load.subscriptions.trials} free trials), ${r.load.subscriptions.cyclesCharged} cycles charged (${(r.load.subscriptions.chargedMinor / 100).toFixed(2)} USD, ${r.load.subscriptions.movements} movements reconciled per cycle)`,
    ],
    [
      '  lives',
      Object.entries(r.load.subscriptions.byLifecycle)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ') || 'none',
    ],
    [
      '  requests',
      Object.entries(r.load.subscriptions.actions)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ') || 'none',
    ],
    [
      '  final',
      Object.entries(r.load.subscriptions.byStatus)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ') || 'none',
    ],
    ['settle', `${r.settle.seconds} s${r.settle.settled ? '' : ' (timed out)'}`],
    [
      'faults',
      Object.entries(r.faults.injected)
        .map(([f, n]) => `${f} x${n}`)
        .join(', ') || 'none',
    ],
    [
      'http',
      `${r.http.validRequests} storefront requests (${r.http.storefrontRetries} retried), ${r.http.hostileRequests} hostile`,
    ],
    [
      '  statuses',
      Object.entries(r.http.counts)
        .sort()
        .map(([k, n]) => `${k}: ${n}`)
        .join(', '),
    ],
    [
      'amazon',
      `${Object.values(r.amazon.byOperation).reduce((s, n) => s + n, 0)} calls, ${r.amazon.idempotencyKeys} idempotency keys (max ${r.amazon.maxRequestsPerKey} requests on one), ${r.amazon.ipnsForwarded} IPNs delivered`,
    ],
    [
      'money',
      `${r.money.reconciledCheckouts} checkouts, ${r.money.movements} movements reconciled: authorized ${(r.money.authorizedMinor / 100).toFixed(2)}, captured ${(r.money.capturedMinor / 100).toFixed(2)}, refunded ${(r.money.refundedMinor / 100).toFixed(2)} USD`,
    ],
    [
      'buyer data',
      `searched ${r.privacy.logFiles} log files (${Math.round(r.privacy.logBytes / 1024)} KiB), ${r.privacy.searchAttributeSets} workflows' search attributes, ${r.privacy.histories} histories read without the key${r.privacy.unreadable ? ' (Temporal unreadable!)' : ''}`,
    ],
    [
      'restarts',
      Object.entries(r.processes)
        .map(([p, v]) => `${p} ${v.starts}`)
        .join(', '),
    ],
    ['anomalies', String(r.anomalies.length)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  const lines = rows.map(([k, v]) => `  ${pad(k, width)}${v}`);
  for (const a of r.anomalies.slice(0, 40)) lines.push(`    - ${a.kind}: ${a.detail}`);
  if (r.anomalies.length > 40) lines.push(`    ... ${r.anomalies.length - 40} more in the JSON report`);
  return `\nChaos run summary\n${lines.join('\n')}\n`;
}

export function writeReport(file: string, report: ChaosReport): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}
