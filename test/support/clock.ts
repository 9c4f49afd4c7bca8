// Temporal's clock on the time-skipping test server, without vitest (the benchmarks use it too).
import type { Interceptor } from '@grpc/grpc-js';
import { Connection } from '@temporalio/client';
// Internal to the SDK, but the only way to reach the test service on a connection of our own (openClock).
import { InternalConnectionOptionsSymbol, type InternalConnectionOptions } from '@temporalio/client/lib/connection';
import { msToTs } from '@temporalio/common/lib/time';
import type { TestWorkflowEnvironment } from '@temporalio/testing';

/**
 * Temporal's clock, moved by sleeps that are sent once. The environment's own connection retries a
 * call that failed with UNAVAILABLE or RESOURCE_EXHAUSTED: a sleep whose answer was lost (the server
 * dropping the connection, see channelArgs) was sent again and skipped Temporal's clock twice as
 * far as the simulator's (in CI: the subscription tests 7 days apart, then timed out). This
 * connection has no retries (`interceptors` replaces them; a test passes one that loses an answer),
 * and a lost answer is waited out: the server sleeps on, and locks the clock again at the target,
 * whether or not we hear it.
 */
export async function openClock(
  env: TestWorkflowEnvironment,
  interceptors: Interceptor[] = [],
  warn: (message: string) => void = console.warn,
) {
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
