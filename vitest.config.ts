import { defineConfig } from 'vitest/config';

// Two layers, like sdk-typescript: `unit` (colocated *.test.ts, no server) and `integration`
// (test/**, against a real Temporal dev server started once by the global setup, plus the Amazon
// Pay simulator and a worker per file). pool 'forks': the Temporal worker's native bridge crashes
// under worker threads (see ../shared/docs/temporal-offline.md).
export default defineConfig({
  test: {
    pool: 'forks',
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    // The console shows progress (one line per file) and failures; the default reporter also lists
    // every test over this threshold (300 ms by default: on the loaded 2-core machine, most of them).
    // One value for both projects: the reporter reads the root's. Speed is measured by bench/.
    slowTestThreshold: 60_000,
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: [
            '{amazon-pay,simulator,api,workflows,activities,worker,config,scripts,temporal,observability,chaos,docs}/**/*.test.ts',
          ],
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          // The billing calendar again under a host zone other than the container's UTC: workflow
          // code must not depend on the worker's zone (issue 10). Node re-reads TZ when it is set.
          name: 'calendar-tz',
          sequence: { groupOrder: 0 },
          include: ['workflows/subscription/calendar.test.ts'],
          env: { TZ: 'America/New_York' },
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: ['test/support/failure-log.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // 2 cores: two files at a time keeps the dev server responsive.
          maxWorkers: 2,
        },
      },
    ],
  },
});
