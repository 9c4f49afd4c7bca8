// The benchmark's outputs: the table printed after a run, the JSON file, and the generated
// sections of bench/RESULTS.md (between `<!-- bench:<profile> -->` markers; the rest of that file
// is written by hand and left alone).
import { readFile, writeFile } from 'node:fs/promises';
import type { CostSnapshot, PathCost } from './cost';
import type { FaultResult } from './faults';
import type { IpnResult } from './ipn';
import { percentiles } from './support';
import type { ThroughputResult } from './throughput';
import type { WebhookResult } from './webhooks';
import type { SubscriptionCostResult } from './subscription-cost';
import type { ScaleResult } from './subscriptions-scale';

export interface Machine {
  date: string;
  cores: number;
  cpuModel: string;
  ramGiB: number;
  node: string;
  os: string;
  temporal: string;
  /** 1/5/15-minute load averages when the run started and ended (other agents may share the CPU). */
  loadAtStart: number[];
  loadAtEnd: number[];
}

export interface RunResults {
  profile: 'quick' | 'full';
  command: string;
  machine: Machine;
  seconds: number;
  throughput?: ThroughputResult;
  ipn?: IpnResult;
  cost?: PathCost[];
  faults?: FaultResult;
  webhooks?: WebhookResult;
  cycles?: SubscriptionCostResult;
  scale?: ScaleResult;
  /** Where P4's cycles and P5 ran. */
  subscriptionServer?: string;
}

import { f1, f2, ms, rows, type Row } from './figures';

export { rows, type Row } from './figures';

export function table(rs: Row[]): string {
  const head: Row = {
    id: '',
    metric: 'metric',
    ours: 'ours',
    baseline: 'baseline',
    ratio: 'ratio',
    goal: 'goal',
    met: 'met',
  };
  const cols = ['id', 'metric', 'ours', 'baseline', 'ratio', 'goal', 'met'] as const;
  const all = [head, ...rs];
  const width = cols.map((c) => Math.max(...all.map((r) => r[c].length)));
  return all
    .map((r) =>
      cols
        .map((c, k) => r[c].padEnd(width[k]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function markdownTable(rs: Row[]): string {
  const lines = ['| | metric | ours | baseline | ratio | goal | met |', '|---|---|---|---|---|---|---|'];
  for (const r of rs)
    lines.push(`| ${r.id} | ${r.metric} | ${r.ours} | ${r.baseline} | ${r.ratio} | ${r.goal} | ${r.met} |`);
  return lines.join('\n');
}

/** The P4 breakdown: every billable kind and name, before and after the close. */
export function breakdown(p: PathCost): string {
  const key = (k: string, n: string) => `${k}\u0000${n}`;
  const names = new Map<string, { kind: string; name: string }>();
  for (const snap of [p.settled, p.closed])
    for (const it of snap.actions.items) names.set(key(it.kind, it.name), { kind: it.kind, name: it.name });
  const get = (snap: CostSnapshot, k: string, n: string) =>
    snap.actions.items.find((it) => it.kind === k && it.name === n);
  const lines = [
    `${p.intent} (${p.steps}), then closed by the merchant — actions: before close / whole life (events, count)`,
  ];
  const sorted = [...names.values()].sort(
    (a, b) =>
      (get(p.closed, b.kind, b.name)?.actions ?? 0) - (get(p.closed, a.kind, a.name)?.actions ?? 0) ||
      a.kind.localeCompare(b.kind),
  );
  for (const { kind, name } of sorted) {
    const s = get(p.settled, kind, name);
    const c = get(p.closed, kind, name);
    lines.push(
      `  ${kind.padEnd(24)} ${String(s?.actions ?? 0).padStart(3)} / ${String(c?.actions ?? 0).padStart(3)}   (${c?.count ?? s?.count ?? 0}×) ${name}`,
    );
  }
  lines.push(
    `  ${'query (API client)'.padEnd(24)} ${String(p.settled.queries).padStart(3)} / ${String(p.closed.queries).padStart(3)}   ${Object.keys(p.closed.clientCalls).join(', ') || '-'}`,
  );
  lines.push(`  ${'TOTAL'.padEnd(24)} ${String(p.settled.total).padStart(3)} / ${String(p.closed.total).padStart(3)}`);
  const kinds = Object.entries(p.closed.actions.byKind)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  lines.push(`  by kind (whole life): ${kinds}, query ${p.closed.queries}`);
  const varying = [...new Set(p.kindsClosed.flatMap((k) => Object.keys(k)))]
    .map((kind) => ({ kind, values: p.kindsClosed.map((k) => k[kind as keyof typeof k] ?? 0) }))
    .filter(({ values }) => Math.min(...values) !== Math.max(...values));
  if (varying.length) {
    lines.push(
      `  varies over the ${p.checkouts} checkouts (IPN timing): ${varying.map(({ kind, values }) => `${kind} ${values.join('/')}`).join(', ')}`,
    );
  }
  lines.push(
    `  history events (whole life): checkout ${p.closed.historyEvents.checkout}, inbox ${p.closed.historyEvents.inbox}`,
  );
  const longest = p.closed.longestActivityMs;
  lines.push(
    `  activity heartbeats (not in histories): ` +
      (longest < 1000
        ? `none, the longest activity ran ${ms(longest)} ms (they start after 1 s)`
        : `UNCOUNTED, an activity ran ${ms(longest)} ms (they start after 1 s)`),
  );
  const ops = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  lines.push(
    `  Amazon calls: ${p.settled.amazonCalls} before close (${ops(p.settled.amazonByOperation)}); ${p.closed.amazonCalls} whole life (${ops(p.closed.amazonByOperation)})`,
  );
  return lines.join('\n');
}

export function details(r: RunResults): string {
  const parts: string[] = [];
  const t = r.throughput;
  if (t) {
    const c = (s: typeof t.ours) =>
      `${ms(s.cpuMsPerCheckout.node)} ms in this process (API, worker, simulator), ${ms(s.cpuMsPerCheckout.devServer)} ms in the dev server`;
    parts.push(
      [
        `P1 CPU per checkout: ours ${c(t.ours)}; bare ${c(t.bare)}.`,
        `P1 shape check: ours ${t.shapeCheck.ours.updates} updates / ${t.shapeCheck.ours.activities} activities, bare ${t.shapeCheck.bare.updates} / ${t.shapeCheck.bare.activities}` +
          (t.shapeCheck.same ? ' (same).' : ' — DIFFERENT: update bench/bare/workflows.ts CHECKOUT_SHAPE.'),
        `P1 per checkout (no IPNs), ours vs bare: ${t.shapeCheck.ours.workflows} vs ${t.shapeCheck.bare.workflows} workflow(s), ` +
          `${t.shapeCheck.ours.workflowTasks} vs ${t.shapeCheck.bare.workflowTasks} workflow tasks, ${t.shapeCheck.ours.events} vs ${t.shapeCheck.bare.events} history events, ` +
          `${t.shapeCheck.ours.actions} vs ${t.shapeCheck.bare.actions} billable actions ` +
          `(ours: ${Object.entries(t.shapeCheck.ours.byKind)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}; bare: ${Object.entries(t.shapeCheck.bare.byKind)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}).`,
        t.ours.failures.length || t.bare.failures.length
          ? `P1 failures: ours ${t.ours.failures.length}, bare ${t.bare.failures.length}: ${[...t.ours.failures, ...t.bare.failures].slice(0, 3).join('; ')}`
          : '',
      ]
        .filter(Boolean)
        .join('\n'),
    );
  }
  const i = r.ipn;
  if (i) {
    const c = (s: typeof i.ours) => `${f1(s.cpuMsPerIpn.node)} ms here + ${f1(s.cpuMsPerIpn.devServer)} ms dev server`;
    parts.push(
      `P3 CPU per IPN, sent until delivered: ours ${c(i.ours)}; raw signal ${c(i.raw)}; bare signalWithStart + relay ${c(i.relay)}.`,
    );
    const failed = [...i.ours.failures, ...i.raw.failures, ...i.relay.failures];
    if (failed.length)
      parts.push(
        `P3 failures: ours ${i.ours.failures.length}, raw ${i.raw.failures.length}, relay ${i.relay.failures.length}: ${failed.slice(0, 3).join('; ')}`,
      );
  }
  for (const p of r.cost ?? []) parts.push(breakdown(p));
  if (r.cycles) parts.push(cycleBreakdown(r.cycles, r.subscriptionServer));
  const sc = r.scale;
  if (sc) {
    parts.push(
      `P5: ${sc.options.subscriptions} ${sc.options.unit === 'Day' ? 'daily' : 'monthly'} subscriptions on one worker process (worker/main.ts, its own RSS from /proc; cached from its temporal_sticky_cache_size metric), ${sc.temporalServer}; ` +
        `RSS ${sc.rss.beforeBytes} → ${sc.rss.afterSignUpBytes} → ${sc.rss.afterWavesBytes} bytes (before sign-up, after, after the waves); ` +
        sc.waves
          .map(
            (w) =>
              `wave ${w.wave}: clocks moved in ${f1(w.elapseSeconds)} s, done in ${f1(w.seconds)} s, Amazon ${Object.entries(
                w.amazonCalls,
              )
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')}, cached after ${w.cachedAfter}`,
          )
          .join('; ') +
        `; sampled runs: events ${sc.history.eventsPerCycle.join(', ')}, actions ${sc.history.actionsPerCycle.join(', ')}` +
        (sc.signUp.failures.length ? `; sign-up failures: ${sc.signUp.failures.slice(0, 3).join('; ')}` : ''),
    );
  }
  if (r.faults) {
    parts.push(
      `P6: ${r.faults.options.checkouts} checkouts to complete, ${r.faults.options.concurrency} at a time, in ${f1(r.faults.seconds)} s; ${r.faults.amazonCalls} Amazon calls; ${r.faults.failures.length} failed` +
        (r.faults.failures.length ? `: ${r.faults.failures.slice(0, 3).join('; ')}` : ''),
    );
  }
  const w = r.webhooks;
  if (w) {
    parts.push(
      `P7: ${w.delivered} verified deliveries in ${f1(w.spanSeconds)} s from the first to the last (${w.distinctEvents} distinct event ids in the whole P7 run, ${w.duplicates} duplicate(s), ${w.verifyFailures} failed verification); ` +
        `per checkout ${f1(w.history.deliveryActivities)} deliverMerchantEvents activit${w.history.deliveryActivities === 1 ? 'y' : 'ies'} for ${w.history.eventsPerCheckout} events (${f1(w.history.deliveryActivityEvents)} activity events, the rest workflow tasks); ` +
        `history lengths with the endpoint ${w.history.withEndpoint.join(', ')}, without ${w.history.without.join(', ')}; ` +
        `backlog: ${w.backlog.refusedWhileDown} attempts answered 503 while down, drained in ${f1(w.backlog.spanSeconds)} s from the first to the last delivery` +
        (w.failures.length ? `; ${w.failures.length} checkout(s) failed: ${w.failures.slice(0, 3).join('; ')}` : ''),
    );
  }
  return parts.join('\n\n');
}

/** P4 per cycle: each run's actions and events, and the steady cycle's breakdown by kind and name. */
export function cycleBreakdown(c: SubscriptionCostResult, server = 'time-skipping server'): string {
  const lines = [
    `P4 per billing cycle (monthly subscription, 9.99 USD, one webhook endpoint, IPNs on; ${server}); cycle: run actions + inbox actions, run events + inbox events, Amazon calls`,
  ];
  for (const x of c.cycles) {
    lines.push(
      `  cycle ${x.cycle}: ${x.run.actions.total} + ${x.inbox.actions} actions, ${x.run.events} + ${x.inbox.events} events, Amazon ${
        Object.entries(x.amazonByOperation)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || 'none'
      }; events delivered ${Object.entries(x.merchantEvents)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  }
  const last = c.cycles.at(-1);
  if (last) {
    lines.push(`  cycle ${last.cycle}, subscription run: actions by name`);
    for (const it of last.run.actions.items)
      lines.push(`    ${it.kind.padEnd(24)} ${String(it.actions).padStart(3)}   (${it.count}×) ${it.name}`);
    lines.push(
      `  cycle ${last.cycle}, subscription run: history events by type: ${Object.entries(last.run.eventTypes)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    lines.push(`  cycle ${last.cycle}, inbox: actions by name`);
    for (const it of last.inbox.items)
      lines.push(`    ${it.kind.padEnd(24)} ${String(it.actions).padStart(3)}   (${it.count}×) ${it.name}`);
  }
  return lines.join('\n');
}

/** The results as written to JSON: step latencies as percentiles instead of every sample. */
export function forJson(r: RunResults): unknown {
  const steps = (t: Record<string, number[]>) =>
    Object.fromEntries(Object.entries(t).map(([k, xs]) => [k, { n: xs.length, ...percentiles(xs) }]));
  const t = r.throughput;
  return {
    ...r,
    ...(t
      ? {
          throughput: {
            ...t,
            ours: { ...t.ours, steps: steps(t.ours.steps) },
            bare: { ...t.bare, steps: steps(t.bare.steps) },
          },
        }
      : {}),
    rows: rows(r),
  };
}

export function machineLine(m: Machine): string {
  return `${m.cores} cores (${m.cpuModel}), ${m.ramGiB} GiB RAM, ${m.os}, node ${m.node}, ${m.temporal}; load average ${m.loadAtStart.map(f2).join(' ')} at start, ${m.loadAtEnd.map(f2).join(' ')} at end`;
}

export function markdownSection(r: RunResults): string {
  return [
    `<!-- bench:${r.profile} -->`,
    `## ${r.profile === 'quick' ? 'Quick' : 'Full'} profile: \`${r.command}\``,
    '',
    `Run on ${r.machine.date} in ${r.seconds.toFixed(0)} s. Machine: ${machineLine(r.machine)}.`,
    '',
    markdownTable(rows(r)),
    '',
    '```',
    details(r),
    '```',
    `<!-- /bench:${r.profile} -->`,
  ].join('\n');
}

/** Replaces this profile's generated section of RESULTS.md, or adds it after the introduction. */
export async function updateResultsFile(path: string, r: RunResults): Promise<void> {
  const text = await readFile(path, 'utf8').catch(() => '# Benchmark results\n');
  const section = markdownSection(r);
  const re = new RegExp(`<!-- bench:${r.profile} -->[\\s\\S]*?<!-- /bench:${r.profile} -->`);
  let next: string;
  if (re.test(text)) {
    next = text.replace(re, () => section);
  } else {
    const at = text.search(/\n## /);
    next = at < 0 ? `${text.trimEnd()}\n\n${section}\n` : `${text.slice(0, at)}\n\n${section}\n${text.slice(at)}`;
  }
  await writeFile(path, next);
}
