// The chaos suite's command line (`npm run chaos -- --help`).
import { parseArgs } from 'node:util';

export const FAULTS = ['R1', 'R2', 'R3', 'R4', 'R5', 'R6'] as const;
export type FaultClass = (typeof FAULTS)[number];

export const SCENARIOS = [
  'capture',
  'partialCapture',
  'cancel',
  'refund',
  'confirmCharge',
  'declined',
  'subscription',
  'trial',
] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const DEFAULT_MIX: Record<Scenario, number> = {
  capture: 3,
  partialCapture: 2,
  cancel: 2,
  refund: 2,
  confirmCharge: 2,
  declined: 1,
  subscription: 3,
  trial: 2,
};

export const PROFILES = {
  /** No flags: a few minutes on a 2-core machine, checkouts and subscriptions, every fault class. */
  default: { duration: '3m', load: '4', settle: '5m' },
  /** The long run: 30 minutes of load, faults again and again. */
  soak: { duration: '30m', load: '4', settle: '10m' },
} as const;
export type Profile = keyof typeof PROFILES;

export interface ChaosOptions {
  profile: Profile;
  durationMs: number;
  /** Concurrent storefronts (each runs one checkout after another). */
  storefronts: number;
  /** Checkout starts per second across all storefronts (open loop); undefined: closed loop. */
  ratePerSecond: number | undefined;
  mix: Record<Scenario, number>;
  faults: FaultClass[];
  dropIpn: boolean;
  seed: number;
  jsonFile: string;
  attach: boolean;
  settleMs: number;
  keepData: boolean;
}

export const HELP = `npm run chaos -- [options]

Starts the Temporal dev server (SQLite in a temp dir), the Amazon Pay simulator, the API and two
workers as separate processes, drives storefront checkouts and recurring sign-ups (then cancels,
pauses, resumes, plan changes, buyers fixing or closing the agreement at Amazon) through the public
HTTP API while faults hit the system, then reconciles every checkout, and every subscription per
cycle, against the simulator's money movements. Prints a summary table, writes it as JSON, exits 1
on any anomaly. No flags: the default profile.

  --profile <p>    default (what no flags run): 3 minutes of load by 4 storefronts, checkouts and
                   subscriptions, every fault class R1-R6; about 6-8 minutes in all on 2 cores
                   soak: 30 minutes of load by 4 storefronts (each fault class again and again:
                   R1 about every 90 s, R2 every 4 min, R3/R4 every 3 min, R5/R6 every minute),
                   settling up to 10 minutes; about 35-40 minutes in all
                   the options below override the profile's values
  --duration <d>   how long load runs: 90s, 10m, 1h (default: the profile's, 3m); settling comes on top
  --load <n>       concurrent storefronts, each running one checkout after another (default 4);
                   "<n>/s" starts n checkouts per second instead (open loop, as many storefronts
                   as that needs, at most 200), e.g. --load 0.5/s
  --mix <list>     weights of the storefront scenarios, e.g. capture=3,refund=1,subscription=0
                   scenarios: capture (Authorize, capture all, close), partialCapture (capture
                   part, close), cancel (Authorize, cancel, close), refund (AuthorizeWithCapture,
                   partial refund, close), confirmCharge (Confirm, charge captureNow, close),
                   declined (the buyer's payment is declined at Amazon), subscription (Recurring
                   sign-up, AuthorizeWithCapture: cycle 0 charged at checkout), trial (Recurring
                   sign-up, Confirm: a free trial, nothing charged until cycle 1). A sign-up then
                   lives one of: cancelNow, cancelAtPeriodEnd, pauseResume, pausedThenCanceled,
                   planChange (a new amount), buyerFixesMethod (its card soft/hard declines later
                   charges; the buyer puts a good one on the agreement at Amazon's account page),
                   buyerCloses (the buyer ends the agreement at Amazon), declined (the sign-up is
                   declined at Amazon), keepActive. Plans are every Day, Week or Month; later
                   cycles fall due a day or more after sign-up on Temporal's clock, so a run of
                   minutes bills cycle 0 only (see the README); every cycle found is reconciled
                   default: ${Object.entries(DEFAULT_MIX)
                     .map(([k, v]) => `${k}=${v}`)
                     .join(',')}
  --faults <list>  fault classes, comma separated, or all | none | drop-ipn (default all)
                   R1 SIGKILL a worker (also while an Amazon POST is held), restart after a pause
                   R2 restart the Temporal dev server on the same SQLite file
                   R3 simulator at 30% 429, 10% 5xx and added latency for a while
                   R4 IPNs duplicated 3 times, reordered, delayed past the workflow's first poll
                   R5 hostile input (fast-check, from /openapi.json) on every route and the IPN endpoint
                   R6 requests without/with a wrong API key or Idempotency-Key, forged SNS
                      signatures, certificate URLs on foreign hosts
                   drop-ipn: every IPN is dropped for the whole run (combine: all,drop-ipn)
  --seed <n>       seed of every random choice of the load and the fault schedule (default: time)
  --json <file>    report file (default test-results/chaos/<timestamp>.json)
  --settle <d>     how long to wait at the end for every checkout and subscription to settle
                   (default: the profile's, 5m; soak 10m)
  --attach         use the Temporal at TEMPORAL_ADDRESS (TEMPORAL_NAMESPACE, search attributes
                   registered) instead of starting a dev server; R2 is then skipped
  --keep-data      keep the temp dir (SQLite file, process logs) after the run
  --help           this text
`;

/** "90s", "10m", "1h", "1500ms", or plain seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`not a duration: ${text} (e.g. 90s, 10m, 1h)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h']);
}

export function parseMix(text: string): Record<Scenario, number> {
  const mix = Object.fromEntries(SCENARIOS.map((s) => [s, 0])) as Record<Scenario, number>;
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [name, weight] = part.split('=');
    if (!SCENARIOS.includes(name as Scenario))
      throw new Error(`unknown scenario in --mix: ${name} (one of ${SCENARIOS.join(', ')})`);
    const w = weight === undefined ? 1 : Number(weight);
    if (!(w >= 0)) throw new Error(`weight of ${name} must be a number >= 0`);
    mix[name as Scenario] = w;
  }
  if (Object.values(mix).every((w) => w === 0)) throw new Error('--mix: at least one scenario needs a weight > 0');
  return mix;
}

export function parseFaults(text: string): { faults: FaultClass[]; dropIpn: boolean } {
  const faults = new Set<FaultClass>();
  let dropIpn = false;
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const upper = part.toUpperCase();
    if (part === 'all') FAULTS.forEach((f) => faults.add(f));
    else if (part === 'none') continue;
    else if (part === 'drop-ipn') dropIpn = true;
    else if ((FAULTS as readonly string[]).includes(upper)) faults.add(upper as FaultClass);
    else throw new Error(`unknown fault profile: ${part} (R1..R6, all, none, drop-ipn)`);
  }
  return { faults: FAULTS.filter((f) => faults.has(f)), dropIpn };
}

export function parseOptions(argv: string[], now = new Date()): ChaosOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      profile: { type: 'string' },
      duration: { type: 'string' },
      load: { type: 'string' },
      mix: { type: 'string' },
      faults: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'string' },
      settle: { type: 'string' },
      attach: { type: 'boolean' },
      'keep-data': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const profile = (values.profile ?? 'default') as Profile;
  if (!(profile in PROFILES))
    throw new Error(`unknown --profile: ${values.profile} (${Object.keys(PROFILES).join(', ')})`);
  const defaults = PROFILES[profile];
  let storefronts = 4;
  let ratePerSecond: number | undefined;
  const load = values.load ?? defaults.load;
  {
    const rate = /^(\d+(?:\.\d+)?)\/s$/.exec(load);
    if (rate) {
      ratePerSecond = Number(rate[1]);
      if (!(ratePerSecond > 0)) throw new Error('--load <n>/s: n must be > 0');
      // A checkout takes seconds to minutes under faults: enough storefronts to keep the rate.
      storefronts = Math.min(200, Math.max(2, Math.ceil(ratePerSecond * 60)));
    } else {
      storefronts = Number(load);
      if (!Number.isInteger(storefronts) || storefronts < 1 || storefronts > 200)
        throw new Error('--load: 1..200 storefronts, or <n>/s');
    }
  }
  const { faults, dropIpn } = parseFaults(values.faults ?? 'all');
  const seed = values.seed === undefined ? now.getTime() % 2 ** 31 : Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error('--seed must be an integer');
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  return {
    profile,
    durationMs: parseDuration(values.duration ?? defaults.duration),
    storefronts,
    ratePerSecond,
    mix: values.mix ? parseMix(values.mix) : { ...DEFAULT_MIX },
    faults: values.attach ? faults.filter((f) => f !== 'R2') : faults,
    dropIpn,
    seed,
    jsonFile: values.json ?? `test-results/chaos/${stamp}.json`,
    attach: values.attach ?? false,
    settleMs: parseDuration(values.settle ?? defaults.settle),
    keepData: values['keep-data'] ?? false,
  };
}

/** mulberry32: a small seeded generator, so a run's choices can be replayed with --seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pickWeighted<T extends string>(random: () => number, weights: Record<T, number>): T {
  const entries = Object.entries(weights) as [T, number][];
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let x = random() * total;
  for (const [k, w] of entries) {
    x -= w;
    if (x < 0) return k;
  }
  return entries.filter(([, w]) => w > 0).at(-1)![0];
}
