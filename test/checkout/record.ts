import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';

export const HISTORIES_DIR = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));

/**
 * With RECORD_HISTORIES=1, saves the finished workflow's history (call it after the workflow ended) as a replay fixture
 * (test/fixtures/histories/<name>.json), which test/replay.test.ts replays against the current code.
 */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (!process.env.RECORD_HISTORIES) return;
  const history = await handle.fetchHistory();
  await mkdir(HISTORIES_DIR, { recursive: true });
  const { historyToJSON } = await import('@temporalio/common/lib/proto-utils');
  await writeFile(`${HISTORIES_DIR}${name}.json`, historyToJSON(history));
}
