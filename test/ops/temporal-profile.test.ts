/**
 * The worker and the API as an operator runs them, connected to Temporal by a profile file alone
 * (TEMPORAL_CONFIG_FILE + TEMPORAL_PROFILE, no other TEMPORAL_* variable but our task queue): the
 * API process starts a checkout over HTTP and the worker process runs it. Then the same over mTLS,
 * with the profile carrying the client certificate, its key and the server's CA.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../scripts/dev-server';
import { startSimulator, type RunningSimulator } from '../../simulator';
import { SimulatorAdmin } from '../../simulator/admin-client';
import { STORE_ID } from '../checkout/helpers';
import { TEST_CODEC_KEYS } from '../support/codec';
import { generateMerchantKey, type TestKeyPair } from '../support/keys';
import { testLogFile } from '../support/logs';
import { generateTestPki, startMtlsProxy, type TestPki } from './mtls';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'temporal-profile-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

let simulator: RunningSimulator;
let merchantKey: TestKeyPair;
let pki: TestPki;

beforeAll(async () => {
  merchantKey = generateMerchantKey();
  simulator = await startSimulator({ publicKeys: { [merchantKey.publicKeyId]: merchantKey.publicKeyPem } });
  pki = await generateTestPki();
});
afterAll(async () => {
  await simulator?.close();
});

interface Running extends AsyncDisposable {
  output: () => string;
}

/**
 * Runs an entrypoint with the Temporal connection given only by the profile: every TEMPORAL_*
 * variable of this process is dropped. Resolves once `ready` is printed; rejects if it exits first.
 */
async function run(
  entrypoint: 'worker/main.ts' | 'api/main.ts',
  profile: { file: string; name: string },
  env: Record<string, string>,
  ready: string,
): Promise<Running> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  const child = spawn(process.execPath, ['--import', 'tsx', entrypoint], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...inherited,
      TEMPORAL_CONFIG_FILE: profile.file,
      TEMPORAL_PROFILE: profile.name,
      AMAZON_PAY_PUBLIC_KEY_ID: merchantKey.publicKeyId,
      AMAZON_PAY_PRIVATE_KEY: merchantKey.privateKeyPem,
      AMAZON_PAY_PRIVATE_KEY_FILE: '',
      AMAZON_PAY_BASE_URL: simulator.url,
      AMAZON_PAY_STORE_ID: STORE_ID,
      PAYLOAD_CODEC_KEYS: TEST_CODEC_KEYS,
      PAYLOAD_CODEC_KEYS_FILE: '',
      LOG_LEVEL: 'info',
      ...env,
    },
  });
  const logFile = testLogFile().replace(/\.log$/, `.${entrypoint.split('/')[0]}-${child.pid}.log`);
  mkdirSync(dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile);
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      log.write(chunk);
      if (output.includes(ready)) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => reject(new Error(`${entrypoint} exited (${code}) before "${ready}":\n${output}`)));
  });
  return {
    output: () => output,
    [Symbol.asyncDispose]: async () => {
      child.kill('SIGTERM');
      await exited;
      log.end();
    },
  };
}

/** Runs an entrypoint that must fail at start-up; answers its output. */
async function failing(entrypoint: string, env: Record<string, string>): Promise<string> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  const child = spawn(process.execPath, ['--import', 'tsx', entrypoint], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...inherited, PAYLOAD_CODEC_KEYS: TEST_CODEC_KEYS, PAYLOAD_CODEC_KEYS_FILE: '', ...env },
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(code, output).toBe(1);
  return output;
}

/** The API process starts a checkout (update-with-start); only a worker running it can answer the review. */
async function checkoutThroughBothProcesses(profile: { file: string; name: string }) {
  const taskQueue = `profile-${randomUUID()}`;
  const apiPort = await freePort();
  await using worker = await run('worker/main.ts', profile, { TEMPORAL_TASK_QUEUE: taskQueue }, 'worker: polling');
  await using api = await run(
    'api/main.ts',
    profile,
    { TEMPORAL_TASK_QUEUE: taskQueue, API_KEYS: 'profile-key', API_PORT: String(apiPort) },
    'api: listening',
  );
  // JSON lines: the quotes around the profile's name are escaped.
  const from = JSON.stringify(
    `(namespace ${inject('temporalNamespace')}, from profile "${profile.name}" of ${profile.file})`,
  );
  expect(worker.output()).toContain(from.slice(1, -1));
  expect(api.output()).toContain(from.slice(1, -1));

  const call = async (path: string, body: unknown) => {
    const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
      method: 'POST',
      headers: { authorization: 'Bearer profile-key', 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    return JSON.parse(text) as Record<string, unknown>;
  };
  const config = await call('/v1/checkout-sessions/button-config', {
    amount: { amount: '12.00', currencyCode: 'USD' },
    checkoutReviewReturnUrl: 'https://shop.example/review',
  });
  const { checkoutSessionId } = await new SimulatorAdmin(simulator.url).clickButton(
    config as unknown as Parameters<SimulatorAdmin['clickButton']>[0],
  );
  const review = await call(`/v1/checkouts/${checkoutSessionId}/review`, {});
  expect(review).toMatchObject({ state: 'Open', buyer: expect.any(Object) });
}

describe('Temporal connection from a profile file alone', () => {
  it('the worker and the API connect by TEMPORAL_CONFIG_FILE + TEMPORAL_PROFILE and run a checkout together', async () => {
    const profile = {
      name: 'ops',
      file: file(
        'plain.toml',
        `[profile.ops]\naddress = "${inject('temporalAddress')}"\nnamespace = "${inject('temporalNamespace')}"\n`,
      ),
    };
    await checkoutThroughBothProcesses(profile);
  });

  it('over mTLS: the profile carries the client certificate, its key and the server CA; a stranger certificate is refused', async () => {
    await using proxy = await startMtlsProxy(pki, inject('temporalAddress'));
    const pem = (name: string, text: string) => file(name, text);
    const profileToml = (cert: string, key: string) =>
      [
        '[profile.mtls]',
        `address = "${proxy.address}"`,
        `namespace = "${inject('temporalNamespace')}"`,
        '[profile.mtls.tls]',
        `client_cert_path = "${cert}"`,
        `client_key_path = "${key}"`,
        `server_ca_cert_path = "${pem('ca.pem', pki.ca.cert)}"`,
        `server_name = "${pki.serverName}"`,
      ].join('\n');
    const profile = {
      name: 'mtls',
      file: file('mtls.toml', profileToml(pem('client.pem', pki.client.cert), pem('client.key', pki.client.key))),
    };
    await checkoutThroughBothProcesses(profile);
    // Both processes' connections (worker: native + client; API: client) went through the proxy with our certificate.
    expect(proxy.accepted.length).toBeGreaterThanOrEqual(3);
    expect(new Set(proxy.accepted)).toEqual(new Set(['amazon-pay-worker']));

    // A certificate the server does not trust: the worker stops at start-up, saying where and why.
    const stranger = file(
      'stranger.toml',
      profileToml(pem('stranger.pem', pki.stranger.cert), pem('stranger.key', pki.stranger.key)),
    );
    const output = await failing('worker/main.ts', {
      TEMPORAL_CONFIG_FILE: stranger,
      TEMPORAL_PROFILE: 'mtls',
      AMAZON_PAY_PUBLIC_KEY_ID: merchantKey.publicKeyId,
      AMAZON_PAY_PRIVATE_KEY: merchantKey.privateKeyPem,
    });
    // Refused for its certificate (self-signed, not by our CA), not for anything else.
    await proxy.refusal(/SELF_SIGNED_CERT/);
    expect(proxy.accepted).not.toContain('stranger');
    const fatal = JSON.parse(output.split('\n').find((l) => l.includes('"level":"fatal"'))!) as { problems: string[] };
    expect(fatal.problems).toEqual([
      expect.stringContaining(
        `Temporal at ${proxy.address} (namespace ${inject('temporalNamespace')}, from profile "mtls" of ${stranger}): cannot connect`,
      ),
    ]);
    expect(output).not.toMatch(/\\n\s+at /); // a message, not a stack trace
  });
});
