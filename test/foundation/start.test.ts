// The README's first command, tried as a new user would: it starts everything, serves the API
// health endpoint and the Web UI, keeps Temporal state in its data folder across a restart, and
// Ctrl-C leaves no process behind.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { startSimulator } from '../../simulator';
import { generateMerchantKey } from '../support/keys';
import { freePort } from '../../scripts/dev-server';
import { ensureTemporalCli } from '../../scripts/provision';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

async function startMain(env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: repoRoot,
    env: { ...process.env, TEMPORAL_ADDRESS: '', AMAZON_PAY_PUBLIC_KEY_ID: '', API_KEYS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 90_000;
  while (!output.includes('Ctrl-C stops everything')) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm start not ready after 90 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, output: () => output, exited };
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not seen in 30 s: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Processes whose command line mentions the data folder (the dev server's --db-filename). */
function processesUsing(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

describe('npm start (the embedded default)', () => {
  it('runs Temporal with the Web UI, the simulator, the worker and the API; state survives a restart; Ctrl-C leaves nothing', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'amazon-pay-start-'));
    const ports = {
      TEMPORAL_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      API_PORT: String(await freePort()),
      SIMULATOR_PORT: String(await freePort()),
      DEMO_PORT: String(await freePort()),
    };
    const env = { DATA_DIR: dataDir, ...ports };
    const cli = await ensureTemporalCli();
    const address = `127.0.0.1:${ports.TEMPORAL_PORT}`;

    // At info, the worker's lines are on the console; the workflow bundler's statistics are not.
    const first = await startMain({ ...env, LOG_LEVEL: 'info' });
    try {
      await waitFor(() => first.output().includes('"msg":"Worker state changed"'), 'the worker logs at info');
      expect(first.output()).not.toMatch(/webpack|modules by path|asset workflow-bundle/);
      const health = await fetch(`http://127.0.0.1:${ports.API_PORT}/health`);
      expect(health.status).toBe(200);
      // The API reference is linked from the output and served.
      expect(first.output()).toContain(`API reference       http://127.0.0.1:${ports.API_PORT}/docs`);
      const docs = await fetch(`http://127.0.0.1:${ports.API_PORT}/docs`);
      expect(docs.status).toBe(200);
      expect(await docs.text()).toContain('SwaggerUIBundle');
      const ui = await fetch(`http://127.0.0.1:${ports.TEMPORAL_UI_PORT}/`);
      expect(ui.status).toBe(200);
      expect(first.output()).toContain(`http://127.0.0.1:${ports.TEMPORAL_UI_PORT}`);
      const shop = await fetch(`http://127.0.0.1:${ports.DEMO_PORT}/`);
      expect(shop.status).toBe(200);
      expect(await shop.text()).toContain('renderButton');
      // A workflow nobody polls for: it only has to outlive the restart.
      await run(cli, [
        'workflow',
        'start',
        '--address',
        address,
        '--type',
        'persistenceProbe',
        '--task-queue',
        'nobody',
        '--workflow-id',
        'persistence-probe',
      ]);
    } finally {
      first.child.kill('SIGINT');
    }
    expect(await first.exited).toBe(0);
    expect(processesUsing(dataDir)).toEqual([]);

    const second = await startMain(env);
    try {
      const { stdout } = await run(cli, [
        'workflow',
        'describe',
        '--address',
        address,
        '--workflow-id',
        'persistence-probe',
        '-o',
        'json',
      ]);
      expect(stdout).toContain('persistence-probe');
      const list = await run(cli, ['workflow', 'list', '--address', address]);
      expect(list.stdout).toContain('persistence-probe');
    } finally {
      second.child.kill('SIGINT');
    }
    expect(await second.exited).toBe(0);
    expect(processesUsing(dataDir)).toEqual([]);
    expect(second.output()).toContain('stopped Temporal dev server');
  });

  it('attaches to TEMPORAL_ADDRESS and talks to the configured Amazon Pay instead of starting its own', async () => {
    if (process.env.TEMPORAL_ADDRESS) return; // needs the dev server of this test run
    const dataDir = mkdtempSync(join(tmpdir(), 'amazon-pay-attach-'));
    const key = generateMerchantKey();
    // Stands in for Amazon Pay: an external service the product only knows by its base URL.
    await using amazon = await startSimulator({ publicKeys: { [key.publicKeyId]: key.publicKeyPem } });
    const apiPort = String(await freePort());
    const started = await startMain({
      DATA_DIR: dataDir,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      AMAZON_PAY_PUBLIC_KEY_ID: key.publicKeyId,
      AMAZON_PAY_PRIVATE_KEY: key.privateKeyPem,
      AMAZON_PAY_BASE_URL: amazon.url,
      AMAZON_PAY_STORE_ID: 'amzn1.application-oa2-client.00000000000000000000000000000000',
      API_KEYS: 'attach-key',
      API_PORT: apiPort,
      SIMULATOR_PORT: String(await freePort()),
    });
    try {
      const out = started.output();
      expect(out).toContain(`attached to ${inject('temporalAddress')}`);
      expect(out).toContain(`Amazon Pay          ${amazon.url}`);
      expect(out).not.toContain('simulator at');
      expect(out).not.toContain('starting the Temporal dev server');
      const res = await fetch(`http://127.0.0.1:${apiPort}/v1/checkout-sessions/button-config`, {
        method: 'POST',
        headers: { authorization: 'Bearer attach-key', 'content-type': 'application/json' },
        body: JSON.stringify({
          amount: { amount: '5.00', currencyCode: 'USD' },
          checkoutReviewReturnUrl: 'https://shop.example/review',
        }),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { publicKeyId: string }).publicKeyId).toBe(key.publicKeyId);
    } finally {
      started.child.kill('SIGINT');
    }
    expect(await started.exited).toBe(0);
  });
});
