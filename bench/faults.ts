// P6: the buyer's path while Amazon answers 30% of API calls with 500/503 (the simulator's
// errorRate, before it processes the request): latency of review, amount and complete, 20
// storefronts at a time. The buyer's own pages at the simulator are not faulted.
import { emptySteps, type Storefront } from './storefront';
import { percentiles, pool, type BenchStack } from './support';

export interface FaultOptions {
  checkouts: number;
  concurrency: number;
  errorRate: number;
}

export interface StepLatency {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface FaultResult {
  options: FaultOptions;
  steps: Record<'review' | 'amount' | 'complete', StepLatency>;
  failures: string[];
  /** Amazon API calls the simulator saw during the run (faulted ones included). */
  amazonCalls: number;
  seconds: number;
}

export function latencyOf(xs: number[]): StepLatency {
  const p = percentiles(xs);
  return { n: xs.length, p50: p.median, p95: p.p95, p99: p.p99, max: p.max };
}

export async function runFaults(
  stack: BenchStack,
  storefront: Storefront,
  options: FaultOptions,
): Promise<FaultResult> {
  const times = emptySteps();
  const before = (await stack.admin.requestCounts()).byOperation;
  await stack.admin.setFaults({ errorRate: options.errorRate });
  let run;
  try {
    run = await pool(options.checkouts, options.concurrency, async (n) => {
      await storefront.checkout(20_000 + n, { until: 'complete', times });
    });
  } finally {
    await stack.admin.setFaults({ errorRate: 0 });
  }
  const after = (await stack.admin.requestCounts()).byOperation;
  const amazonCalls = Object.entries(after).reduce((a, [k, v]) => a + v - (before[k] ?? 0), 0);
  return {
    options,
    steps: { review: latencyOf(times.review), amount: latencyOf(times.amount), complete: latencyOf(times.complete) },
    failures: run.failures,
    amazonCalls,
    seconds: run.seconds,
  };
}
