// The foundation every other test stands on: a real Temporal dev server with our search
// attributes, reachable by the real `temporal` CLI, and a working time-skipping test server.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { InterceptingCall, ListenerBuilder, RequesterBuilder, status, type Interceptor } from '@grpc/grpc-js';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import { openClock } from '../support/time-skipping';
import { ensureTemporalCli } from '../../scripts/provision';
import { searchAttributeTypes } from '../../workflows/search-attributes';

const run = promisify(execFile);

describe('the dev server', () => {
  it('registers every custom search attribute and answers the real temporal CLI', async () => {
    if (process.env.TEMPORAL_ADDRESS) return; // attached to someone else's cluster: nothing of ours to check
    const cli = await ensureTemporalCli();
    const address = inject('temporalAddress');
    const { stdout } = await run(cli, ['operator', 'search-attribute', 'list', '--address', address, '-o', 'json']);
    const listed = JSON.stringify(JSON.parse(stdout));
    for (const name of Object.keys(searchAttributeTypes)) expect(listed).toContain(name);
    const list = await run(cli, ['workflow', 'list', '--address', address, '--limit', '1']);
    expect(list.stderr).not.toMatch(/error/i);
  });
});

describe('the time-skipping test server', () => {
  it('starts inside the SDK window and skips a 24-hour timer without waiting', async () => {
    const env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: inject('timeSkippingServerPath') } },
    });
    try {
      const before = await env.currentTimeMs();
      const wall = Date.now();
      await env.sleep('24 hours');
      expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(24 * 3600 * 1000);
      expect(Date.now() - wall).toBeLessThan(60_000);
    } finally {
      await env.teardown();
    }
  });
});

/** Delivers the first sleep's answer as UNAVAILABLE (after the server slept), as a dropped connection would. */
function loseFirstSleepAnswer(): Interceptor {
  let lost = false;
  return (options, next) =>
    new InterceptingCall(
      next(options),
      new RequesterBuilder()
        .withStart((metadata, listener, start) =>
          start(
            metadata,
            new ListenerBuilder()
              .withOnReceiveStatus((answer, onStatus) => {
                if (!lost && options.method_definition.path.endsWith('/UnlockTimeSkippingWithSleep')) {
                  lost = true;
                  return onStatus({ ...answer, code: status.UNAVAILABLE, details: 'connection dropped' });
                }
                onStatus(answer);
              })
              .build(),
          ),
        )
        .build(),
    );
}

describe('moving the time-skipping clock', () => {
  const HOUR = 3600 * 1000;
  const skipped = async (interceptors: Interceptor[]) => {
    const env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: inject('timeSkippingServerPath') } },
    });
    const clock = await openClock(env, interceptors, () => {});
    try {
      const before = await env.currentTimeMs();
      await clock.sleep(HOUR);
      return (await env.currentTimeMs()) - before;
    } finally {
      await clock.close();
      await env.teardown();
    }
  };

  it("a sleep whose answer is lost moves the clock once, where the SDK's retrying connection moves it twice", async () => {
    // The SDK's connection (its default retry interceptor): the lost answer is retried, a second hour.
    expect(
      await skipped([makeGrpcRetryInterceptor(defaultGrpcRetryOptions()), loseFirstSleepAnswer()]),
    ).toBeGreaterThanOrEqual(2 * HOUR);
    // Ours: sent once, the lost answer waited out; an hour it is (and a little real time).
    const once = await skipped([loseFirstSleepAnswer()]);
    expect(once).toBeGreaterThanOrEqual(HOUR);
    expect(once).toBeLessThan(HOUR + 60_000);
  }, 60_000);
});
