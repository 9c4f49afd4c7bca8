// The foundation every other test stands on: a real Temporal dev server with our search
// attributes, reachable by the real `temporal` CLI, and a working time-skipping test server.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { TestWorkflowEnvironment } from '@temporalio/testing';
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
