/**
 * The same stack as startTestStack, on Temporal's Java time-skipping test server, for tests whose
 * workflow timers run at their real durations (24 h checkout window, 7-day capture, 30-day
 * authorization). `sleep(ms)` skips Temporal time; tests advance the simulator's clock in step.
 * The test server has no visibility (no list by search attribute).
 */
import { inject } from 'vitest';
import type { Interceptor } from '@grpc/grpc-js';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
// Internal to the SDK, but the only way to reach the test service on a connection of our own (openClock).
import { InternalConnectionOptionsSymbol, type InternalConnectionOptions } from '@temporalio/client/lib/connection';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { searchAttributeTypes } from '../../workflows/search-attributes';
import { startTestStack, testDataConverter, type TestStack, type TestStackOptions } from './stack';
import { installTestRuntime } from './logs';

export interface TimeSkippingStack extends TestStack {
  env: TestWorkflowEnvironment;
  /** Advances Temporal's clock by ms (timers due in that span fire). */
  sleep(ms: number): Promise<void>;
  /** Advances Amazon's (the simulator's) clock and Temporal's together. */
  elapse(ms: number): Promise<void>;
  /**
   * A workflow's result without letting the test server skip time on its own: the time-skipping
   * client's result() skips freely (years, once nothing is pending), leaving Amazon's clock behind.
   */
  resultOf<T>(handle: WorkflowHandle): Promise<T>;
}

/**
 * Temporal's clock, moved by sleeps that are sent once. The environment's own connection retries a
 * call that failed with UNAVAILABLE or RESOURCE_EXHAUSTED: a sleep whose answer was lost (the server
 * dropping the connection, see channelArgs) was sent again and skipped Temporal's clock twice as
 * far as the simulator's (in CI: the subscription tests 7 days apart, then timed out). This
 * connection has no retries (`interceptors` replaces them; a test passes one that loses an answer),
 * and a lost answer is waited out: the server sleeps on, and locks the clock again at the target,
 * whether or not we hear it.
 */
export async function openClock(env: TestWorkflowEnvironment, interceptors: Interceptor[] = [], warn: (message: string) => void = console.warn) {
  const options: InternalConnectionOptions = {
    address: env.address,
    interceptors,
    // The SDK pings every 30 s; the Java server allows one per 5 minutes and, after a few, drops the
    // connection (GOAWAY too_many_pings, seen as RESOURCE_EXHAUSTED), which is what lost the answers.
    channelArgs: { 'grpc.keepalive_time_ms': 10 * 60_000, 'grpc.keepalive_permit_without_calls': 0 },
    [InternalConnectionOptionsSymbol]: { supportsTestService: true },
  };
  const connection = await Connection.connect(options);
  let closed = false;
  return {
    async sleep(ms: number): Promise<void> {
      const target = (await env.currentTimeMs()) + ms;
      try {
        await connection.testService!.unlockTimeSkippingWithSleep({ duration: msToTs(ms) });
      } catch (err) {
        if (closed) throw err; // torn down under a sleep that was left running
        warn(`a time-skipping sleep lost its answer (${String(err)}): waiting for the clock to reach its target`);
        while ((await env.currentTimeMs()) < target) await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: async () => {
      closed = true;
      await connection.close();
    },
  };
}

export async function startTimeSkippingStack(options: Omit<TestStackOptions, 'temporal'> = {}): Promise<TimeSkippingStack> {
  // Before the environment's connections: they would install the SDK's default Runtime (stderr).
  installTestRuntime();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: inject('timeSkippingServerPath') } },
    client: { dataConverter: testDataConverter },
  });
  try {
    // The dev server registers these at start (scripts/dev-server.ts); the test server needs a call.
    await env.connection.operatorService.addSearchAttributes({
      namespace: env.namespace ?? 'default',
      searchAttributes: Object.fromEntries(
        Object.entries(searchAttributeTypes).map(([name, type]) => [
          name,
          type === 'Datetime' ? temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME : temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        ]),
      ),
    });
    const clock = await openClock(env);
    const plain = new Client({ connection: env.connection, namespace: env.namespace ?? 'default', dataConverter: testDataConverter });
    const stack = await startTestStack({
      ...options,
      temporal: { client: env.client, nativeConnection: env.nativeConnection, namespace: env.namespace ?? 'default', address: env.address },
    });
    return {
      ...stack,
      env,
      sleep: clock.sleep,
      elapse: async (ms) => {
        await stack.admin.advanceClock(ms);
        await clock.sleep(ms);
      },
      resultOf: <T>(handle: WorkflowHandle) => plain.workflow.getHandle(handle.workflowId).result() as Promise<T>,
      [Symbol.asyncDispose]: async () => {
        await stack[Symbol.asyncDispose]();
        await clock.close();
        await env.teardown();
      },
    };
  } catch (err) {
    await env.teardown();
    throw err;
  }
}
