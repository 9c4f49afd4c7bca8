// The figures of a run, one Row per metric beside its baseline, ratio and goal (issue 12); report.ts
// renders them as the printed table, the JSON file and the sections of bench/RESULTS.md.
import { STEPS } from './storefront';
import { percentiles } from './support';
import type { RunResults } from './report';

export interface Row {
  id: string;
  metric: string;
  ours: string;
  baseline: string;
  ratio: string;
  goal: string;
  met: string;
}

const NOT_YET = (id: string, metric: string, why: string): Row => ({
  id,
  metric,
  ours: `not yet measurable: ${why}`,
  baseline: '',
  ratio: '',
  goal: '',
  met: '',
});
export const f1 = (n: number) => n.toFixed(1);
export const f2 = (n: number) => n.toFixed(2);
export const ms = (n: number) => n.toFixed(0);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
const mark = (ok: boolean) => (ok ? 'yes' : 'NO');

export function rows(r: RunResults): Row[] {
  const out: Row[] = [];
  const t = r.throughput;
  if (t) {
    const { checkouts, concurrency, rounds } = t.options;
    out.push({
      id: 'P1',
      metric: `full checkouts/s, ${concurrency} storefronts, ${checkouts * rounds} each`,
      ours: f1(t.ours.perSecond),
      baseline: `${f1(t.bare.perSecond)} bare`,
      ratio: f2(t.ratio),
      goal: '≥ 0.9',
      met: mark(t.ratio >= 0.9),
    });
    for (const step of STEPS) {
      const o = percentiles(t.ours.steps[step]);
      const b = percentiles(t.bare.steps[step]);
      const ratio = o.median / b.median;
      out.push({
        id: 'P2',
        metric: `${step} p50/p95/p99 ms, ${concurrency} storefronts`,
        ours: `${ms(o.median)}/${ms(o.p95)}/${ms(o.p99)}`,
        baseline: `${ms(b.median)}/${ms(b.p95)}/${ms(b.p99)} bare update`,
        ratio: f2(ratio),
        goal: 'p50 ≤ 1.2',
        met: mark(ratio <= 1.2),
      });
    }
  }
  const i = r.ipn;
  if (i) {
    out.push({
      id: 'P3',
      metric: `IPNs/s accepted (SNS verified), ${i.options.concurrency} at a time, ${i.options.ipns} IPNs`,
      ours: f1(i.ours.perSecond),
      baseline: `${f1(i.raw.perSecond)} raw signal; ${f1(i.relay.perSecond)} bare signalWithStart + relay`,
      ratio: f2(i.ratio),
      goal: '≥ 0.8',
      met: mark(i.ratio >= 0.8),
    });
    out.push({
      id: 'P3',
      metric: 'IPNs/s until every owner has its IPNs',
      ours: f1(i.ours.deliveredPerSecond),
      baseline: `${f1(i.raw.deliveredPerSecond)} raw signal; ${f1(i.relay.deliveredPerSecond)} bare signalWithStart + relay`,
      ratio: f2(i.ours.deliveredPerSecond / i.raw.deliveredPerSecond),
      goal: '',
      met: '',
    });
    out.push({
      id: 'P3',
      metric: `POST → owner state changed, median (p90) ms, n=${i.latency.samples}`,
      ours: `${ms(i.latency.oursMedianMs)} (${ms(i.latency.oursP90Ms)})`,
      baseline: `${ms(i.latency.rawMedianMs)} (${ms(i.latency.rawP90Ms)}) signal → sink; ${ms(i.latency.relayMedianMs)} (${ms(i.latency.relayP90Ms)}) via a bare relay`,
      ratio: f2(i.latency.oursMedianMs / Math.max(i.latency.rawMedianMs, 1)),
      goal: '',
      met: '',
    });
  }
  for (const p of r.cost ?? []) {
    const spread = (xs: number[]) =>
      Math.min(...xs) === Math.max(...xs) ? `${xs[0]}` : `${Math.min(...xs)}–${Math.max(...xs)}`;
    out.push({
      id: 'P4',
      metric: `actions / checkout, ${p.intent} (${p.steps}), then closed`,
      ours: `${spread(p.totals.closed)} (${spread(p.totals.settled)} before close)`,
      baseline: '',
      ratio: '',
      goal: '≤ 15',
      met: mark(Math.max(...p.totals.closed) <= 15),
    });
    out.push({
      id: 'P4',
      metric: `Amazon API calls / checkout, ${p.intent}, then closed`,
      ours: `${spread(p.totals.amazonClosed)} (${spread(p.totals.amazonSettled)} before close)`,
      baseline: '',
      ratio: '',
      goal: '≤ 5',
      met: mark(Math.max(...p.totals.amazonClosed) <= 5),
    });
  }
  const c = r.cycles;
  if (c) {
    const st = c.steady;
    const inbox = mean(c.cycles.slice(1).map((x) => x.inbox.actions));
    const inboxEvents = mean(c.cycles.slice(1).map((x) => x.inbox.events));
    out.push({
      id: 'P4',
      metric: `actions / billing cycle, monthly, steady cycles 2–${c.cycles.length}: subscription run + its inbox`,
      ours: `${f1(st.actions)} (${f1(st.actions - inbox)} + ${f1(inbox)})`,
      baseline: `first run (sign-up + cycle 1): ${c.cycles[0]?.actions ?? '-'}`,
      ratio: '',
      goal: '≤ 6',
      met: mark(st.actions <= 6),
    });
    out.push({
      id: 'P4',
      metric: 'history events / billing cycle: subscription run + its inbox',
      ours: `${f1(st.events)} (${f1(st.runEvents)} + ${f1(inboxEvents)})`,
      baseline: '',
      ratio: '',
      goal: '≤ 15',
      met: mark(st.events <= 15),
    });
    out.push({
      id: 'P4',
      metric: 'history length at continue-as-new (longest run)',
      ours: String(st.historyAtContinueAsNew),
      baseline: '',
      ratio: '',
      goal: '≤ 2,000',
      met: mark(st.historyAtContinueAsNew <= 2000),
    });
    out.push({
      id: 'P4',
      metric: 'Amazon API calls / billing cycle',
      ours: f1(st.amazonCalls),
      baseline: '',
      ratio: '',
      goal: '',
      met: '',
    });
  } else if (r.cost) {
    out.push(NOT_YET('P4', 'actions / billing cycle', 'not run'));
  }
  const sc = r.scale;
  if (sc) {
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    const n = sc.options.subscriptions.toLocaleString('en-US');
    out.push({
      id: 'P5',
      metric: `worker RSS, ${n} ${sc.options.unit === 'Day' ? 'daily' : 'monthly'} subscriptions between cycles (worker process)`,
      ours: `${mib(sc.rss.afterSignUpBytes)} (${mib(sc.rss.beforeBytes)} before sign-ups, ${mib(sc.rss.afterWavesBytes)} after the wave)`,
      baseline: '',
      ratio: '',
      goal: '',
      met: '',
    });
    out.push({
      id: 'P5',
      metric: `workflows cached (sticky cache; subscriptions + their inboxes), cache size ${sc.cacheSize} (SDK default)`,
      ours: `${sc.cached.afterSignUp ?? '?'} after sign-up, ${sc.cached.afterWaves ?? '?'} after the wave`,
      baseline: '',
      ratio: '',
      goal: '',
      met: '',
    });
    const per = sc.rssPerCachedWorkflowBytes;
    out.push({
      id: 'P5',
      metric: 'RSS per cached workflow (RSS growth over sign-up / cached)',
      ours: per === null ? '?' : `${(per / 2 ** 20).toFixed(2)} MiB`,
      baseline: '',
      ratio: '',
      goal: '≤ 1 MB',
      met: per === null ? '' : mark(per <= 1e6),
    });
    out.push({
      id: 'P5',
      metric: `sign-ups through the checkout workflow, ${sc.options.concurrency} at a time`,
      ours: `${f1(sc.signUp.perSecond)}/s (${f1(sc.signUp.seconds)} s, ${sc.signUp.failures.length} failed)`,
      baseline: '',
      ratio: '',
      goal: '',
      met: '',
    });
    for (const w of sc.waves) {
      out.push({
        id: 'P5',
        metric: `cycle wave ${w.wave}: clocks moved past every due date until all ${n} charged events delivered`,
        ours: w.stalled
          ? `STALLED: ${w.stalled.charged} charged after ${f1(w.seconds)} s (clocks ${w.stalled.clockMoved ? '' : 'not '}moved)`
          : `${f1(w.seconds)} s (${f1(w.chargesPerSecond)} cycles/s), peak RSS ${mib(w.peakRssBytes)}`,
        baseline: '',
        ratio: '',
        goal: '',
        met: '',
      });
    }
    const h = sc.history;
    if (h.samples) {
      out.push({
        id: 'P5',
        metric: `history events / actions of the run that billed the wave, n=${h.samples}`,
        ours: `${f1(mean(h.eventsPerCycle))} / ${f1(mean(h.actionsPerCycle))}`,
        baseline: 'subscription run only (no inbox)',
        ratio: '',
        goal: '≤ 15 events',
        met: mark(mean(h.eventsPerCycle) <= 15),
      });
    }
  }
  const fr = r.faults;
  if (fr) {
    for (const step of ['review', 'amount', 'complete'] as const) {
      const s = fr.steps[step];
      out.push({
        id: 'P6',
        metric: `${step} p99 under ${Math.round(fr.options.errorRate * 100)}% Amazon 5xx, n=${s.n}`,
        ours: `${(s.p99 / 1000).toFixed(1)} s (p50 ${ms(s.p50)} ms, max ${(s.max / 1000).toFixed(1)} s)`,
        baseline: '',
        ratio: '',
        goal: '≤ 5 s',
        met: mark(s.p99 <= 5000),
      });
    }
    if (fr.failures.length)
      out.push({
        id: 'P6',
        metric: 'buyer steps that failed',
        ours: String(fr.failures.length),
        baseline: '',
        ratio: '',
        goal: '0',
        met: mark(false),
      });
  }
  const w = r.webhooks;
  if (w) {
    out.push({
      id: 'P7',
      metric: `webhook deliveries/s (verified, first to last), one worker, ${w.options.checkouts} AuthorizeWithCapture checkouts ${w.options.concurrency} at a time, ${w.eventsPerCheckout} events each`,
      ours: f1(w.perSecond),
      baseline: `${f1(w.checkoutsPerSecond * w.eventsPerCheckout)} events/s produced (${f1(w.checkoutsPerSecond)} checkouts/s)`,
      ratio: f2(w.perSecond / (w.checkoutsPerSecond * w.eventsPerCheckout)),
      goal: '',
      met: '',
    });
    out.push({
      id: 'P7',
      metric: `webhook deliveries/s draining a backlog: same ${w.options.checkouts} checkouts while the endpoint answers 503, then back (owners retry every ${w.backlog.retryMs / 1000} s)`,
      ours: f1(w.backlog.perSecond),
      baseline: `${w.backlog.events} events delivered ${f1(w.backlog.secondsFromUp)} s after the endpoint came back`,
      ratio: '',
      goal: '',
      met: '',
    });
    out.push({
      id: 'P7',
      metric: `history events per delivered event (checkout with an endpoint vs none, n=${w.history.withEndpoint.length})`,
      ours: f1(w.history.perEvent),
      baseline: `${f1(mean(w.history.without))} → ${f1(mean(w.history.withEndpoint))} events per checkout`,
      ratio: '',
      goal: '',
      met: '',
    });
    out.push({
      id: 'P7',
      metric: 'billable actions per delivered event',
      ours: f2(w.history.actionsPerEvent),
      baseline: '',
      ratio: '',
      goal: '',
      met: '',
    });
  }
  return out;
}
