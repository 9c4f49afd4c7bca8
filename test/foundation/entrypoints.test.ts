// Production runs the worker and the API as separate processes. Each fails fast naming every
// missing setting, and the API process serves its health endpoint once configured.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { freePort } from '../../scripts/dev-server';
import { generateMerchantKey } from '../support/keys';
import { TEST_CODEC_KEYS } from '../support/codec';
import { sampleSum } from '../support/prometheus';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const blank = {
  TEMPORAL_ADDRESS: '',
  AMAZON_PAY_PUBLIC_KEY_ID: '',
  AMAZON_PAY_PRIVATE_KEY: '',
  AMAZON_PAY_PRIVATE_KEY_FILE: '',
  API_KEYS: '',
  API_KEYS_FILE: '',
  PAYLOAD_CODEC_KEYS: '',
  PAYLOAD_CODEC_KEYS_FILE: '',
  CODEC_SERVER_TOKEN: '',
  CODEC_SERVER_TOKEN_FILE: '',
};

function runEntrypoint(file: string, env: Record<string, string>, until?: (output: string) => boolean) {
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: repoRoot,
    env: { ...process.env, ...blank, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise<{ code: number | null; output: string; stop: () => void }>((resolve) => {
    const onData = (c: Buffer) => {
      output += c.toString();
      if (until?.(output)) resolve({ code: null, output, stop: () => child.kill('SIGTERM') });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => resolve({ code, output, stop: () => undefined }));
  });
}

describe('separate entrypoints', () => {
  for (const file of ['worker/main.ts', 'api/main.ts']) {
    it(`${file} refuses to start without configuration and lists every missing variable at once`, async () => {
      // The Temporal connection has the CLI's defaults; a profile that is not there is a problem like the others.
      const { code, output } = await runEntrypoint(file, { TEMPORAL_PROFILE: 'nowhere' });
      expect(code).toBe(1);
      for (const name of [
        'AMAZON_PAY_PUBLIC_KEY_ID',
        'AMAZON_PAY_PRIVATE_KEY',
        'TEMPORAL_PROFILE',
        'PAYLOAD_CODEC_KEYS',
      ])
        expect(output).toContain(name);
      if (file === 'api/main.ts')
        for (const name of ['API_KEYS', 'AMAZON_PAY_STORE_ID']) expect(output).toContain(name);
      expect(output).not.toMatch(/\n\s+at /); // a message, not a stack trace
    });
  }

  it('api/main.ts serves /health against a real Temporal, its metrics on their own port, and stops on SIGTERM', async () => {
    const key = generateMerchantKey();
    const port = await freePort();
    const metricsPort = await freePort();
    const started = await runEntrypoint(
      'api/main.ts',
      {
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        AMAZON_PAY_PUBLIC_KEY_ID: key.publicKeyId,
        AMAZON_PAY_PRIVATE_KEY: key.privateKeyPem,
        AMAZON_PAY_STORE_ID: 'amzn1.application-oa2-client.0123456789abcdef0123456789abcdef',
        API_KEYS: 'k1',
        API_PORT: String(port),
        PAYLOAD_CODEC_KEYS: TEST_CODEC_KEYS,
        CODEC_SERVER_TOKEN: 'operator-token-0123456789',
        API_METRICS_PORT: String(metricsPort),
      },
      (out) => out.includes('api: listening'),
    );
    try {
      expect(started.code).toBeNull();
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      expect(res.status).toBe(200);
      const unauthorized = await fetch(`http://127.0.0.1:${port}/v1/checkouts/x`, {
        headers: { authorization: 'Bearer wrong' },
      });
      expect(unauthorized.status).toBe(401);
      // The codec endpoint is served, and only with its operator credential.
      const codec = (authorization: string) =>
        fetch(`http://127.0.0.1:${port}/codec/decode`, {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/json' },
          body: '{"payloads":[]}',
        });
      expect((await codec('Bearer wrong')).status).toBe(401);
      expect(await (await codec('Bearer operator-token-0123456789')).json()).toEqual({ payloads: [] });
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(sampleSum(metrics, 'http_requests_total', { route: '/health', status: '200' })).toBe(1);
      expect(
        sampleSum(metrics, 'http_requests_total', { route: '/v1/checkouts/:checkoutSessionId', status: '401' }),
      ).toBe(1);
    } finally {
      started.stop();
    }
  });

  it('worker/main.ts serves the Temporal SDK metrics on WORKER_METRICS_PORT and logs JSON lines', async () => {
    const key = generateMerchantKey();
    const metricsPort = await freePort();
    const started = await runEntrypoint(
      'worker/main.ts',
      {
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_TASK_QUEUE: `entrypoint-${metricsPort}`,
        AMAZON_PAY_PUBLIC_KEY_ID: key.publicKeyId,
        AMAZON_PAY_PRIVATE_KEY: key.privateKeyPem,
        PAYLOAD_CODEC_KEYS: TEST_CODEC_KEYS,
        WORKER_METRICS_PORT: String(metricsPort),
        LOG_LEVEL: 'info',
      },
      (out) => out.includes('worker: polling'),
    );
    try {
      expect(started.code).toBeNull();
      const lines = started.output.split('\n').filter((l) => l.startsWith('{'));
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines)
        expect(JSON.parse(line)).toMatchObject({
          level: expect.any(String),
          component: 'worker',
          msg: expect.any(String),
        });
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(sampleSum(metrics, 'temporal_worker_start', { task_queue: `entrypoint-${metricsPort}` })).toBe(1);
    } finally {
      started.stop();
    }
  });
});
