/**
 * Starts `temporal server start-dev` as a child process and waits until its frontend answers.
 * Used by the main command (SQLite file, Web UI) and by the integration tests' global setup
 * (in memory, headless, free ports).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Connection } from '@temporalio/client';
import { searchAttributeTypes } from '../workflows/search-attributes';

export interface DevServerOptions {
  cliPath: string;
  ip?: string;
  /** gRPC port; 0 picks a free one. */
  port?: number;
  /** Web UI port; undefined or `headless: true` means no UI. */
  uiPort?: number;
  headless?: boolean;
  /** The Web UI's remote codec endpoint (it decodes payloads through it); only with a UI. */
  uiCodecEndpoint?: string;
  /** SQLite file; without it state lives in memory. */
  dbFile?: string;
  namespace?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Where the server's own output goes (default: dropped). */
  output?: (chunk: string) => void;
  readyTimeoutMs?: number;
}

export interface DevServer extends AsyncDisposable {
  address: string;
  uiUrl: string | undefined;
  namespace: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const port = options.port || (await freePort(ip));
  const namespace = options.namespace ?? 'default';
  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(port),
    '--namespace',
    namespace,
    '--log-level',
    options.logLevel ?? 'warn',
    '--log-format',
    'pretty',
    // Updates and update-with-start; on by default in recent servers, explicit for older ones.
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecution=true',
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
    '--dynamic-config-value',
    'frontend.enableExecuteMultiOperation=true',
    // Visibility queries right after an upsert in tests and in the Web UI.
    '--dynamic-config-value',
    'system.forceSearchAttributesCacheRefreshOnRead=true',
  ];
  for (const [name, type] of Object.entries(searchAttributeTypes)) args.push('--search-attribute', `${name}=${type}`);
  if (options.dbFile) args.push('--db-filename', options.dbFile, '--sqlite-pragma', 'journal_mode=WAL');
  if (options.headless || options.uiPort === undefined) args.push('--headless');
  else {
    args.push('--ui-port', String(options.uiPort));
    if (options.uiCodecEndpoint) args.push('--ui-codec-endpoint', options.uiCodecEndpoint);
  }

  const child = spawn(options.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    output = (output + text).slice(-4000);
    options.output?.(text);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited: number | null | undefined;
  const exitPromise = new Promise<void>((res) =>
    child.on('exit', (code) => {
      exited = code;
      res();
    }),
  );

  const address = `${ip}:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exited !== undefined) {
      throw new Error(`temporal server start-dev exited with ${exited} before it was ready:\n${output}`);
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        break;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(
          `temporal dev server at ${address} not ready after ${options.readyTimeoutMs ?? 60_000} ms: ${(err as Error).message}\n${output}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const stop = async () => {
    if (exited !== undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exitPromise;
    clearTimeout(timer);
  };
  return {
    address,
    uiUrl: options.headless || options.uiPort === undefined ? undefined : `http://${ip}:${options.uiPort}`,
    namespace,
    process: child,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
