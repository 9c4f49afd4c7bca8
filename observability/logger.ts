/**
 * The one logger of every process (API, worker, `npm start`): pino, one JSON object per line.
 *
 * - Level from LOG_LEVEL (config/), `info` by default.
 * - Buyer personal data and secrets are never written: the keys below are censored wherever they
 *   appear, at any depth, whoever logs them (our code, the Temporal SDK, workflow code). Values
 *   are the first line of defence (we log ids and outcomes, never bodies, headers or payloads);
 *   this list is the second. test/observability/logs.test.ts reads the lines of a full checkout
 *   and checks that the simulator's buyer and the secrets are absent.
 * - The Temporal SDK logs through `temporalLogger(logger)`: the worker's Runtime logger, which in
 *   SDK 1.24 also receives the workflow logger sink (`log` from @temporalio/workflow), the
 *   activity context logger and, when forwarding is on, Core's own lines.
 */
import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { Logger as TemporalLogger, LogLevel as TemporalLogLevel, LogMetadata } from '@temporalio/common';

export type { PinoLogger as Logger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Keys whose value is buyer personal data (Amazon's buyer and address objects and their fields)
 * or a credential. A whole `buyer` or address object is censored, not only its fields.
 */
export const REDACTED_KEYS = [
  // buyer personal data, as Amazon Pay names it
  'buyer',
  'shippingAddress',
  'billingAddress',
  'email',
  'phoneNumber',
  'addressLine1',
  'addressLine2',
  'addressLine3',
  'buyerName',
  // credentials
  'authorization',
  'Authorization',
  'cookie',
  'x-api-key',
  'apiKey',
  'apiKeys',
  'privateKey',
  'password',
  'secret',
  'token',
  'codecKeys',
] as const;

export const CENSOR = '[redacted]';
const redactedKeys: ReadonlySet<string> = new Set(REDACTED_KEYS);

/**
 * The line's fields with every REDACTED_KEYS value replaced by CENSOR, at any depth; errors are
 * serialized first so their own fields are covered too. Objects are copied only where something
 * was censored; a cycle stops the walk, a shared object is censored wherever it appears. This,
 * not pino's `redact` option: with wildcard paths for these keys five levels deep, `redact` cost
 * 236 µs per line against 3.8 µs for this walk (20 000 lines of an activity's log fields, this
 * machine), and it stops at the depth its paths name.
 */
export function censor(value: unknown, ancestors: Set<object> = new Set()): unknown {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  if (ancestors.has(value)) return '[Circular]';
  if (value instanceof Error) return censor(pino.stdSerializers.err(value), ancestors);
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      const items = value.map((item: unknown) => censor(item, ancestors));
      return items.some((item, i) => item !== value[i]) ? items : value;
    }
    let copy: Record<string, unknown> | undefined;
    for (const [key, field] of Object.entries(value)) {
      const censored = redactedKeys.has(key) ? CENSOR : censor(field, ancestors);
      if (censored !== field) (copy ??= { ...(value as Record<string, unknown>) })[key] = censored;
    }
    return copy ?? value;
  } finally {
    ancestors.delete(value);
  }
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Which process or part wrote the line: `api`, `worker`, `start`, ... */
  component?: string;
  /** Where lines go; stdout by default (tests write to a file). */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): PinoLogger {
  return pino(
    {
      level: options.level ?? 'info',
      base: options.component ? { component: options.component } : {},
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names, not numbers: a line reads the same in a terminal and in a log store.
      formatters: { level: (label) => ({ level: label }), log: (fields) => censor(fields) as Record<string, unknown> },
      // censor() has serialized every error already, whatever its key (Temporal's meta says `error`).
      serializers: { err: (err: unknown) => err },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** Temporal's level for a pino level: Core and the Runtime know TRACE..ERROR only. */
export function temporalLevel(level: string): TemporalLogLevel {
  switch (level) {
    case 'trace':
      return 'TRACE';
    case 'debug':
      return 'DEBUG';
    case 'info':
      return 'INFO';
    case 'warn':
      return 'WARN';
    default:
      return 'ERROR';
  }
}

const pinoLevel = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

export interface FlushableTemporalLogger extends TemporalLogger {
  flush(): void;
}

/**
 * The Temporal SDK's Logger interface on top of pino (what DefaultLogger does for stderr). Meta
 * becomes fields of the line: sdkComponent, workflowId, runId, activityType, taskQueue, error...
 * The Runtime calls flush() when it shuts down, so buffered lines are not lost.
 */
export function temporalLogger(logger: PinoLogger): FlushableTemporalLogger {
  const log = (level: TemporalLogLevel, message: string, meta?: LogMetadata) => {
    const method = pinoLevel[level] ?? 'info';
    if (!logger.isLevelEnabled(method)) return;
    // Symbol keys (the SDK's LogTimestamp on forwarded Core lines) are left out of the JSON.
    logger[method](meta ?? {}, message);
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
    flush: () => logger.flush(),
  };
}

/**
 * For the workflow bundler: webpack's statistics and "Workflow bundle created" are build details,
 * not news, so they are logged at debug (LOG_LEVEL=debug shows them); warnings and errors stay.
 */
export function bundlerLogger(base: TemporalLogger): TemporalLogger {
  const meta = (m?: LogMetadata) => ({ ...m, sdkComponent: 'bundler' });
  return {
    log: (level, message, m) => base.log(level === 'INFO' ? 'DEBUG' : level, message, meta(m)),
    trace: (message, m) => base.trace(message, meta(m)),
    debug: (message, m) => base.debug(message, meta(m)),
    info: (message, m) => base.debug(message, meta(m)),
    warn: (message, m) => base.warn(message, meta(m)),
    error: (message, m) => base.error(message, meta(m)),
  };
}
