import { defineConfig } from 'vitest/config';

// Two layers, like sdk-typescript: `unit` (colocated *.test.ts, no server) and `integration`
// (test/**, against a real Temporal dev server started once by the global setup, plus the Amazon
// Pay simulator and a worker per file). pool 'forks': the Temporal worker's native bridge crashes
// under worker threads (see ../shared/docs/temporal-offline.md).
export default defineConfig({
  test: {
    pool: 'forks',
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['{amazon-pay,simulator,api,workflows,activities,worker,config,scripts,temporal,observability}/**/*.test.ts'],
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
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // 2 cores: two files at a time keeps the dev server responsive.
          maxWorkers: 2,
        },
      },
    ],
  },
});
