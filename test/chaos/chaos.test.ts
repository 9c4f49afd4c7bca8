// The chaos suite's small profile, as CI runs it: `npm run chaos` as a child process for about a
// minute of load (checkouts and recurring sign-ups with their cancels, pauses, plan changes and
// buyers acting at Amazon) with every fault class, then its own settling and reconciliation. It must exit 0
// with a report that shows the faults really happened and checkouts really completed; any
// anomaly makes the command (and this test) fail. The reconciler's own failure cases are unit
// tests (chaos/reconcile.test.ts). The command starts its own dev server, simulator, API and two
// workers: it does not use the suite's shared server.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ChaosReport } from '../../chaos/report';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

function runChaos(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'chaos/main.ts', ...args], {
    cwd: repoRoot,
    env: { ...process.env, TEMPORAL_ADDRESS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })));
}

describe('chaos suite (small profile)', () => {
  it(
    'a minute of checkouts and subscriptions under every fault class reconciles with no anomaly',
    { timeout: 12 * 60_000 },
    async () => {
      const json = join(mkdtempSync(join(tmpdir(), 'chaos-test-')), 'report.json');
      const { code, output } = await runChaos([
        '--duration',
        '60s',
        '--load',
        '2',
        '--faults',
        'all',
        '--seed',
        '11',
        '--settle',
        '6m',
        '--json',
        json,
      ]);
      expect(code, output.slice(-6000)).toBe(0);
      const report = JSON.parse(readFileSync(json, 'utf8')) as ChaosReport;
      expect(report.anomalies).toEqual([]);
      expect(report.passed).toBe(true);
      // Every fault class really happened: worker kills (restarted), a dev server restart, the
      // simulator's errors, IPN duplication, hostile input and bad keys.
      for (const fault of ['R1', 'R2', 'R3', 'R4', 'R5', 'R6'])
        expect(report.faults.injected[fault], fault).toBeGreaterThanOrEqual(1);
      expect(report.faults.failed).toBe(0);
      expect(
        Math.max(
          ...Object.entries(report.processes)
            .filter(([p]) => p.startsWith('worker'))
            .map(([, v]) => v.starts),
        ),
      ).toBeGreaterThanOrEqual(2);
      expect(report.http.hostileRequests).toBeGreaterThan(50);
      // Real load went through and was reconciled against the simulator's movements.
      expect(report.load.checkoutsFinished).toBeGreaterThan(8);
      expect(report.money.movements).toBeGreaterThan(report.load.checkoutsFinished);
      expect(report.money.capturedMinor).toBeGreaterThan(0);
      expect(report.settle.settled).toBe(true);
      // Recurring sign-ups went through and each subscription was reconciled per cycle (cycle 0 at
      // sign-up; later cycles are a day or more away on Temporal's clock).
      const subs = report.load.subscriptions;
      expect(subs.signUps).toBeGreaterThanOrEqual(1);
      // A sign-up still in the buyer's hands when the load stops is counted but never subscribes.
      const unfinished =
        (report.load.byScenario.subscription?.unfinished ?? 0) + (report.load.byScenario.trial?.unfinished ?? 0);
      expect(subs.subscriptions).toBe(subs.signUps - (subs.byLifecycle.declined ?? 0) - unfinished);
      expect(subs.cyclesCharged).toBe(subs.subscriptions - subs.trials);
      expect(Object.values(subs.byStatus).reduce((a, b) => a + b, 0)).toBe(subs.subscriptions);
    },
  );
});
