import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { searchAttributeTypes } from '../workflows/search-attributes';
import {
  amazonPayCredentials,
  apiKeys,
  codecServerToken,
  ConfigError,
  configKeys,
  inboxOptions,
  logLevelOf,
  metricsAddress,
  parseEnv,
  payloadCodecKeys,
  requirePayloadCodecKeys,
  wholeMatch,
  workerTuning,
} from './index';

const repoFile = (p: string) => readFileSync(new URL(`../${p}`, import.meta.url), 'utf8');

describe('inboxOptions (read by the API and the worker alike)', () => {
  it('never polls the owner unless IPN_OWNER_CHECK_INTERVAL_MS is set', () => {
    expect(inboxOptions(parseEnv({}))).toEqual({ unmatchedAfterMs: 900_000, lingerAfterOwnerClosedMs: 604_800_000 });
    expect(
      inboxOptions(parseEnv({ IPN_OWNER_CHECK_INTERVAL_MS: '2592000000', IPN_UNMATCHED_AFTER_MS: '60000' })),
    ).toEqual({
      unmatchedAfterMs: 60_000,
      lingerAfterOwnerClosedMs: 604_800_000,
      ownerCheckIntervalMs: 2_592_000_000,
    });
    expect(() => parseEnv({ IPN_OWNER_CHECK_INTERVAL_MS: 'daily' })).toThrow(/IPN_OWNER_CHECK_INTERVAL_MS/);
  });
});

describe('parseEnv', () => {
  it('applies the embedded defaults', () => {
    const env = parseEnv({});
    expect(env.TEMPORAL_TASK_QUEUE).toBe('amazon-pay');
    expect(env.API_PORT).toBe(3000);
    expect(env.AMAZON_PAY_REGION).toBe('na');
    expect(env.AMAZON_PAY_SANDBOX).toBe(true);
  });

  it('lists every invalid variable at once, not just the first', () => {
    let error: unknown;
    try {
      parseEnv({ API_PORT: 'eighty', AMAZON_PAY_REGION: 'mars', IPN_PATH: 'no-slash', AMAZON_PAY_SANDBOX: 'perhaps' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['API_PORT', 'AMAZON_PAY_REGION', 'IPN_PATH', 'AMAZON_PAY_SANDBOX'])
      expect(problems).toContain(name);
  });

  it('refuses an SNS host pattern that is not anchored or not a regular expression', () => {
    expect(() => parseEnv({ IPN_CERT_HOST_PATTERN: 'amazonaws\\.com' })).toThrow(
      /IPN_CERT_HOST_PATTERN: must be anchored/,
    );
    expect(() => parseEnv({ IPN_CERT_HOST_PATTERN: '^(sns$' })).toThrow(/not a valid regular expression/);
    expect(wholeMatch(parseEnv({}).IPN_CERT_HOST_PATTERN).test('sns.us-east-1.amazonaws.com')).toBe(true);
    expect(wholeMatch(parseEnv({}).IPN_CERT_HOST_PATTERN).test('sns.us-east-1.amazonaws.com.attacker.example')).toBe(
      false,
    );
    expect(() => parseEnv({ IPN_TOPIC_ARN_PATTERN: 'A2SHOP' })).toThrow(/IPN_TOPIC_ARN_PATTERN: must be anchored/);
  });

  it('matches a configured pattern whole on every alternative (^a|b$ does not let xb through)', () => {
    const pattern = parseEnv({
      IPN_CERT_HOST_PATTERN: '^sns\\.us-east-1\\.amazonaws\\.com|cdn\\.example$',
    }).IPN_CERT_HOST_PATTERN;
    expect(new RegExp(pattern).test('attacker-cdn.example')).toBe(true); // the trap wholeMatch closes
    expect(wholeMatch(pattern).test('attacker-cdn.example')).toBe(false);
    expect(wholeMatch(pattern).test('sns.us-east-1.amazonaws.com.attacker.example')).toBe(false);
    expect(wholeMatch(pattern).test('cdn.example')).toBe(true);
    expect(wholeMatch(pattern).test('sns.us-east-1.amazonaws.com')).toBe(true);
  });

  it('maps Amazon region aliases like the official SDKs', () => {
    expect(parseEnv({ AMAZON_PAY_REGION: 'US' }).AMAZON_PAY_REGION).toBe('na');
    expect(parseEnv({ AMAZON_PAY_REGION: 'de' }).AMAZON_PAY_REGION).toBe('eu');
    expect(parseEnv({ AMAZON_PAY_REGION: 'uk' }).AMAZON_PAY_REGION).toBe('eu');
    expect(parseEnv({ AMAZON_PAY_REGION: 'jp' }).AMAZON_PAY_REGION).toBe('jp');
  });
});

describe('LOG_LEVEL', () => {
  it('is info by default, case-insensitive, and refuses unknown levels', () => {
    expect(parseEnv({}).LOG_LEVEL).toBe('info');
    expect(parseEnv({ LOG_LEVEL: 'DEBUG' }).LOG_LEVEL).toBe('debug');
    expect(() => parseEnv({ LOG_LEVEL: 'verbose' })).toThrow(/LOG_LEVEL/);
  });

  it('is readable on its own before the rest of the configuration, falling back when unset or invalid', () => {
    expect(logLevelOf({ LOG_LEVEL: 'warn' })).toBe('warn');
    expect(logLevelOf({})).toBe('info');
    expect(logLevelOf({ LOG_LEVEL: 'verbose' })).toBe('info');
    expect(logLevelOf({}, 'warn')).toBe('warn');
  });
});

describe('metrics settings', () => {
  it('serves metrics only where a port is set, on METRICS_HOST', () => {
    const env = parseEnv({ API_METRICS_PORT: '9464' });
    expect(metricsAddress(env, env.API_METRICS_PORT)).toEqual({
      host: '127.0.0.1',
      port: 9464,
      bindAddress: '127.0.0.1:9464',
    });
    expect(metricsAddress(env, env.WORKER_METRICS_PORT)).toBeUndefined();
    const v6 = parseEnv({ METRICS_HOST: '::', WORKER_METRICS_PORT: '9465' });
    expect(metricsAddress(v6, v6.WORKER_METRICS_PORT)?.bindAddress).toBe('[::]:9465');
    expect(() => parseEnv({ WORKER_METRICS_PORT: 'ninety' })).toThrow(/WORKER_METRICS_PORT/);
  });
});

describe('amazonPayCredentials', () => {
  it('names every missing credential', () => {
    expect(() => amazonPayCredentials(parseEnv({}))).toThrow(/AMAZON_PAY_PUBLIC_KEY_ID[\s\S]*AMAZON_PAY_PRIVATE_KEY/);
  });

  it('rejects a private key that is not PEM and an unreadable key file', () => {
    expect(() =>
      amazonPayCredentials(parseEnv({ AMAZON_PAY_PUBLIC_KEY_ID: 'SANDBOX-X', AMAZON_PAY_PRIVATE_KEY: 'hunter2' })),
    ).toThrow(/not a PEM/);
    expect(() =>
      amazonPayCredentials(
        parseEnv({ AMAZON_PAY_PUBLIC_KEY_ID: 'SANDBOX-X', AMAZON_PAY_PRIVATE_KEY_FILE: '/nonexistent/key.pem' }),
      ),
    ).toThrow(/cannot read \/nonexistent\/key.pem/);
  });

  it('accepts a PEM with escaped newlines from a one-line environment variable', () => {
    const creds = amazonPayCredentials(
      parseEnv({
        AMAZON_PAY_PUBLIC_KEY_ID: 'SANDBOX-X',
        AMAZON_PAY_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\\nabc\\n-----END PRIVATE KEY-----',
      }),
    );
    expect(creds.privateKey.split('\n')).toHaveLength(3);
  });
});

describe('apiKeys', () => {
  it('trims and drops empty entries', () => {
    expect(apiKeys(parseEnv({ API_KEYS: ' a , ,b' }))).toEqual(['a', 'b']);
  });
});

describe('documentation and deployment stay in step with the code', () => {
  it('.env.example documents every variable the config reads, and nothing else', () => {
    const documented = new Set([...repoFile('.env.example').matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!));
    for (const key of configKeys) expect(documented, `${key} missing from .env.example`).toContain(key);
    const simulatorOnly = [...documented].filter((k) => !configKeys.includes(k));
    for (const key of simulatorOnly) expect(key, `${key} documented but not read by config`).toMatch(/^SIMULATOR_/);
  });

  it('docker-compose.yml gives the worker and the API only variables the config knows, with valid values', () => {
    const compose = parse(repoFile('docker-compose.yml'), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string> }>;
    };
    for (const service of ['worker', 'api']) {
      const environment = compose.services[service]!.environment!;
      for (const key of Object.keys(environment)) expect(configKeys, `${service}: ${key}`).toContain(key);
      const literal = Object.fromEntries(Object.entries(environment).filter(([, v]) => !String(v).includes('${')));
      expect(() => parseEnv(literal)).not.toThrow();
    }
  });

  it('docker-compose.yml registers exactly the search attributes the workflows use', () => {
    const compose = repoFile('docker-compose.yml');
    // One loop per type: each name registered with the type the workflows use.
    const registered = [
      ...compose.matchAll(/for sa in ([A-Za-z ]+); do\s+temporal operator search-attribute create [^\n]*--type (\w+)/g),
    ].flatMap((m) =>
      m[1]!
        .trim()
        .split(/\s+/)
        .map((name) => `${name}=${m[2]}`),
    );
    expect(registered.sort()).toEqual(
      Object.entries(searchAttributeTypes)
        .map(([name, type]) => `${name}=${type}`)
        .sort(),
    );
  });
});

describe('payload codec settings', () => {
  const key = (id: string, fill: number) => `${id}:${Buffer.alloc(32, fill).toString('base64')}`;

  it('reads the keys in order (first encrypts) from PAYLOAD_CODEC_KEYS or a file', () => {
    expect(payloadCodecKeys(parseEnv({})).length).toBe(0);
    expect(
      payloadCodecKeys(parseEnv({ PAYLOAD_CODEC_KEYS: `${key('new', 1)},${key('old', 2)}` })).map((k) => k.id),
    ).toEqual(['new', 'old']);
    const dir = mkdtempSync(join(tmpdir(), 'codec-keys-'));
    const file = join(dir, 'keys');
    writeFileSync(file, `# rotated\n${key('new', 1)}\n${key('old', 2)}\n`);
    expect(payloadCodecKeys(parseEnv({ PAYLOAD_CODEC_KEYS_FILE: file })).map((k) => k.id)).toEqual(['new', 'old']);
    writeFileSync(file, '# nothing\n');
    expect(() => payloadCodecKeys(parseEnv({ PAYLOAD_CODEC_KEYS_FILE: file }))).toThrow(
      /PAYLOAD_CODEC_KEYS_FILE: .*no key/,
    );
    expect(() => payloadCodecKeys(parseEnv({ PAYLOAD_CODEC_KEYS_FILE: join(dir, 'missing') }))).toThrow(/cannot read/);
  });

  it('refuses malformed keys at start-up without echoing key material, and both sources at once', () => {
    const short = Buffer.alloc(16, 3).toString('base64');
    let error: unknown;
    try {
      parseEnv({ PAYLOAD_CODEC_KEYS: `k:${short}` });
    } catch (err) {
      error = err;
    }
    expect((error as ConfigError).problems.join('\n')).toMatch(/PAYLOAD_CODEC_KEYS: key "k" must be 32 bytes/);
    expect((error as ConfigError).message).not.toContain(short);
    expect(() => parseEnv({ PAYLOAD_CODEC_KEYS: key('a', 1), PAYLOAD_CODEC_KEYS_FILE: '/x' })).toThrow(/not both/);
  });

  it('the worker and the API require a key', () => {
    expect(() => requirePayloadCodecKeys(parseEnv({}))).toThrow(
      /PAYLOAD_CODEC_KEYS or PAYLOAD_CODEC_KEYS_FILE: required/,
    );
  });

  it('codec server: token from env or file, Web UI origins validated', () => {
    expect(codecServerToken(parseEnv({}))).toBeUndefined();
    expect(codecServerToken(parseEnv({ CODEC_SERVER_TOKEN: 'a-long-enough-token' }))).toBe('a-long-enough-token');
    expect(() => parseEnv({ CODEC_SERVER_TOKEN: 'short' })).toThrow(/CODEC_SERVER_TOKEN: must be at least 16/);
    expect(parseEnv({}).CODEC_SERVER_CORS_ORIGINS).toEqual(['http://127.0.0.1:8233', 'http://localhost:8233']);
    expect(parseEnv({ CODEC_SERVER_CORS_ORIGINS: 'https://ui.example:8443' }).CODEC_SERVER_CORS_ORIGINS).toEqual([
      'https://ui.example:8443',
    ]);
    expect(() => parseEnv({ CODEC_SERVER_CORS_ORIGINS: 'https://ui.example/path' })).toThrow(
      /CODEC_SERVER_CORS_ORIGINS/,
    );
  });
});

describe('worker tuning', () => {
  it('passes only what is set to the SDK, and refuses what the SDK would refuse later', () => {
    expect(workerTuning(parseEnv({}))).toEqual({});
    expect(
      workerTuning(parseEnv({ WORKER_MAX_CACHED_WORKFLOWS: '0', WORKER_MAX_TASK_QUEUE_ACTIVITIES_PER_SECOND: '8.5' })),
    ).toEqual({
      maxCachedWorkflows: 0,
      maxTaskQueueActivitiesPerSecond: 8.5,
    });
    expect(
      workerTuning(parseEnv({ WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '4', WORKER_MAX_CONCURRENT_ACTIVITIES: '50' })),
    ).toEqual({
      maxConcurrentWorkflowTaskExecutions: 4,
      maxConcurrentActivityTaskExecutions: 50,
    });
    expect(() => parseEnv({ WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '1' })).toThrow(
      /WORKER_MAX_CONCURRENT_WORKFLOW_TASKS/,
    );
    expect(() => parseEnv({ WORKER_MAX_CACHED_WORKFLOWS: '-1' })).toThrow(/WORKER_MAX_CACHED_WORKFLOWS/);
  });
});
