// Integration setup file: a failing test's message names the log its worker and API wrote
// (test/support/logs.ts), since those lines are kept off the console.
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { beforeEach } from 'vitest';
import { testLogFile } from './logs';

// The context's onTestFailed, not the global one: files with describe.concurrent run several tests at once.
beforeEach(({ onTestFailed }) => {
  onTestFailed(({ task }) => {
    const file = testLogFile(task.file.filepath);
    if (!existsSync(file)) return;
    const note = `worker and API log of this test file: ${relative(process.cwd(), file)}`;
    for (const error of task.result?.errors ?? []) error.message = `${error.message}\n\n${note}`;
  });
});
