/**
 * The one logger of every process (API, worker, `npm start`): pino, one JSON object per line.
 *
 * - Level from LOG_LEVEL (config/), `info` by default.
 * - Buyer personal data and secrets are never written: the keys below are censored wherever they
 *   appear, up to five levels deep, whoever logs them (our code, the Temporal SDK, workflow code).
 *   Values are the first line of defence (we log ids and outcomes, never bodies, headers or
 *   payloads); this list is the second. test/foundation/logs.test.ts reads the lines of a full
 *   checkout and checks that the simulator's buyer and the secrets are absent.
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

const REDACT_DEPTH = 5;
export const CENSOR = '[redacted]';

/** pino `redact` paths: every key of REDACTED_KEYS at the top level and up to REDACT_DEPTH levels below. */
export const redactPaths: string[] = REDACTED_KEYS.flatMap((key) => {
  // Bracket notation for names that are not identifiers (x-api-key).
  const segment = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
  return Array.from({ length: REDACT_DEPTH + 1 }, (_, depth) => {
    const prefix = '*.'.repeat(depth);
    return segment.startsWith('[') ? `${prefix.slice(0, -1)}${segment}` : `${prefix}${segment}`;
  });
});

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
      formatters: { level: (label) => ({ level: label }) },
      // Temporal's meta names errors `error`; pino only serializes `err` by default.
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
      redact: { paths: redactPaths, censor: CENSOR },
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
