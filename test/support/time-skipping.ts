/**
 * The same stack as startTestStack, on Temporal's Java time-skipping test server, for tests whose
 * workflow timers run at their real durations (24 h checkout window, 7-day capture, 30-day
 * authorization). `sleep(ms)` skips Temporal time; tests advance the simulator's clock in step.
 * The test server has no visibility (no list by search attribute).
 */
import { inject } from 'vitest';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { startTestStack, type TestStack, type TestStackOptions } from './stack';

export interface TimeSkippingStack extends TestStack {
  env: TestWorkflowEnvironment;
  /** Advances Temporal's clock by ms (timers due in that span fire). */
  sleep(ms: number): Promise<void>;
}

export async function startTimeSkippingStack(options: Omit<TestStackOptions, 'temporal'> = {}): Promise<TimeSkippingStack> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: inject('timeSkippingServerPath') } },
  });
  try {
    const stack = await startTestStack({
      ...options,
      temporal: { client: env.client, nativeConnection: env.nativeConnection, namespace: env.namespace ?? 'default' },
    });
    return {
      ...stack,
      env,
      sleep: (ms) => env.sleep(ms),
      [Symbol.asyncDispose]: async () => {
        await stack[Symbol.asyncDispose]();
        await env.teardown();
      },
    };
  } catch (err) {
    await env.teardown();
    throw err;
  }
}
