import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseCodecKeys, type CodecKey } from '../temporal/codec';
import { LOG_LEVELS, type LogLevel } from '../observability/logger';
import { ConfigError } from './errors';
import { TEMPORAL_ENV_VARIABLES } from './temporal-connection';

/**
 * The one place that reads the environment (the Temporal connection: ./temporal-connection.ts,
 * through @temporalio/envconfig). Every variable is documented in `.env.example`.
 * `loadConfig` validates everything at once and throws a `ConfigError` listing every missing or
 * invalid variable, so a misconfigured process fails at start-up, not at the first payment.
 */

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce.number().int().min(0).max(65535);

const logLevel = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.enum(LOG_LEVELS));

/** A regular expression from the environment; wholeMatch() makes every alternative match whole. */
const anchoredPattern = z
  .string()
  .refine(
    (p) => p.startsWith('^') && p.endsWith('$'),
    'must be anchored (^...$): an unanchored pattern trusts look-alike values',
  )
  .refine((p) => {
    try {
      new RegExp(p);
      return true;
    } catch {
      return false;
    }
  }, 'is not a valid regular expression');

/**
 * `^a|b$` is anchored at its ends yet lets `xb` through on its second alternative; wrapping it as
 * `^(?:^a|b$)$` makes every alternative match the whole value.
 */
export function wholeMatch(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

/** Key entries checked at start-up; the keys themselves are read by payloadCodecKeys(). */
const codecKeys = z.string().superRefine((spec, ctx) => {
  try {
    if (parseCodecKeys(spec).length === 0) ctx.addIssue({ code: 'custom', message: 'no key in it (id:base64key)' });
  } catch (err) {
    // The message names the key id, never the key.
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

const schema = z
  .object({
    // Logs (observability/logger.ts): one JSON line per event on stdout
    LOG_LEVEL: logLevel.default('info'),

    // Metrics (observability/metrics.ts): Prometheus text at http://METRICS_HOST:<port>/metrics
    METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    /** The API's HTTP and IPN metrics; unset: not served. */
    API_METRICS_PORT: port.optional(),
    /** The worker's Temporal SDK metrics and Amazon Pay call counters; unset: not served. */
    WORKER_METRICS_PORT: port.optional(),

    // Temporal: the connection (address, namespace, TLS, API key) is read by temporalConnection()
    // through @temporalio/envconfig, as the temporal CLI reads it. Temporal has no variable for this.
    TEMPORAL_TASK_QUEUE: z.string().min(1).default('amazon-pay'),

    // Payload encryption (temporal/codec.ts) and the codec server (temporal/codec-server.ts)
    /** `id:base64key[,id2:base64key]`: the first encrypts, all decrypt. */
    PAYLOAD_CODEC_KEYS: codecKeys.optional(),
    /** A file with the same entries, one per line (# comments allowed). */
    PAYLOAD_CODEC_KEYS_FILE: z.string().min(1).optional(),
    /** The operator credential of the codec endpoint (/codec); unset: the endpoint is not served. */
    CODEC_SERVER_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    CODEC_SERVER_TOKEN_FILE: z.string().min(1).optional(),
    /** Web UI origins the codec endpoint answers CORS for, comma separated. */
    CODEC_SERVER_CORS_ORIGINS: z
      .string()
      .transform((s) =>
        s
          .split(',')
          .map((o) => o.trim())
          .filter((o) => o.length > 0),
      )
      .pipe(
        z.array(
          z
            .url()
            .refine(
              (u) => new URL(u).origin === u,
              'must be an origin (scheme://host[:port], no path or trailing slash)',
            ),
        ),
      )
      .default(['http://127.0.0.1:8233', 'http://localhost:8233']),
    CODEC_SERVER_BODY_LIMIT_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(4 * 1024 * 1024),

    // HTTP API (storefront + IPN endpoint)
    API_HOST: z.string().min(1).default('127.0.0.1'),
    API_PORT: port.default(3000),
    API_KEYS: z.string().optional(),
    API_KEYS_FILE: z.string().optional(),
    API_BODY_LIMIT_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(64 * 1024),
    PUBLIC_BASE_URL: z.url().optional(),
    IPN_PATH: z.string().startsWith('/').default('/amazon-pay/ipn'),
    IPN_CERT_HOST_PATTERN: anchoredPattern.default('^sns\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?$'),
    /** When set, only IPNs and subscription confirmations from SNS topics matching it are accepted. */
    IPN_TOPIC_ARN_PATTERN: anchoredPattern.optional(),
    IPN_CONFIRM_SUBSCRIPTIONS: bool.default(true),
    /** How long an IPN's charge permission may wait for its owner before it is marked Unmatched. */
    IPN_UNMATCHED_AFTER_MS: z.coerce
      .number()
      .int()
      .positive()
      .default(15 * 60 * 1000),
    /** How long late IPNs are still recorded after their owner closed. */
    IPN_LINGER_AFTER_OWNER_CLOSED_MS: z.coerce
      .number()
      .int()
      .positive()
      .default(7 * 24 * 3600 * 1000),
    /**
     * When set, an inbox started by an IPN checks this often that its owner still runs (one timer
     * and one activity per check, billed). Unset: never; an owner that ends says so, and one that
     * was terminated is found out by the next IPN's forward.
     */
    IPN_OWNER_CHECK_INTERVAL_MS: z.coerce.number().int().positive().optional(),

    // Amazon Pay
    AMAZON_PAY_PUBLIC_KEY_ID: z.string().min(1).optional(),
    AMAZON_PAY_PRIVATE_KEY: z.string().min(1).optional(),
    AMAZON_PAY_PRIVATE_KEY_FILE: z.string().min(1).optional(),
    AMAZON_PAY_REGION: z
      .string()
      .transform((s) => s.toLowerCase())
      .pipe(z.enum(['na', 'us', 'eu', 'de', 'uk', 'jp']))
      .transform((r) => (r === 'us' ? 'na' : r === 'de' || r === 'uk' ? 'eu' : r) as 'na' | 'eu' | 'jp')
      .default('na'),
    AMAZON_PAY_SANDBOX: bool.default(true),
    AMAZON_PAY_ALGORITHM: z.enum(['AMZN-PAY-RSASSA-PSS-V2', 'AMZN-PAY-RSASSA-PSS']).default('AMZN-PAY-RSASSA-PSS-V2'),
    AMAZON_PAY_BASE_URL: z.url().optional(),
    AMAZON_PAY_STORE_ID: z.string().min(1).optional(),
    AMAZON_PAY_MERCHANT_ID: z.string().min(1).optional(),
    AMAZON_PAY_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),

    // Merchant events (activities/events.ts): Standard Webhooks endpoints
    /** JSON list of `{ "id", "url", "secrets": ["whsec_…"] }`; several secrets while one is rotated (each signs). */
    WEBHOOK_ENDPOINTS: z.string().min(1).optional(),
    /** A file with the same JSON. */
    WEBHOOK_ENDPOINTS_FILE: z.string().min(1).optional(),
    /** Seconds before each retry of a failed delivery (Standard Webhooks' schedule); after the last, the event has failed. */
    WEBHOOK_RETRY_SCHEDULE: z
      .string()
      .transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter((x) => x.length > 0)
          .map(Number),
      )
      .pipe(z.array(z.number().int().positive()).max(20))
      .default([5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]),
    /** Each delivery attempt gives up after this long. */
    WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().max(60_000).default(15_000),

    // Worker tuning (worker/worker.ts); unset: the SDK's defaults. README "Worker tuning".
    /** Workflows kept in memory between tasks (0: none, every task replays its history; no sticky queue). */
    WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).optional(),
    WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(2).optional(),
    WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().positive().optional(),
    /** Activities per second across every worker of the task queue: stays under Amazon Pay's throttling quotas. */
    WORKER_MAX_TASK_QUEUE_ACTIVITIES_PER_SECOND: z.coerce.number().positive().optional(),
    /** On SIGTERM/SIGINT, how long in-flight activities (an Amazon Pay call) may finish before they are cancelled. */
    WORKER_SHUTDOWN_GRACE_TIME_MS: z.coerce.number().int().min(0).default(10_000),
    /** After that, how long the worker still waits on activities that ignore cancellation; unset: until they end. */
    WORKER_SHUTDOWN_FORCE_TIME_MS: z.coerce.number().int().positive().optional(),
    /** A workflow bundle built ahead of time (`npm run build:workflows`); unset: bundled at start (webpack, seconds). */
    WORKFLOW_BUNDLE_PATH: z.string().min(1).optional(),

    // Embedded default (scripts/start.ts)
    DATA_DIR: z.string().default('.data'),
    TEMPORAL_UI_PORT: port.default(8233),
    TEMPORAL_PORT: port.default(7233),
    SIMULATOR_PORT: port.default(4010),
    /** The demo storefront `npm start` serves next to the simulator; 0 turns it off. */
    DEMO_PORT: port.default(3001),
  })
  .superRefine((env, ctx) => {
    if (env.AMAZON_PAY_PRIVATE_KEY && env.AMAZON_PAY_PRIVATE_KEY_FILE) {
      ctx.addIssue({
        code: 'custom',
        path: ['AMAZON_PAY_PRIVATE_KEY_FILE'],
        message: 'set AMAZON_PAY_PRIVATE_KEY or AMAZON_PAY_PRIVATE_KEY_FILE, not both',
      });
    }
    if (env.PAYLOAD_CODEC_KEYS && env.PAYLOAD_CODEC_KEYS_FILE) {
      ctx.addIssue({
        code: 'custom',
        path: ['PAYLOAD_CODEC_KEYS_FILE'],
        message: 'set PAYLOAD_CODEC_KEYS or PAYLOAD_CODEC_KEYS_FILE, not both',
      });
    }
    if (env.WEBHOOK_ENDPOINTS && env.WEBHOOK_ENDPOINTS_FILE) {
      ctx.addIssue({
        code: 'custom',
        path: ['WEBHOOK_ENDPOINTS_FILE'],
        message: 'set WEBHOOK_ENDPOINTS or WEBHOOK_ENDPOINTS_FILE, not both',
      });
    }
    if (env.CODEC_SERVER_TOKEN && env.CODEC_SERVER_TOKEN_FILE) {
      ctx.addIssue({
        code: 'custom',
        path: ['CODEC_SERVER_TOKEN_FILE'],
        message: 'set CODEC_SERVER_TOKEN or CODEC_SERVER_TOKEN_FILE, not both',
      });
    }
  });

export type Env = z.infer<typeof schema>;

export { ConfigError };
export {
  DEFAULT_TEMPORAL_ADDRESS,
  DEFAULT_TEMPORAL_NAMESPACE,
  connectTemporal,
  temporalConnection,
  type TemporalConnection,
  type TemporalConnectionOptions,
} from './temporal-connection';

export function parseEnv(source: Record<string, string | undefined> = process.env): Env {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  return result.data;
}

export interface AmazonPayCredentials {
  publicKeyId: string;
  privateKey: string;
  region: 'na' | 'eu' | 'jp';
  sandbox: boolean;
  algorithm: 'AMZN-PAY-RSASSA-PSS-V2' | 'AMZN-PAY-RSASSA-PSS';
  /** Overrides the regional host, e.g. a local Amazon Pay simulator. */
  baseUrl?: string;
  storeId?: string;
  merchantId?: string;
  timeoutMs: number;
}

/** Amazon Pay credentials, or a ConfigError naming what is missing. Reads the key file if given. */
export function amazonPayCredentials(env: Env): AmazonPayCredentials {
  const problems: string[] = [];
  if (!env.AMAZON_PAY_PUBLIC_KEY_ID) problems.push('AMAZON_PAY_PUBLIC_KEY_ID: required');
  let privateKey = env.AMAZON_PAY_PRIVATE_KEY?.replace(/\\n/g, '\n');
  if (!privateKey && env.AMAZON_PAY_PRIVATE_KEY_FILE) {
    try {
      privateKey = readFileSync(env.AMAZON_PAY_PRIVATE_KEY_FILE, 'utf8');
    } catch (err) {
      problems.push(
        `AMAZON_PAY_PRIVATE_KEY_FILE: cannot read ${env.AMAZON_PAY_PRIVATE_KEY_FILE} (${(err as Error).message})`,
      );
    }
  }
  if (!privateKey && !env.AMAZON_PAY_PRIVATE_KEY_FILE)
    problems.push('AMAZON_PAY_PRIVATE_KEY or AMAZON_PAY_PRIVATE_KEY_FILE: required');
  if (privateKey && !/-----BEGIN (RSA )?PRIVATE KEY-----/.test(privateKey)) {
    problems.push('AMAZON_PAY_PRIVATE_KEY: not a PEM private key');
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    publicKeyId: env.AMAZON_PAY_PUBLIC_KEY_ID!,
    privateKey: privateKey!,
    region: env.AMAZON_PAY_REGION,
    sandbox: env.AMAZON_PAY_SANDBOX,
    algorithm: env.AMAZON_PAY_ALGORITHM,
    ...(env.AMAZON_PAY_BASE_URL ? { baseUrl: env.AMAZON_PAY_BASE_URL } : {}),
    ...(env.AMAZON_PAY_STORE_ID ? { storeId: env.AMAZON_PAY_STORE_ID } : {}),
    ...(env.AMAZON_PAY_MERCHANT_ID ? { merchantId: env.AMAZON_PAY_MERCHANT_ID } : {}),
    timeoutMs: env.AMAZON_PAY_TIMEOUT_MS,
  };
}

/** Storefront API keys from API_KEYS (comma separated) and/or API_KEYS_FILE (one per line). */
export function apiKeys(env: Env): string[] {
  const keys = (env.API_KEYS ?? '').split(',');
  if (env.API_KEYS_FILE) {
    try {
      keys.push(...readFileSync(env.API_KEYS_FILE, 'utf8').split('\n'));
    } catch (err) {
      throw new ConfigError([`API_KEYS_FILE: cannot read ${env.API_KEYS_FILE} (${(err as Error).message})`]);
    }
  }
  return keys.map((k) => k.trim()).filter((k) => k.length > 0);
}

/**
 * The payload encryption keys from PAYLOAD_CODEC_KEYS or PAYLOAD_CODEC_KEYS_FILE (first encrypts,
 * all decrypt); an empty list when neither is set (see requirePayloadCodecKeys).
 */
export function payloadCodecKeys(env: Env): CodecKey[] {
  if (env.PAYLOAD_CODEC_KEYS) return parseCodecKeys(env.PAYLOAD_CODEC_KEYS);
  if (!env.PAYLOAD_CODEC_KEYS_FILE) return [];
  let text: string;
  try {
    text = readFileSync(env.PAYLOAD_CODEC_KEYS_FILE, 'utf8');
  } catch (err) {
    throw new ConfigError([
      `PAYLOAD_CODEC_KEYS_FILE: cannot read ${env.PAYLOAD_CODEC_KEYS_FILE} (${(err as Error).message})`,
    ]);
  }
  try {
    const keys = parseCodecKeys(text);
    if (keys.length === 0) throw new Error('no key in it (id:base64key, one per line)');
    return keys;
  } catch (err) {
    throw new ConfigError([`PAYLOAD_CODEC_KEYS_FILE: ${env.PAYLOAD_CODEC_KEYS_FILE}: ${(err as Error).message}`]);
  }
}

/** The keys the worker and the API cannot run without: buyer data must never reach Temporal in clear. */
export function requirePayloadCodecKeys(env: Env): CodecKey[] {
  const keys = payloadCodecKeys(env);
  if (keys.length === 0) {
    throw new ConfigError([
      'PAYLOAD_CODEC_KEYS or PAYLOAD_CODEC_KEYS_FILE: required (payloads carry buyer data and are encrypted; generate a key with `npx tsx scripts/codec-key.ts`)',
    ]);
  }
  return keys;
}

/** The codec endpoint's operator credential, or undefined (the endpoint is then not served). */
export function codecServerToken(env: Env): string | undefined {
  if (env.CODEC_SERVER_TOKEN) return env.CODEC_SERVER_TOKEN;
  if (!env.CODEC_SERVER_TOKEN_FILE) return undefined;
  let token: string;
  try {
    token = readFileSync(env.CODEC_SERVER_TOKEN_FILE, 'utf8').trim();
  } catch (err) {
    throw new ConfigError([
      `CODEC_SERVER_TOKEN_FILE: cannot read ${env.CODEC_SERVER_TOKEN_FILE} (${(err as Error).message})`,
    ]);
  }
  if (token.length < 16)
    throw new ConfigError([
      `CODEC_SERVER_TOKEN_FILE: ${env.CODEC_SERVER_TOKEN_FILE}: the token must be at least 16 characters`,
    ]);
  return token;
}

const webhookEndpointList = z
  .array(
    z.strictObject({
      /** Goes into a workflow id and the API's paths. */
      id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'letters, digits, _ and -, at most 64'),
      url: z.url().refine((u) => /^https?:$/.test(new URL(u).protocol), 'must be http(s)'),
      secrets: z
        .array(z.string().regex(/^whsec_[A-Za-z0-9+/=]{32,}$/, 'must be whsec_ followed by base64 of 24 to 64 bytes'))
        .min(1)
        .max(4),
    }),
  )
  .max(20)
  .superRefine((list, ctx) => {
    const ids = list.map((e) => e.id);
    if (new Set(ids).size !== ids.length) ctx.addIssue({ code: 'custom', message: 'endpoint ids must be unique' });
  });

export type WebhookEndpointConfig = z.infer<typeof webhookEndpointList>[number];

/**
 * The notification inbox's waits (IPN_*). Both processes start inboxes, the API's IPN route and the
 * worker's owner registration, whichever comes first, so both pass the same ones.
 */
export function inboxOptions(env: Env): {
  unmatchedAfterMs: number;
  lingerAfterOwnerClosedMs: number;
  ownerCheckIntervalMs?: number;
} {
  return {
    unmatchedAfterMs: env.IPN_UNMATCHED_AFTER_MS,
    lingerAfterOwnerClosedMs: env.IPN_LINGER_AFTER_OWNER_CLOSED_MS,
    ...(env.IPN_OWNER_CHECK_INTERVAL_MS ? { ownerCheckIntervalMs: env.IPN_OWNER_CHECK_INTERVAL_MS } : {}),
  };
}

/** The merchant's webhook endpoints from WEBHOOK_ENDPOINTS(_FILE); none when unset. Errors never show a secret. */
export function webhookEndpoints(env: Env): WebhookEndpointConfig[] {
  const name = env.WEBHOOK_ENDPOINTS_FILE ? 'WEBHOOK_ENDPOINTS_FILE' : 'WEBHOOK_ENDPOINTS';
  let text = env.WEBHOOK_ENDPOINTS;
  if (env.WEBHOOK_ENDPOINTS_FILE) {
    try {
      text = readFileSync(env.WEBHOOK_ENDPOINTS_FILE, 'utf8');
    } catch (err) {
      throw new ConfigError([
        `WEBHOOK_ENDPOINTS_FILE: cannot read ${env.WEBHOOK_ENDPOINTS_FILE} (${(err as Error).message})`,
      ]);
    }
  }
  if (!text) return [];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError([`${name}: not JSON (a list of { "id", "url", "secrets": ["whsec_…"] })`]);
  }
  const parsed = webhookEndpointList.safeParse(json);
  if (!parsed.success)
    throw new ConfigError(parsed.error.issues.map((i) => `${name}: ${i.path.join('.') || '(list)'}: ${i.message}`));
  return parsed.data;
}

/**
 * LOG_LEVEL alone, for the logger a process needs before the rest of its configuration is read
 * (to report that configuration's problems): `info` when unset or invalid, since parseEnv then
 * reports it like any other invalid variable.
 */
export function logLevelOf(
  source: Record<string, string | undefined> = process.env,
  fallback: LogLevel = 'info',
): LogLevel {
  const parsed = logLevel.safeParse(source.LOG_LEVEL);
  return parsed.success ? parsed.data : fallback;
}

/** host:port for a metrics listener, or undefined when its port is unset. */
export function metricsAddress(
  env: Env,
  port: number | undefined,
): { host: string; port: number; bindAddress: string } | undefined {
  if (port === undefined) return undefined;
  const host = env.METRICS_HOST.includes(':') ? `[${env.METRICS_HOST}]` : env.METRICS_HOST;
  return { host: env.METRICS_HOST, port, bindAddress: `${host}:${port}` };
}

/** Every variable the config reads, ours and Temporal's (documented in .env.example; checked by a test). */
export const configKeys: readonly string[] = [...Object.keys(schema.shape), ...TEMPORAL_ENV_VARIABLES];

/**
 * Runs several config readers and throws one ConfigError with every problem of every reader, so
 * a process that lacks three settings says so at once instead of one restart at a time.
 */
export function readAll<T extends Record<string, () => unknown>>(readers: T): { [K in keyof T]: ReturnType<T[K]> } {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, read] of Object.entries(readers)) {
    try {
      values[name] = read();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return values as { [K in keyof T]: ReturnType<T[K]> };
}

/** The worker's tuning from WORKER_* (only what is set; the SDK's defaults otherwise). */
export function workerTuning(env: Env): WorkerTuning {
  return {
    ...(env.WORKER_MAX_CACHED_WORKFLOWS !== undefined ? { maxCachedWorkflows: env.WORKER_MAX_CACHED_WORKFLOWS } : {}),
    ...(env.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS !== undefined
      ? { maxConcurrentWorkflowTaskExecutions: env.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS }
      : {}),
    ...(env.WORKER_MAX_CONCURRENT_ACTIVITIES !== undefined
      ? { maxConcurrentActivityTaskExecutions: env.WORKER_MAX_CONCURRENT_ACTIVITIES }
      : {}),
    ...(env.WORKER_MAX_TASK_QUEUE_ACTIVITIES_PER_SECOND !== undefined
      ? { maxTaskQueueActivitiesPerSecond: env.WORKER_MAX_TASK_QUEUE_ACTIVITIES_PER_SECOND }
      : {}),
  };
}

export interface WorkerTuning {
  maxCachedWorkflows?: number;
  maxConcurrentWorkflowTaskExecutions?: number;
  maxConcurrentActivityTaskExecutions?: number;
  maxTaskQueueActivitiesPerSecond?: number;
}
