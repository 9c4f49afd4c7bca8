// `npm run chaos`: the service proves under faults that no money moves twice and nothing stays
// pending. See chaos/options.ts (--help) for the knobs and the README's "Chaos suite" section.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import { SimulatorAdmin, type MoneyMovementView } from '../simulator/admin-client';
import { faultSchedule, runFaults, type FaultEvent } from './faults';
import { Hostile } from './hostile';
import { HttpLedger, StorefrontClient } from './http';
import { runLoad, type CheckoutRecord } from './load';
import { SIMULATOR_BUYER_PII } from './pii';
import { HELP, parseOptions, seededRandom, type ChaosOptions } from './options';
import { startChaosStack, type ChaosStack } from './processes';
import { reconcile, type ObservedCheckout } from './reconcile';
import type { ObservedEvent, ObservedSubscription } from './reconcile-subscriptions';
import { byScenario, subscriptionSummary, summaryTable, writeReport, type ChaosReport } from './report';

const log = (line: string) => console.log(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let stack: ChaosStack | undefined;
let dataDir: string | undefined;
let stopping = false;
async function cleanup(keep: boolean) {
  if (stopping) return;
  stopping = true;
  await stack?.close();
  if (dataDir && !keep) rmSync(dataDir, { recursive: true, force: true });
}

interface Observed extends ObservedCheckout {
  subscription?: ObservedSubscription | null;
  events?: ObservedEvent[] | null;
}

function settledAs(r: CheckoutRecord, o: Observed | null): boolean {
  if (!o || o.error) return false;
  if (r.problem) return o.final === true;
  const { statuses, subscriptionStatuses, final } = r.expected;
  if (statuses.length > 0 && !statuses.includes(o.status ?? '')) return false;
  if (final && o.final !== true) return false;
  const sub = r.subscription;
  if (sub && r.subscriptionId) {
    if (!o.subscription || !o.events) return false;
    if (sub.expected.statuses.length > 0 && !sub.expected.statuses.includes(o.subscription.status)) return false;
    if (
      sub.expected.cancelAtPeriodEnd !== undefined &&
      o.subscription.cancelAtPeriodEnd !== sub.expected.cancelAtPeriodEnd
    )
      return false;
    // The final status's event is emitted with it; wait for the outbox to list it too.
    const finalEvent = { canceled: 'subscription.canceled', ended: 'subscription.ended' }[o.subscription.status];
    if (finalEvent && !o.events.some((e) => e.type === finalEvent)) return false;
  }
  return !subscriptionStatuses || subscriptionStatuses.includes(o.subscriptionStatus ?? '');
}

async function observe(client: StorefrontClient, r: CheckoutRecord): Promise<Observed> {
  try {
    const s = await client.send('GET', `/v1/checkouts/${r.checkoutSessionId}`);
    if (s.status !== 200)
      return { status: null, final: null, error: `${s.status} ${JSON.stringify(s.json).slice(0, 200)}` };
    const cp = s.json.chargePermissionId;
    // A sign-up cut by the end of load before the storefront read its subscription id.
    if (r.scenario === 'subscription' && !r.subscriptionId && typeof s.json.subscriptionId === 'string')
      r.subscriptionId = s.json.subscriptionId;
    const o: Observed = {
      status: String(s.json.status),
      final: s.json.final === true,
      chargePermissionId: typeof cp === 'string' ? cp : null,
    };
    if (r.subscription && !r.subscription.chargePermissionId && typeof cp === 'string')
      r.subscription.chargePermissionId = cp;
    if (r.subscriptionId) {
      const path = `/v1/subscriptions/${encodeURIComponent(r.subscriptionId)}`;
      const sub = await client.send('GET', path);
      o.subscriptionStatus = sub.status === 200 ? String(sub.json.status) : `HTTP ${sub.status}`;
      o.subscription = sub.status === 200 ? (sub.json as unknown as ObservedSubscription) : null;
      const events = await client.send('GET', `${path}/events`);
      o.events = events.status === 200 ? ((events.json.data as ObservedEvent[] | undefined) ?? []) : null;
      if (sub.status !== 200 || events.status !== 200)
        o.error = `subscription ${sub.status}, events ${events.status}: ${JSON.stringify(sub.json).slice(0, 200)}`;
    }
    return o;
  } catch (err) {
    return { status: null, final: null, error: (err as Error).message };
  }
}

/** Search attributes and histories as Temporal stores them, read without the payload key. */
async function temporalTexts(s: ChaosStack, limit: number): Promise<Array<{ source: string; text: string }>> {
  const connection = await Connection.connect({ address: s.temporal.address });
  const bytesAsText = (_k: string, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v);
  try {
    const out: Array<{ source: string; text: string }> = [];
    const ids: Array<{ workflowId: string; runId: string }> = [];
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await connection.workflowService.listWorkflowExecutions({
        namespace: s.temporal.namespace,
        query: `TaskQueue = '${s.taskQueue}'`,
        pageSize: 500,
        ...(nextPageToken ? { nextPageToken } : {}),
      });
      for (const e of page.executions ?? []) {
        out.push({
          source: `search attributes of ${e.execution?.workflowId}`,
          text: JSON.stringify(e.searchAttributes ?? {}, bytesAsText),
        });
        if (e.execution?.workflowId && e.execution.runId)
          ids.push({ workflowId: e.execution.workflowId, runId: e.execution.runId });
      }
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    for (const execution of ids.slice(0, limit)) {
      let text = '';
      let token: Uint8Array | undefined;
      do {
        const h = await connection.workflowService.getWorkflowExecutionHistory({
          namespace: s.temporal.namespace,
          execution,
          ...(token ? { nextPageToken: token } : {}),
        });
        text += JSON.stringify(h.history ?? {}, bytesAsText);
        token = h.nextPageToken?.length ? h.nextPageToken : undefined;
      } while (token);
      out.push({ source: `history of ${execution.workflowId} (no payload key)`, text });
    }
    return out;
  } finally {
    await connection.close();
  }
}

async function run(options: ChaosOptions): Promise<number> {
  const startedAt = new Date();
  const runId = `${options.seed.toString(36)}${randomBytes(3).toString('hex')}`;
  dataDir = mkdtempSync(join(tmpdir(), 'chaos-'));
  log(`run ${runId}, seed ${options.seed}, data in ${dataDir}`);
  stack = await startChaosStack(dataDir, { attach: options.attach, runId, log });
  const s = stack;
  const admin = new SimulatorAdmin(s.simulatorUrl);
  const ledger = new HttpLedger();
  const client = new StorefrontClient(s.apiUrl, s.apiKey, ledger);
  const loadRandom = seededRandom(options.seed);
  const faultRandom = seededRandom(options.seed ^ 0x5bd1e995);
  const checkouts: CheckoutRecord[] = [];
  const liveIds: string[] = [];
  const hostile = new Hostile({ stack: s, ledger, random: faultRandom, checkoutIds: () => liveIds });

  log(
    `load for ${Math.round(options.durationMs / 1000)} s: ${options.ratePerSecond ? `${options.ratePerSecond} checkouts/s` : `${options.storefronts} storefronts`}, faults ${options.faults.join(',') || 'none'}${options.dropIpn ? ' + drop-ipn' : ''}`,
  );
  const t0 = Date.now();
  const endAt = t0 + options.durationMs;
  const plan = faultSchedule(options.faults, options.durationMs, faultRandom);
  let finished = 0;
  const [load, faults] = await Promise.all([
    runLoad(
      { client, admin, random: loadRandom, runId, mix: options.mix, ipnsDropped: options.dropIpn },
      {
        storefronts: options.storefronts,
        ratePerSecond: options.ratePerSecond,
        endAt,
        onCheckout: (r) => {
          checkouts.push(r);
          if (r.checkoutSessionId) liveIds.push(r.checkoutSessionId);
          if (++finished % 10 === 0)
            log(`${finished} checkouts done (${checkouts.filter((c) => c.problem).length} with problems)`);
          if (r.problem) log(`checkout #${r.n} ${r.scenario}: ${r.problem}`);
        },
      },
    ),
    runFaults(
      { stack: s, admin, random: faultRandom, log, hostile: (f) => (f === 'R5' ? hostile.r5() : hostile.r6()) },
      plan,
      t0,
      endAt,
      options.dropIpn,
    ),
  ]);
  const loadSeconds = Math.round((Date.now() - t0) / 1000);
  log(
    `load ended after ${loadSeconds} s: ${load.checkouts.length} checkouts; settling (at most ${Math.round(options.settleMs / 1000)} s)`,
  );

  // Settle: faults off (drop-ipn stays: polling must settle without IPNs), every process up.
  await admin
    .setFaults({ errorRate: 0, throttleRate: 0, latencyMs: 0, holdResponses: null, throttling: 'off' })
    .catch(() => undefined);
  if (!options.dropIpn)
    await admin.configureIpn({ duplicateRate: 0, reorderRate: 0, delayMs: 0 }).catch(() => undefined);
  for (const w of s.workers) if (!w.running) await w.startSupervised();
  const settleStart = Date.now();
  const observed = new Map<number, Observed>();
  const withSession = checkouts.filter((c) => c.checkoutSessionId);
  let pending = withSession;
  let lastReport = Date.now();
  while (pending.length > 0 && Date.now() - settleStart < options.settleMs) {
    for (let i = 0; i < pending.length; i += 8) {
      await Promise.all(pending.slice(i, i + 8).map(async (r) => observed.set(r.n, await observe(client, r))));
    }
    pending = pending.filter((r) => !settledAs(r, observed.get(r.n) ?? null));
    if (pending.length > 0 && Date.now() - lastReport > 20_000) {
      lastReport = Date.now();
      const byStatus = new Map<string, number>();
      for (const r of pending) {
        const o = observed.get(r.n);
        const k = `${r.scenario}${r.subscription ? `/${r.subscription.lifecycle}` : ''}:${o?.status ?? o?.error ?? '?'}${o?.subscriptionStatus ? `/${o.subscriptionStatus}` : ''}`;
        byStatus.set(k, (byStatus.get(k) ?? 0) + 1);
      }
      log(`settling: ${pending.length} not yet (${[...byStatus].map(([k, n]) => `${k} x${n}`).join(', ')})`);
    }
    if (pending.length > 0) await sleep(2000);
  }
  const settleSeconds = Math.round((Date.now() - settleStart) / 1000);
  log(`settled in ${settleSeconds} s${pending.length ? `; ${pending.length} checkouts did not settle` : ''}`);

  // Collect the simulator's truth, the logs and what Temporal stores in clear.
  // A checkout's movements: on its session, and on its charge permission (a Create Charge after
  // Confirm, or a subscription's, belongs to the permission only).
  const all = await admin.moneyMovements({});
  const movementsOf = new Map<string, MoneyMovementView[]>();
  for (const r of withSession) {
    const cp = observed.get(r.n)?.chargePermissionId;
    movementsOf.set(
      r.checkoutSessionId!,
      all.movements.filter((m) => m.checkoutSessionId === r.checkoutSessionId || (cp && m.chargePermissionId === cp)),
    );
  }
  const counts = await admin.requestCounts();
  const texts = s.productLogs.map((file) => ({
    source: file.split('/').slice(-1)[0]!,
    text: readFileSync(file, 'utf8'),
  }));
  texts.push(
    ...(await temporalTexts(s, 60).catch((err: unknown) => [{ source: 'temporal (unreadable)', text: String(err) }])),
  );
  const verdict = reconcile({
    checkouts: withSession.map((record) => ({
      record,
      observed: observed.get(record.n) ?? null,
      movements: movementsOf.get(record.checkoutSessionId!) ?? [],
    })),
    allMovements: all.movements,
    notable: ledger.notable,
    texts,
    pii: SIMULATOR_BUYER_PII,
    // Per cycle: every movement on the subscription's charge permission.
    subscriptions: withSession
      .filter((r) => r.subscription)
      .map((record) => {
        const o = observed.get(record.n);
        const cp = record.subscription!.chargePermissionId ?? o?.chargePermissionId;
        return {
          record,
          observed: o?.subscription ?? null,
          events: o?.events ?? null,
          movements: cp ? all.movements.filter((m) => m.chargePermissionId === cp) : [],
          ...(o?.error ? { error: o.error } : {}),
        };
      }),
  });
  const anomalies = [...verdict.anomalies];
  if (texts.some((t) => t.source === 'temporal (unreadable)'))
    anomalies.push({
      kind: 'not_settled',
      detail: 'search attributes and histories could not be read for the buyer-data check',
    });
  for (const f of options.faults) {
    // drop-ipn is R4's other profile: with every IPN dropped there is nothing to duplicate.
    if (f === 'R4' && options.dropIpn) continue;
    if (!faults.some((e: FaultEvent) => e.fault === f && !e.error && !e.what.startsWith('skipped')))
      anomalies.push({ kind: 'not_settled', detail: `fault ${f} was enabled but never injected` });
  }
  for (const e of faults)
    if (e.error)
      anomalies.push({ kind: 'not_settled', detail: `fault ${e.fault} at +${e.t}s failed to inject: ${e.error}` });

  const injected: Record<string, number> = {};
  for (const e of faults)
    if (!e.error && !e.what.startsWith('skipped')) injected[e.fault] = (injected[e.fault] ?? 0) + 1;
  const keyCounts = Object.values(counts.byIdempotencyKey);
  const { jsonFile: _jsonFile, ...reportedOptions } = options;
  const report: ChaosReport = {
    version: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    seed: options.seed,
    options: reportedOptions,
    machine: { cpus: cpus().length, node: process.version, platform: `${process.platform} ${process.arch}` },
    load: {
      seconds: loadSeconds,
      storefronts: options.storefronts,
      checkoutsStarted: load.started,
      checkoutsFinished: checkouts.filter((c) => !c.problem && !c.unfinished).length,
      checkoutsPerMinute: Math.round((checkouts.length / Math.max(1, loadSeconds)) * 600) / 10,
      byScenario: byScenario(checkouts),
      subscriptions: subscriptionSummary(
        checkouts,
        verdict.cycles,
        (c) => observed.get(c.n)?.subscription?.status ?? null,
      ),
    },
    settle: { seconds: settleSeconds, settled: pending.length === 0 },
    faults: { injected, failed: faults.filter((e) => e.error).length, events: faults },
    http: {
      counts: ledger.counts,
      validRequests: ledger.total('valid'),
      hostileRequests: ledger.total('hostile'),
      storefrontRetries: ledger.retries,
    },
    amazon: {
      byOperation: counts.byOperation,
      idempotencyKeys: keyCounts.length,
      maxRequestsPerKey: Math.max(0, ...keyCounts),
      ipnsForwarded: s.ipn.forwarded(),
    },
    money: { ...verdict.money, reconciledCheckouts: withSession.length },
    privacy: {
      logFiles: s.productLogs.length,
      logBytes: texts.slice(0, s.productLogs.length).reduce((n, t) => n + t.text.length, 0),
      searchAttributeSets: texts.filter((t) => t.source.startsWith('search attributes')).length,
      histories: texts.filter((t) => t.source.startsWith('history')).length,
      unreadable: texts.some((t) => t.source === 'temporal (unreadable)'),
    },
    processes: Object.fromEntries([s.simulator, s.api, ...s.workers].map((p) => [p.name, { starts: p.starts }])),
    anomalies,
    passed: anomalies.length === 0,
    dataDir: options.keepData ? dataDir : null,
  };
  writeReport(resolve(options.jsonFile), report);
  console.log(summaryTable(report));
  log(`report: ${resolve(options.jsonFile)}`);
  return report.passed ? 0 : 1;
}

let options: ChaosOptions | 'help';
try {
  options = parseOptions(process.argv.slice(2));
} catch (err) {
  console.error(`${(err as Error).message}\n\n${HELP}`);
  process.exit(2);
}
if (options === 'help') {
  console.log(HELP);
  process.exit(0);
}
const opts = options;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping every process`);
    void cleanup(opts.keepData).finally(() => process.exit(130));
  });
}
let code = 1;
try {
  code = await run(opts);
} catch (err) {
  console.error(err);
  code = 1;
} finally {
  await cleanup(opts.keepData || code !== 0);
}
process.exit(code);
