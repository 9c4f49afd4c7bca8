/**
 * The same stack as startTestStack, on Temporal's Java time-skipping test server, for tests whose
 * workflow timers run at their real durations (24 h checkout window, 7-day capture, 30-day
 * authorization). `sleep(ms)` skips Temporal time; tests advance the simulator's clock in step.
 * The test server has no visibility (no list by search attribute).
 */
import { inject } from 'vitest';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { searchAttributeTypes } from '../../workflows/search-attributes';
import { startTestStack, testDataConverter, type TestStack, type TestStackOptions } from './stack';
import { installTestRuntime } from './logs';
import { openClock } from './clock';

export { openClock } from './clock';

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

export async function startTimeSkippingStack(
  options: Omit<TestStackOptions, 'temporal'> = {},
): Promise<TimeSkippingStack> {
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
          type === 'Datetime'
            ? temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME
            : temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        ]),
      ),
    });
    const clock = await openClock(env);
    const plain = new Client({
      connection: env.connection,
      namespace: env.namespace ?? 'default',
      dataConverter: testDataConverter,
    });
    const stack = await startTestStack({
      ...options,
      temporal: {
        client: env.client,
        nativeConnection: env.nativeConnection,
        namespace: env.namespace ?? 'default',
        address: env.address,
        // A plain client for the API: a request that awaits a workflow's result (server-side
        // session creation, the re-checkout) must not let the test server skip Temporal's clock.
        apiClient: plain,
      },
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
