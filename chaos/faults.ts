// Faults at seeded random moments while the load runs. Every enabled class is injected at least
// once (its first moment falls in the first two thirds of the run), then again at random for long
// runs. Each injection is recorded with what it did, so the report shows the faults really bit.
import type { SimulatorAdmin } from '../simulator/admin-client';
import type { FaultClass } from './options';
import type { ChaosStack } from './processes';

export interface FaultEvent {
  fault: FaultClass | 'drop-ipn';
  at: string;
  /** Seconds since the load started. */
  t: number;
  what: string;
  ms: number;
  error?: string;
}

export interface FaultDeps {
  stack: ChaosStack;
  admin: SimulatorAdmin;
  random: () => number;
  log: (line: string) => void;
  /** R5 and R6 (hostile.ts). */
  hostile: (fault: 'R5' | 'R6') => Promise<string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Moments (ms after the start) for each fault: once early, then about every `every` ms. */
export function faultSchedule(
  faults: FaultClass[],
  durationMs: number,
  random: () => number,
): Array<{ fault: FaultClass; atMs: number }> {
  const plan: Array<{ fault: FaultClass; atMs: number }> = [];
  const every: Record<FaultClass, number> = {
    R1: 90_000,
    R2: 240_000,
    R3: 180_000,
    R4: 180_000,
    R5: 60_000,
    R6: 60_000,
  };
  for (const fault of faults) {
    plan.push({ fault, atMs: Math.round(durationMs * (0.08 + random() * 0.55)) });
    for (let t = every[fault]; t < durationMs * 0.85; t += every[fault])
      plan.push({ fault, atMs: Math.round(t + (random() - 0.5) * every[fault] * 0.5) });
  }
  return plan.filter((p) => p.atMs < durationMs * 0.9).sort((a, b) => a.atMs - b.atMs);
}

/** Runs the schedule until `endAt`; faults of different classes may overlap, one of each at a time. */
export async function runFaults(
  deps: FaultDeps,
  plan: Array<{ fault: FaultClass; atMs: number }>,
  startedAt: number,
  endAt: number,
  dropIpn: boolean,
): Promise<FaultEvent[]> {
  const events: FaultEvent[] = [];
  const busy = new Set<FaultClass>();
  const running: Promise<void>[] = [];
  const record = async (fault: FaultClass | 'drop-ipn', fn: () => Promise<string>) => {
    const t = Date.now();
    const event: FaultEvent = {
      fault,
      at: new Date().toISOString(),
      t: Math.round((t - startedAt) / 1000),
      what: '',
      ms: 0,
    };
    try {
      event.what = await fn();
    } catch (err) {
      event.error = (err as Error).message;
    }
    event.ms = Date.now() - t;
    events.push(event);
    deps.log(
      `fault ${fault} at +${event.t}s: ${event.what}${event.error ? ` FAILED: ${event.error}` : ''} (${Math.round(event.ms / 1000)} s)`,
    );
  };
  if (dropIpn) {
    await record('drop-ipn', async () => {
      await deps.admin.configureIpn({ lossRate: 1 });
      return 'every IPN dropped for the whole run';
    });
  }
  for (const { fault, atMs } of plan) {
    const wait = startedAt + atMs - Date.now();
    if (wait > 0) await sleep(wait);
    if (Date.now() >= endAt) break;
    if (busy.has(fault)) continue;
    busy.add(fault);
    running.push(record(fault, () => inject(deps, fault, dropIpn)).finally(() => busy.delete(fault)));
  }
  await Promise.all(running);
  return events;
}

async function inject(deps: FaultDeps, fault: FaultClass, dropIpn: boolean): Promise<string> {
  const { stack, admin, random } = deps;
  switch (fault) {
    case 'R1': {
      const live = stack.workers.filter((w) => w.running);
      const worker = live[Math.floor(random() * live.length)];
      if (!worker) return 'no worker running';
      // Half the time an Amazon POST is held open first, so the kill lands between the call and
      // its recorded result (when the held call is this worker's; with two workers, often).
      const hold =
        random() < 0.5
          ? (['captureCharge', 'createCharge', 'createRefund', 'completeCheckoutSession'] as const)[
              Math.floor(random() * 4)
            ]!
          : null;
      if (hold) {
        await admin.setFaults({ holdResponses: { operation: hold, ms: 4000, count: 2 } });
        await sleep(2000);
      }
      await worker.kill();
      const pauseMs = 3000 + Math.floor(random() * 7000);
      await sleep(pauseMs);
      if (hold) await admin.setFaults({ holdResponses: null });
      const attempts = await worker.startSupervised();
      return `SIGKILL ${worker.name}${hold ? ` while ${hold} answers were held` : ''}, restarted after ${Math.round(pauseMs / 1000)} s${attempts > 1 ? ` (${attempts} starts: Temporal was down)` : ''}`;
    }
    case 'R2': {
      if (!stack.temporal.restart) return 'skipped: attached to an external Temporal';
      await stack.temporal.restart();
      return 'dev server stopped and started again on the same SQLite file';
    }
    case 'R3': {
      const windowMs = 20_000 + Math.floor(random() * 20_000);
      const latencyMs = 50 + Math.floor(random() * 250);
      await admin.setFaults({ throttleRate: 0.3, errorRate: 0.1, latencyMs });
      await sleep(windowMs);
      await admin.setFaults({ throttleRate: 0, errorRate: 0, latencyMs: 0 });
      return `simulator: 30% 429, 10% 5xx, +${latencyMs} ms latency for ${Math.round(windowMs / 1000)} s`;
    }
    case 'R4': {
      const windowMs = 30_000 + Math.floor(random() * 30_000);
      if (dropIpn) return 'skipped: drop-ipn drops every IPN already';
      // Three copies of each; half held back 35 s, past the workflow's first poll (30 s), so
      // later notifications overtake them.
      await admin.configureIpn({ duplicateRate: 1, duplicateCopies: 3, reorderRate: 0.5, reorderHoldMs: 35_000 });
      await sleep(windowMs);
      await admin.configureIpn({ duplicateRate: 0, reorderRate: 0 });
      return `IPNs x3, half held 35 s (reordered, past the first poll) for ${Math.round(windowMs / 1000)} s`;
    }
    case 'R5':
    case 'R6':
      return deps.hostile(fault);
  }
}
