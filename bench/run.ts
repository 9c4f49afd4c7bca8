// `npm run bench`: every benchmark in one run on one in-memory dev server, each figure beside a
// baseline measured in the same run (Temporal's floor: bare workflows, raw signals). Prints a
// table, writes bench/results/<profile>.json and refreshes this profile's section of
// bench/RESULTS.md. Numbers are never asserted anywhere: this measures, it does not test.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { runCost } from './cost';
import { runFaults, type FaultOptions } from './faults';
import { runIpn, type IpnOptions } from './ipn';
import { details, forJson, machineLine, rows, table, updateResultsFile, type Machine, type RunResults } from './report';
import { startStorefront } from './storefront';
import { startBenchStack } from './support';
import { runThroughput, type ThroughputOptions } from './throughput';
import { runWebhooks, type WebhookOptions } from './webhooks';
import { runSubscriptionCost, type SubscriptionCostOptions } from './subscription-cost';
import { runSubscriptionScale, type ScaleOptions } from './subscriptions-scale';
import { startSubscriptionStack } from './time-skipping';

const HELP = `npm run bench -- [options]

Runs the benchmarks of issue 12 against Temporal's own floor, on a fresh in-memory Temporal dev
server with the Amazon Pay simulator (latency 0) and one payment worker in this process:

  P1  full checkouts/s over the API vs bare workflows with the same updates and no-op activities
  P2  p50/p95/p99 of each storefront step vs the bare workflow's same update (from P1's run)
  P3  IPNs/s through the endpoint (SNS signature verified) vs raw client.workflow.signal,
      and the POST-to-owner-state time
  P4  Temporal Cloud billable actions and Amazon API calls per happy checkout, with a breakdown
  P6  buyer-step p99 while Amazon answers 30% of calls with 5xx
  P7  merchant webhooks: verified deliveries/s from one worker to a local receiver, and the
      history events each delivered event adds to its checkout (vs the same checkout, no endpoint)
  P4  per billing cycle too: actions and history events of each continued-as-new run of a monthly
      subscription plus its inbox, Amazon calls per cycle (Java time-skipping server, real months)
  P5  N subscriptions between cycles on one worker process: RSS, sticky cache, RSS per cached
      workflow, a cycle wave of all of them, history events per cycle (time-skipping, daily plan)

Options:
  --full          the full profile (more checkouts and rounds; several minutes) instead of the quick one
  --only P1,P4    run only these (P2 runs with P1); the results files are then left alone
  --subscriptions N   P5 with N subscriptions (quick 1,000, full 10,000)
  --no-record     print only: do not write bench/results/<profile>.json nor bench/RESULTS.md
  --help          this text

Each complete run writes bench/results/<profile>.json (committed, like RESULTS.md).
`;

const PROFILES = {
  quick: {
    throughput: { checkouts: 100, concurrency: 20, rounds: 1 } satisfies ThroughputOptions,
    ipn: { ipns: 400, chargePermissions: 40, concurrency: 20, latencySamples: 30 } satisfies IpnOptions,
    cost: { checkoutsPerPath: 2 },
    faults: { checkouts: 60, concurrency: 20, errorRate: 0.3 } satisfies FaultOptions,
    webhooks: { checkouts: 100, concurrency: 20, historySamples: 3 } satisfies WebhookOptions,
    cycles: { cycles: 4 } satisfies SubscriptionCostOptions,
    scale: {
      subscriptions: 1000,
      concurrency: 20,
      waves: 1,
      historySamples: 10,
      unit: 'Month' as ScaleOptions['unit'],
      waveTimeoutMs: 15 * 60_000,
    } satisfies ScaleOptions,
  },
  full: {
    throughput: { checkouts: 200, concurrency: 20, rounds: 3 } satisfies ThroughputOptions,
    ipn: { ipns: 2000, chargePermissions: 100, concurrency: 20, latencySamples: 100 } satisfies IpnOptions,
    cost: { checkoutsPerPath: 5 },
    faults: { checkouts: 300, concurrency: 20, errorRate: 0.3 } satisfies FaultOptions,
    webhooks: { checkouts: 300, concurrency: 20, historySamples: 5 } satisfies WebhookOptions,
    cycles: { cycles: 7 } satisfies SubscriptionCostOptions,
    scale: {
      subscriptions: 10000,
      concurrency: 20,
      waves: 1,
      historySamples: 20,
      unit: 'Month' as ScaleOptions['unit'],
      waveTimeoutMs: 30 * 60_000,
    } satisfies ScaleOptions,
  },
};

const ALL = ['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'P7'];

async function machine(cliPath: string): Promise<Machine> {
  const temporal = await promisify(execFile)(cliPath, ['--version']).then(
    (r) => r.stdout.trim().replace(/^temporal version /, 'Temporal CLI '),
    () => 'Temporal CLI (version unknown)',
  );
  return {
    date: new Date().toISOString(),
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    ramGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()} ${process.arch}`,
    temporal,
    loadAtStart: os.loadavg(),
    loadAtEnd: [],
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      full: { type: 'boolean', default: false },
      only: { type: 'string' },
      subscriptions: { type: 'string' },
      'no-record': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const only = values.only ? values.only.split(',').map((s) => s.trim().toUpperCase()) : ALL;
  const unknown = only.filter((s) => !ALL.includes(s));
  if (unknown.length) throw new Error(`--only: unknown ${unknown.join(', ')} (choose from ${ALL.join(', ')})`);
  const profile = values.full ? 'full' : 'quick';
  const sizes = PROFILES[profile];
  const scale = { ...sizes.scale, ...(values.subscriptions ? { subscriptions: Number(values.subscriptions) } : {}) };
  if (!Number.isInteger(scale.subscriptions) || scale.subscriptions < 1)
    throw new Error('--subscriptions: a positive integer');
  const record = !values['no-record'] && !values.only;
  const command = `npm run bench${values.full || values.subscriptions ? ' --' : ''}${values.full ? ' --full' : ''}${values.subscriptions ? ` --subscriptions ${values.subscriptions}` : ''}`;

  const started = performance.now();
  const loadAtStart = os.loadavg();
  await using stack = await startBenchStack({}, { baselines: true });
  await using storefront = await startStorefront(stack);
  const results: RunResults = {
    profile,
    command,
    machine: { ...(await machine(stack.cliPath)), loadAtStart },
    seconds: 0,
  };
  const log = (s: string) =>
    process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0)}s] ${s}\n`);

  if (only.includes('P1') || only.includes('P2')) {
    log(`P1/P2: ${sizes.throughput.checkouts} checkouts x ${sizes.throughput.rounds} round(s), ours and bare`);
    results.throughput = await runThroughput(stack, storefront, sizes.throughput);
  }
  if (only.includes('P6')) {
    log(`P6: ${sizes.faults.checkouts} checkouts under ${sizes.faults.errorRate * 100}% Amazon 5xx`);
    results.faults = await runFaults(stack, storefront, sizes.faults);
  }
  if (only.includes('P3')) {
    log(`P3: ${sizes.ipn.ipns} IPNs over ${sizes.ipn.chargePermissions} charge permissions, and raw signals`);
    results.ipn = await runIpn(stack, storefront, sizes.ipn);
  }
  if (only.includes('P4')) {
    log(`P4: ${sizes.cost.checkoutsPerPath} checkout(s) per path, one at a time, IPNs on`);
    results.cost = await runCost(stack, storefront, sizes.cost);
  }
  if (only.includes('P7')) {
    log(
      `P7: ${sizes.webhooks.historySamples} checkout(s) one at a time with and without an endpoint, then ${sizes.webhooks.checkouts} checkouts, ${sizes.webhooks.concurrency} at a time, delivering to a local receiver`,
    );
    results.webhooks = await runWebhooks(stack, storefront, sizes.webhooks);
  }
  // Subscriptions live months: on the Java time-skipping server, after the dev-server benchmarks.
  if (only.includes('P4') || only.includes('P5')) {
    await using subs = await startSubscriptionStack();
    results.subscriptionServer = subs.serverVersion;
    if (only.includes('P4')) {
      log(`P4: a monthly subscription over ${sizes.cycles.cycles} billing cycles (time-skipping server)`);
      results.cycles = await runSubscriptionCost(subs, sizes.cycles);
    }
    if (only.includes('P5')) {
      log(
        `P5: ${scale.subscriptions} subscriptions (${scale.unit === 'Day' ? 'daily' : 'monthly'}) signed up ${scale.concurrency} at a time, then ${scale.waves} cycle wave(s)`,
      );
      results.scale = await runSubscriptionScale(subs, scale, log);
    }
  }
  results.machine.loadAtEnd = os.loadavg();
  results.seconds = (performance.now() - started) / 1000;

  // P1 and P2 come from the same run: asking for either shows both.
  const shown = rows(results).filter((r) => only.includes(r.id) || (r.id.match(/^P[12]$/) && results.throughput));
  console.log(`\nBenchmarks (${profile} profile), ${machineLine(results.machine)}\n`);
  console.log(table(shown));
  console.log(`\n${details(results)}\n`);
  if (record) {
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    await mkdir(dir, { recursive: true });
    await writeFile(`${dir}${profile}.json`, `${JSON.stringify(forJson(results), null, 2)}\n`);
    await updateResultsFile(fileURLToPath(new URL('./RESULTS.md', import.meta.url)), results);
    log(`wrote bench/results/${profile}.json and the ${profile} section of bench/RESULTS.md`);
  }
  log(`done in ${results.seconds.toFixed(0)} s`);
}

await main();
