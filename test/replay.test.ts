// Replays every recorded history (test/fixtures/histories/*.json: checkouts, session creation,
// notification inboxes) against the current workflow code: a change that would break running
// workflows (non-determinism) fails here. Record new fixtures with
// `RECORD_HISTORIES=1 npx vitest run --project integration test/checkout test/ipn/routing.test.ts test/api/checkout-sessions.test.ts`.
import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { HISTORIES_DIR } from './checkout/record';
import { workflowBundle } from './support/stack';

describe('replay of recorded workflow histories', () => {
  it('every fixture replays without non-determinism', async () => {
    const files = (await readdir(HISTORIES_DIR)).filter((f) => f.endsWith('.json')).sort();
    expect(files.length).toBeGreaterThan(0);
    const histories = await Promise.all(
      files.map(async (file) => ({ workflowId: file, history: historyFromJSON(JSON.parse(await readFile(`${HISTORIES_DIR}${file}`, 'utf8'))) })),
    );
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  });
});
