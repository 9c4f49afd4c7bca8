// P5: N active monthly subscriptions between cycles on one worker (the worker process of
// bench/time-skipping.ts, on the time-skipping server). Signs them up through the checkout
// workflow, then measures the worker's RSS and sticky cache, and times cycle waves: both clocks
// moved past every subscription's due date at once, until each one's `subscription.charged`
// event reached the merchant's endpoint. History events per cycle from a sample of the runs that
// ended in the last wave.
import proto from '@temporalio/proto';
import { subscriptionStatusQuery } from '../workflows/subscription-messages';
import { countBillableActions } from './actions';
import { pool, until } from './support';
import type { SubscriptionStack } from './time-skipping';

export interface ScaleOptions {
  subscriptions: number;
  /** Sign-ups at once. */
  concurrency: number;
  /** Cycle waves (the first is the runs begun at sign-up; the later ones are steady cycles). */
  waves: number;
  /** Runs sampled for history events per cycle. */
  historySamples: number;
  /** The billing period (monthly in both profiles; Day shortens a wave's clock move where a test server struggles). */
  unit: 'Day' | 'Month';
  /** A wave not billed by then is recorded as stalled and the waves stop (the Java test server has stalled on later waves). */
  waveTimeoutMs: number;
}

export interface Wave {
  wave: number;
  /** Moving both clocks (the test server fires every due timer in that span). */
  elapseSeconds: number;
  /** From moving the clocks until every subscription's charged event was delivered. */
  seconds: number;
  chargesPerSecond: number;
  peakRssBytes: number;
  rssAfterBytes: number;
  cachedAfter: number | null;
  amazonCalls: Record<string, number>;
  /** Set when the wave did not finish within waveTimeoutMs: how many were charged by then. */
  stalled?: { charged: number; clockMoved: boolean };
}

export interface ScaleResult {
  options: ScaleOptions;
  signUp: { seconds: number; perSecond: number; failures: string[] };
  cacheSize: number;
  rss: { beforeBytes: number; afterSignUpBytes: number; afterWavesBytes: number };
  cached: { before: number | null; afterSignUp: number | null; afterWaves: number | null };
  /** (RSS after sign-up - before) / workflows cached after sign-up. */
  rssPerCachedWorkflowBytes: number | null;
  waves: Wave[];
  /** Of the sampled runs that ended in the last wave (each ends in its continue-as-new). */
  history: { samples: number; eventsPerCycle: number[]; actionsPerCycle: number[] };
  temporalServer: string;
}

const HOUR = 3_600_000;
const { EventType } = proto.temporal.api.enums.v1;

export async function runSubscriptionScale(
  stack: SubscriptionStack,
  options: ScaleOptions,
  log: (s: string) => void = () => undefined,
): Promise<ScaleResult> {
  const { worker, receiver, admin, temporal } = stack;
  const ids: string[] = [];
  const rssBefore = await worker.rssBytes();
  const cachedBefore = await worker.cachedWorkflows();

  const signUp = await pool(options.subscriptions, options.concurrency, async (n) => {
    const { subscriptionId } = await stack.subscribe(n, { unit: options.unit });
    ids.push(subscriptionId);
    if (ids.length % 500 === 0) log(`P5: ${ids.length} signed up`);
  });
  const reached = (type: string, count: number) => {
    let n = 0;
    for (const id of ids) if ((receiver.bySubscription.get(id)?.get(type) ?? 0) >= count) n++;
    return n;
  };
  await until(
    async () => reached('subscription.created', 1),
    (n) => n === ids.length,
    10 * 60_000,
    'every subscription.created event',
  );
  await stack.simulator.ipn.idle(60_000);
  const afterSignUp = { rss: await worker.rssBytes(), cached: await worker.cachedWorkflows() };
  log(
    `P5: ${ids.length} subscriptions in ${signUp.seconds.toFixed(0)} s; worker RSS ${(afterSignUp.rss / 2 ** 20).toFixed(0)} MiB, ${afterSignUp.cached} cached`,
  );

  const waves: Wave[] = [];
  for (let wave = 1; wave <= options.waves; wave++) {
    // The latest anchor is the last due: past it (and an hour), every subscription is due.
    const due = await Promise.all(
      ids.slice(-20).map((id) => temporal.workflow.getHandle(id).query(subscriptionStatusQuery)),
    );
    const target = Math.max(...due.map((s) => Date.parse(s.nextBillingAt!))) + HOUR;
    const amazonBefore = (await admin.requestCounts()).byOperation;
    let peak = 0;
    const sampler = setInterval(
      () =>
        void worker.rssBytes().then(
          (r) => (peak = Math.max(peak, r)),
          () => undefined,
        ),
      500,
    );
    const started = performance.now();
    let clockMoved = false;
    let movedSeconds = NaN;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'stalled'>(
      (resolve) => (timer = setTimeout(() => resolve('stalled'), options.waveTimeoutMs)),
    );
    try {
      const done = await Promise.race([
        timeout,
        (async () => {
          await stack.elapse(target - (await stack.now()));
          clockMoved = true;
          movedSeconds = (performance.now() - started) / 1000;
          log(`P5: wave ${wave}: clocks moved in ${((performance.now() - started) / 1000).toFixed(0)} s`);
          let shown = performance.now();
          await until(
            async () => {
              const n = reached('subscription.charged', wave);
              if (performance.now() - shown > 15_000) {
                shown = performance.now();
                log(`P5: wave ${wave}: ${n} of ${ids.length} charged`);
              }
              return n;
            },
            (n) => n === ids.length,
            options.waveTimeoutMs,
            `wave ${wave}: every subscription charged`,
          );
          return 'billed' as const;
        })(),
      ]);
      const seconds = (performance.now() - started) / 1000;
      const after = (await admin.requestCounts()).byOperation;
      const charged = reached('subscription.charged', wave);
      waves.push({
        wave,
        elapseSeconds: movedSeconds,
        seconds,
        chargesPerSecond: charged / seconds,
        peakRssBytes: peak,
        rssAfterBytes: await worker.rssBytes(),
        cachedAfter: await worker.cachedWorkflows(),
        amazonCalls: Object.fromEntries(
          Object.entries(after)
            .map(([k, v]): [string, number] => [k, v - (amazonBefore[k] ?? 0)])
            .filter(([, v]) => v > 0),
        ),
        ...(done === 'stalled' ? { stalled: { charged, clockMoved } } : {}),
      });
      log(
        `P5: wave ${wave} ${done === 'stalled' ? `STALLED after ${seconds.toFixed(0)} s (${charged} charged, clocks ${clockMoved ? '' : 'not '}moved)` : `billed ${ids.length} in ${seconds.toFixed(0)} s`}`,
      );
      if (done === 'stalled') break;
    } finally {
      clearInterval(sampler);
      clearTimeout(timer);
    }
  }

  // The run that billed the last wave: the one the current run continued from.
  const eventsPerCycle: number[] = [];
  const actionsPerCycle: number[] = [];
  const step = Math.max(1, Math.floor(ids.length / options.historySamples));
  for (let i = 0; i < ids.length && eventsPerCycle.length < options.historySamples; i += step) {
    const current = await temporal.workflow.getHandle(ids[i]!).fetchHistory();
    const first = current.events?.[0];
    const previousRunId =
      first?.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
        ? first.workflowExecutionStartedEventAttributes?.continuedExecutionRunId
        : undefined;
    if (!previousRunId) continue;
    const run = await temporal.workflow.getHandle(ids[i]!, previousRunId).fetchHistory();
    eventsPerCycle.push(run.events?.length ?? 0);
    actionsPerCycle.push(countBillableActions(run).total);
  }

  const afterWaves = { rss: await worker.rssBytes(), cached: await worker.cachedWorkflows() };
  return {
    options,
    signUp: { seconds: signUp.seconds, perSecond: ids.length / signUp.seconds, failures: signUp.failures },
    cacheSize: worker.cacheSize,
    rss: { beforeBytes: rssBefore, afterSignUpBytes: afterSignUp.rss, afterWavesBytes: afterWaves.rss },
    cached: { before: cachedBefore, afterSignUp: afterSignUp.cached, afterWaves: afterWaves.cached },
    rssPerCachedWorkflowBytes: afterSignUp.cached ? (afterSignUp.rss - rssBefore) / afterSignUp.cached : null,
    waves,
    history: { samples: eventsPerCycle.length, eventsPerCycle, actionsPerCycle },
    temporalServer: stack.serverVersion,
  };
}
