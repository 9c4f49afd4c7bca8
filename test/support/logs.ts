/**
 * Where integration tests log: every line of a test file's worker (SDK, workflow and activity
 * lines, Core) and API goes through the product's logger (observability/logger.ts) into
 * test-results/logs/<test file>.log, not onto the console. The console shows progress and
 * failures; a failing test's message names this file (test/support/failure-log.ts).
 *
 * Level: LOG_LEVEL, or debug (everything but the SDK's trace chatter) with Core's native lines at
 * info (its debug is ~90% of the volume and rarely what a failing test needs).
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IllegalStateError } from '@temporalio/common';
import { setLogger as setGrpcLogger } from '@grpc/grpc-js';
import pino from 'pino';
import { expect } from 'vitest';
import { createLogger, type Logger } from '../../observability/logger';
import { installWorkerRuntime } from '../../worker/runtime';
import { logLevelOf } from '../../config';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** This test file's log: test-results/logs/test/checkout/paths.test.ts.log for test/checkout/paths.test.ts. */
export function testLogFile(testPath: string | undefined = expect.getState().testPath): string {
  const name = testPath ? relative(repoRoot, testPath) : `pid-${process.pid}`;
  return join(repoRoot, 'test-results', 'logs', `${name}.log`);
}

let logger: Logger | undefined;
/** The logger of this test file (each file runs in its own fork); the file is emptied on first use. */
export function testLogger(): Logger {
  if (!logger) {
    const file = testLogFile();
    mkdirSync(dirname(file), { recursive: true });
    // Synchronous writes: a line is in the file when the call returns, so a test can read it.
    logger = createLogger({
      level: logLevelOf(process.env, 'debug'),
      destination: pino.destination({ dest: file, sync: true, append: false }),
    });
  }
  return logger;
}

let installed = false;
/**
 * grpc-js (the client's connections) logs to console.error by default: a keepalive renegotiation
 * with the Java test server ("rejected by server because of excess pings") is expected there and
 * belongs in the file's log, not on the test console. A failed call still fails its test.
 */
function routeGrpcLogs(): void {
  const grpcLog = testLogger().child({ component: 'grpc-js' });
  const line = (...args: unknown[]) => args.map(String).join(' ');
  setGrpcLogger({
    error: (...args: unknown[]) => grpcLog.warn(line(...args)),
    info: (...args: unknown[]) => grpcLog.info(line(...args)),
    debug: (...args: unknown[]) => grpcLog.debug(line(...args)),
  });
}

/**
 * The Temporal Runtime of this fork, logging into the test file's log. The first call decides:
 * a file that wants the SDK's Prometheus exporter calls it with metricsBindAddress before its stack.
 */
export function installTestRuntime(options: { metricsBindAddress?: string } = {}): void {
  if (installed) return;
  installed = true;
  routeGrpcLogs();
  try {
    installWorkerRuntime({
      logger: testLogger().child({ component: 'worker' }),
      ...(process.env.LOG_LEVEL ? {} : { coreLevel: 'info' }),
      ...options,
    });
  } catch (err) {
    // A test file that installed its own Runtime keeps it.
    if (!(err instanceof IllegalStateError)) throw err;
  }
}

/** The parsed lines of this file's log written since `offset` (a byte offset from logOffset()). */
export function readTestLog(offset = 0): Array<Record<string, unknown>> {
  return readFileSync(testLogFile())
    .subarray(offset)
    .toString('utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

export function logOffset(): number {
  try {
    return statSync(testLogFile()).size;
  } catch {
    return 0;
  }
}
