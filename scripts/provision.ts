/**
 * Provisions the Temporal binaries this project runs on machines with or without internet:
 *
 * - the Temporal CLI (dev server + Web UI), resolved in this order: $TEMPORAL_CLI_PATH, `temporal`
 *   on PATH, a cached build in the per-user cache, `go install` of the CLI from the Go module proxy
 *   into that cache, and last the SDK's own download (machines with internet only);
 * - the Java time-skipping test server (io.temporal:temporal-test-server from Maven Central),
 *   behind a wrapper script that `exec`s java so the SDK can kill the process it started.
 *
 * The cache lives outside the repository ($AMAZON_PAY_TEMPORAL_CACHE, else
 * $XDG_CACHE_HOME/amazon-pay-temporal, else ~/.cache/amazon-pay-temporal) so every clone on the
 * machine reuses one build. Run directly: `npm run provision`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';

/** Newest CLI tag `go install` accepts (v1.6.0 adds a `replace` directive go install refuses). */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

export class ProvisioningError extends Error {
  override readonly name = 'ProvisioningError';
}

type Log = (line: string) => void;
const defaultLog: Log = (line) => process.stderr.write(`[provision] ${line}\n`);

export function cacheDir(): string {
  const base =
    process.env.AMAZON_PAY_TEMPORAL_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'amazon-pay-temporal');
  mkdirSync(base, { recursive: true });
  return base;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

/** Runs a command, streaming its output as progress lines, with a heartbeat while it is silent. */
async function runWithProgress(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  log: Log,
  what: string,
): Promise<void> {
  const started = Date.now();
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let lastLine = '';
  const onData = (chunk: Buffer) => {
    // eslint-disable-next-line no-control-regex
    const text = chunk.toString().replace(/\x1b\[[0-9;]*m/g, '');
    for (const line of text.split('\n')) {
      if (line.trim()) {
        lastLine = line.trim();
        log(`  ${lastLine}`);
      }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const heartbeat = setInterval(
    () => log(`  ... still ${what} (${Math.round((Date.now() - started) / 1000)} s)`),
    15_000,
  );
  try {
    const code = await new Promise<number | null>((res, rej) => {
      child.on('error', rej);
      child.on('close', res);
    });
    if (code !== 0) throw new ProvisioningError(`${cmd} ${args.join(' ')} exited with ${code}: ${lastLine}`);
  } finally {
    clearInterval(heartbeat);
  }
}

/** Returns the path of a `temporal` CLI binary, building or downloading it if needed. */
export async function ensureTemporalCli(log: Log = defaultLog): Promise<string> {
  const tried: string[] = [];

  const explicit = process.env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (isExecutable(explicit)) return explicit;
    throw new ProvisioningError(`TEMPORAL_CLI_PATH=${explicit} is not an executable file.`);
  }
  tried.push('$TEMPORAL_CLI_PATH (unset)');

  const fromPath = onPath('temporal');
  if (fromPath) return fromPath;
  tried.push('`temporal` on PATH (not found)');

  const binDir = join(cacheDir(), 'bin');
  const cached = join(binDir, 'temporal');
  if (isExecutable(cached)) return cached;
  tried.push(`cached build ${cached} (missing)`);

  const go = onPath('go');
  if (go) {
    log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} from the Go module proxy into ${binDir}`);
    log('(first time only: downloads ~200 modules and compiles for a few minutes)');
    mkdirSync(binDir, { recursive: true });
    try {
      await runWithProgress(
        go,
        ['install', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`],
        { ...process.env, GOBIN: binDir },
        log,
        'building the Temporal CLI',
      );
      if (isExecutable(cached)) {
        log(`Temporal CLI ready: ${cached}`);
        return cached;
      }
      tried.push(`go install (finished but ${cached} is missing)`);
    } catch (err) {
      tried.push(`go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION} (failed: ${(err as Error).message})`);
    }
  } else {
    tried.push('go install (no `go` on PATH; Go >= 1.25 is needed)');
  }

  try {
    const downloaded = await sdkDownload(join(cacheDir(), 'sdk-download'), log);
    if (downloaded) return downloaded;
    tried.push('the Temporal SDK download (no binary found after download)');
  } catch (err) {
    tried.push(`the Temporal SDK download (failed: ${(err as Error).message.split('\n')[0]})`);
  }

  throw new ProvisioningError(
    [
      'No Temporal CLI could be found or provisioned. Tried:',
      ...tried.map((t) => `  - ${t}`),
      'Fix one of:',
      `  - install Go >= 1.25 and re-run (it builds the CLI with: go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION})`,
      '  - install the Temporal CLI (https://docs.temporal.io/cli) and put `temporal` on PATH',
      '  - set TEMPORAL_CLI_PATH to a temporal binary',
      '  - or attach to an existing cluster with TEMPORAL_ADDRESS=host:7233',
    ].join('\n'),
  );
}

/** Last resort on machines with internet: let the SDK download the CLI into our cache. */
async function sdkDownload(dir: string, log: Log): Promise<string | undefined> {
  log('Trying the Temporal SDK download of the CLI (needs internet)');
  mkdirSync(dir, { recursive: true });
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'cached-download', downloadDir: dir } },
  });
  await env.teardown();
  const find = (d: string): string | undefined => {
    for (const entry of readdirSync(d)) {
      const p = join(d, entry);
      if (statSync(p).isDirectory()) {
        const inner = find(p);
        if (inner) return inner;
      } else if (entry.startsWith('temporal') && isExecutable(p)) {
        return p;
      }
    }
    return undefined;
  };
  return find(dir);
}

/**
 * Returns the path of a wrapper script that starts the Java time-skipping test server
 * (`<script> <port> --enable-time-skipping`), resolving the jars with Maven if needed.
 */
export async function ensureTimeSkippingServer(log: Log = defaultLog): Promise<string> {
  const explicit = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (explicit) {
    if (isExecutable(explicit)) return explicit;
    throw new ProvisioningError(`TEMPORAL_TEST_SERVER_PATH=${explicit} is not an executable file.`);
  }
  const dir = join(cacheDir(), 'test-server');
  const libDir = join(dir, 'lib');
  const script = join(dir, 'temporal-test-server');
  // Every jar the pom names (a cache resolved from an older pom is completed, not trusted).
  const jars = existsSync(libDir) ? readdirSync(libDir) : [];
  const ready =
    isExecutable(script) && ['temporal-test-server', 'slf4j-nop'].every((jar) => jars.some((f) => f.startsWith(jar)));
  if (ready) return script;

  const java = onPath('java');
  const mvn = onPath('mvn');
  if (!java || !mvn) {
    throw new ProvisioningError(
      [
        'The time-skipping test server needs Java >= 11 and Maven to resolve io.temporal:temporal-test-server from Maven Central.',
        `  java: ${java ?? 'missing'}   mvn: ${mvn ?? 'missing'}`,
        'Fix: install them (Debian: apt-get install -y openjdk-17-jre-headless maven), or set TEMPORAL_TEST_SERVER_PATH',
        'to a temporal-test-server executable.',
      ].join('\n'),
    );
  }
  log(`Resolving io.temporal:temporal-test-server with Maven into ${libDir}`);
  mkdirSync(libDir, { recursive: true });
  const pom = resolve(import.meta.dirname, 'temporal-test-server', 'pom.xml');
  await runWithProgress(
    mvn,
    ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${libDir}`, '-DincludeScope=runtime'],
    process.env,
    log,
    'resolving the test server',
  );
  // exec matters: the SDK kills the process it started, which must be the JVM itself. Serial GC
  // and C1-only JIT keep start-up well inside the SDK's 5-second window on 2 cores.
  writeFileSync(
    script,
    `#!/bin/sh\nexec "${java}" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k -cp "${libDir}/*" io.temporal.testserver.TestServer "$@"\n`,
  );
  chmodSync(script, 0o755);
  log(`Time-skipping test server ready: ${script}`);
  return script;
}

function javaVersionOk(): boolean {
  const out = spawnSync('java', ['-version'], { encoding: 'utf8' });
  return out.status === 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const wantCli = process.argv.includes('--cli') || !process.argv.includes('--test-server');
  const wantTestServer = process.argv.includes('--test-server') || !process.argv.includes('--cli');
  try {
    if (wantCli) console.log(`temporal CLI: ${await ensureTemporalCli()}`);
    if (wantTestServer) {
      if (!javaVersionOk()) throw new ProvisioningError('java is not runnable');
      console.log(`time-skipping test server: ${await ensureTimeSkippingServer()}`);
    }
  } catch (err) {
    console.error(err instanceof ProvisioningError ? `\n${err.message}\n` : err);
    process.exit(1);
  }
}
