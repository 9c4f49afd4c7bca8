/**
 * The README's test command (`npm test`), also what CI runs: provisions the Temporal binaries,
 * type-checks, lints, checks the formatting (Prettier), runs every vitest project against a real
 * dev server, and ends with the line `N passed, N failed` computed from the test results (type
 * check, lint and format count as one check each when they fail). Extra arguments go to vitest, e.g. `npm test -- --project unit`.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { ensureTemporalCli, ensureTimeSkippingServer, ProvisioningError } from './provision';

const started = Date.now();
const step = (name: string) => console.log(`\n=== ${name} (${Math.round((Date.now() - started) / 1000)} s)`);

function run(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    child.on('error', (err) => {
      console.error(`${cmd}: ${err.message}`);
      resolve(1);
    });
  });
}

const failures: string[] = [];

step('provisioning Temporal (CLI dev server + time-skipping test server)');
try {
  console.log(
    `temporal CLI: ${process.env.TEMPORAL_ADDRESS ? `not needed, attaching to ${process.env.TEMPORAL_ADDRESS}` : await ensureTemporalCli()}`,
  );
  console.log(`time-skipping test server: ${await ensureTimeSkippingServer()}`);
} catch (err) {
  console.error(err instanceof ProvisioningError ? err.message : err);
  console.log('\n0 passed, 1 failed');
  process.exit(1);
}

step('type check (tsc --noEmit)');
if ((await run('npx', ['tsc', '--noEmit', '-p', '.'])) !== 0) failures.push('type check');

step('lint (eslint)');
if ((await run('npx', ['eslint', '.'])) !== 0) failures.push('lint');

step('format (prettier --check)');
if ((await run('npx', ['prettier', '--check', '--log-level', 'warn', '.'])) !== 0) {
  console.log('run `npx prettier --write .` to format');
  failures.push('format');
}

step('tests (vitest: unit + integration)');
const resultsFile = 'test-results/vitest.json';
mkdirSync('test-results', { recursive: true });
rmSync(resultsFile, { force: true });
// A dot per test and every failure in full: a green run stays a screenful however many files
// there are (`npm test -- --reporter=default` lists each file instead).
const consoleReporter = process.argv.slice(2).some((a) => a.startsWith('--reporter')) ? [] : ['--reporter=dot'];
const vitestCode = await run('npx', [
  'vitest',
  'run',
  ...consoleReporter,
  '--reporter=json',
  `--outputFile.json=${resultsFile}`,
  ...process.argv.slice(2),
]);

let passed = 0;
let failed = 0;
try {
  const results = JSON.parse(readFileSync(resultsFile, 'utf8')) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
    numFailedTestSuites: number;
    numTotalTests: number;
  };
  passed = results.numPassedTests;
  // A file that fails to load counts as a failure even though none of its tests ran.
  failed = results.numFailedTests + (results.numFailedTests === 0 ? results.numFailedTestSuites : 0);
  if (results.numPendingTests + results.numTodoTests > 0) {
    failures.push(
      `${results.numPendingTests + results.numTodoTests} skipped/todo tests (a skipped test is a missing test)`,
    );
  }
  if (results.numTotalTests === 0) failures.push('no tests ran');
} catch {
  failures.push('vitest produced no results');
}
if (vitestCode !== 0 && failed === 0) failures.push(`vitest exited with ${vitestCode}`);

console.log(`\nfinished in ${Math.round((Date.now() - started) / 1000)} s`);
if (failures.length) console.log(`other failures: ${failures.join('; ')}`);
console.log(`${passed} passed, ${failed + failures.length} failed`);
process.exit(failed + failures.length > 0 ? 1 : 0);
