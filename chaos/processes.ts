// The system under test as separate processes, like production: the Temporal dev server (SQLite
// file in the run's temp dir), the Amazon Pay simulator, the API and two workers, each started
// from its own entrypoint with the environment variables it reads (config/index.ts), on free
// ports, its output in a log file of its own. Between the simulator and our IPN endpoint sits a
// small forwarder, the "network": it passes every IPN on unchanged and keeps the last few, so
// the hostile phase can replay and tamper with real, signed messages.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startDevServer, type DevServer } from '../scripts/dev-server';
import { generateMerchantKey } from '../scripts/merchant-key';
import { ensureTemporalCli } from '../scripts/provision';
import { generateCodecKey } from '../temporal/codec';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
export const STORE_ID = 'amzn1.application-oa2-client.c4a05c4a05c4a05c4a05c4a05c4a05c4';

export class NodeService {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly log: WriteStream;
  starts = 0;

  constructor(
    readonly name: string,
    private readonly file: string,
    private readonly env: Record<string, string>,
    private readonly readyText: string,
    readonly logFile: string,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawns the entrypoint and resolves once it logged its ready line. */
  async start(timeoutMs = 240_000): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', this.file], {
      cwd: repoRoot,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.starts++;
    this.log.write(`\n# chaos: start ${this.name} (pid ${child.pid}) at ${new Date().toISOString()}\n`);
    this.exited = new Promise((res) => child.once('exit', () => res()));
    let seen = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name} not ready after ${timeoutMs} ms; see ${this.logFile}`)),
        timeoutMs,
      );
      const onData = (chunk: Buffer) => {
        this.log.write(chunk);
        if (seen !== 'ready') {
          seen = (seen + chunk.toString()).slice(-10_000);
          if (seen.includes(this.readyText)) {
            seen = 'ready';
            clearTimeout(timer);
            resolve();
          }
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (seen !== 'ready')
          reject(new Error(`${this.name} exited (${code ?? signal}) before it was ready; see ${this.logFile}`));
      });
    });
  }

  /**
   * As a supervisor does: start again when the process exits before it is ready (a worker refuses
   * to start while the dev server is down, e.g. an R1 restart during an R2 restart), for at most
   * `withinMs`. Resolves with the number of attempts.
   */
  async startSupervised(withinMs = 120_000): Promise<number> {
    const giveUpAt = Date.now() + withinMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.start();
        return attempt;
      } catch (err) {
        if (this.running || Date.now() > giveUpAt) throw err;
        this.log.write(`\n# chaos: ${this.name} exited before it was ready; starting it again in 2 s\n`);
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  /** SIGKILL: no drain, in-flight activities and Amazon calls are lost mid-request. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.log.write(`\n# chaos: SIGKILL ${this.name} at ${new Date().toISOString()}\n`);
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (the entrypoint drains), SIGKILL after 15 s. */
  async stop(): Promise<void> {
    if (this.running) {
      this.child!.kill('SIGTERM');
      const timer = setTimeout(() => this.child?.kill('SIGKILL'), 15_000);
      await this.exited;
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.stop();
    await new Promise<void>((res) => this.log.end(() => res()));
  }
}

export interface TemporalHandle {
  address: string;
  namespace: string;
  /** undefined when attached to TEMPORAL_ADDRESS (no restart then). */
  restart?: () => Promise<void>;
  stop(): Promise<void>;
}

async function startTemporal(dir: string, attach: boolean): Promise<TemporalHandle> {
  if (attach) {
    const address = process.env.TEMPORAL_ADDRESS;
    if (!address) throw new Error('--attach needs TEMPORAL_ADDRESS');
    return { address, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default', stop: async () => undefined };
  }
  const cliPath = await ensureTemporalCli((l) => console.log(`[chaos] ${l}`));
  const port = await freePort();
  const dbFile = join(dir, 'temporal.db');
  const log = createWriteStream(join(dir, 'logs', 'temporal.log'), { flags: 'a' });
  const start = () =>
    startDevServer({
      cliPath,
      port,
      headless: true,
      dbFile,
      logLevel: 'warn',
      output: (c) => log.write(c),
      readyTimeoutMs: 180_000,
    });
  let server: DevServer = await start();
  return {
    address: server.address,
    namespace: server.namespace,
    restart: async () => {
      log.write(`\n# chaos: restart the dev server at ${new Date().toISOString()}\n`);
      await server.stop();
      server = await start();
    },
    stop: async () => {
      await server.stop();
      await new Promise<void>((res) => log.end(() => res()));
    },
  };
}

export interface RecordedIpn {
  body: string;
  headers: Record<string, string>;
}

/** Forwards the simulator's IPNs to the API unchanged; keeps the last ones for replays. */
async function startIpnForwarder(
  target: () => string,
): Promise<{ url: string; recent: RecordedIpn[]; forwarded: () => number; close(): Promise<void> }> {
  const recent: RecordedIpn[] = [];
  let forwarded = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (typeof v === 'string' && (k.startsWith('x-amz-sns') || k === 'content-type')) headers[k] = v;
      recent.push({ body, headers });
      if (recent.length > 50) recent.shift();
      forwarded++;
      fetch(target(), { method: 'POST', headers, body, signal: AbortSignal.timeout(20_000) }).then(
        async (answer) => {
          res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
          res.end(await answer.text());
        },
        () => {
          res.writeHead(502);
          res.end();
        },
      );
    });
  });
  const port = await freePort();
  await new Promise<void>((res) => server.listen(port, '127.0.0.1', () => res()));
  return {
    url: `http://127.0.0.1:${port}/ipn`,
    recent,
    forwarded: () => forwarded,
    close: () =>
      new Promise<void>((res) => {
        server.close(() => res());
        server.closeAllConnections();
      }),
  };
}

export interface ChaosStack {
  dir: string;
  temporal: TemporalHandle;
  simulatorUrl: string;
  apiUrl: string;
  ipnUrl: string;
  apiKey: string;
  taskQueue: string;
  codecKeys: string;
  simulator: NodeService;
  api: NodeService;
  workers: NodeService[];
  ipn: { recent: RecordedIpn[]; forwarded: () => number };
  /** Every log file of the product's processes (API, workers, dev server). */
  productLogs: string[];
  close(): Promise<void>;
}

export async function startChaosStack(
  dir: string,
  opts: { attach: boolean; runId: string; log: (line: string) => void },
): Promise<ChaosStack> {
  const logs = join(dir, 'logs');
  mkdirSync(logs, { recursive: true });
  const closers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const fn of closers.reverse()) await fn().catch((err: unknown) => opts.log(`stop: ${(err as Error).message}`));
    closers.length = 0;
  };
  try {
    const key = generateMerchantKey();
    writeFileSync(join(dir, 'merchant-public.pem'), key.publicKeyPem);
    writeFileSync(join(dir, 'merchant-private.pem'), key.privateKeyPem, { mode: 0o600 });
    const codecKeys = generateCodecKey(`chaos-${opts.runId}`.slice(0, 60));
    const apiKey = `sk_chaos_${opts.runId}`;
    const taskQueue = `chaos-${opts.runId}`;

    opts.log('starting the Temporal dev server (SQLite)');
    const temporal = await startTemporal(dir, opts.attach);
    closers.push(() => temporal.stop());

    const apiPort = await freePort();
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const forwarder = await startIpnForwarder(() => `${apiUrl}/amazon-pay/ipn`);
    closers.push(() => forwarder.close());

    const simPort = await freePort();
    const simulator = new NodeService(
      'simulator',
      'simulator/main.ts',
      {
        SIMULATOR_PORT: String(simPort),
        SIMULATOR_HOST: '127.0.0.1',
        SIMULATOR_PUBLIC_KEY_ID: key.publicKeyId,
        SIMULATOR_PUBLIC_KEY_FILE: join(dir, 'merchant-public.pem'),
        SIMULATOR_IPN_URL: forwarder.url,
        SIMULATOR_THROTTLING: 'off',
      },
      'Amazon Pay simulator listening',
      join(logs, 'simulator.log'),
    );
    opts.log('starting the simulator');
    await simulator.start();
    closers.push(() => simulator.close());
    const simulatorUrl = `http://127.0.0.1:${simPort}`;

    const common = {
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: temporal.namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      AMAZON_PAY_PUBLIC_KEY_ID: key.publicKeyId,
      AMAZON_PAY_PRIVATE_KEY: '',
      AMAZON_PAY_PRIVATE_KEY_FILE: join(dir, 'merchant-private.pem'),
      AMAZON_PAY_BASE_URL: simulatorUrl,
      AMAZON_PAY_STORE_ID: STORE_ID,
      PAYLOAD_CODEC_KEYS: codecKeys,
      PAYLOAD_CODEC_KEYS_FILE: '',
      LOG_LEVEL: 'info',
      WEBHOOK_ENDPOINTS: '',
      WEBHOOK_ENDPOINTS_FILE: '',
    };
    const workers = [1, 2].map(
      (n) => new NodeService(`worker-${n}`, 'worker/main.ts', common, 'worker: polling', join(logs, `worker-${n}.log`)),
    );
    opts.log('starting two workers (each bundles the workflows)');
    await Promise.all(workers.map((w) => w.start()));
    for (const w of workers) closers.push(() => w.close());

    const api = new NodeService(
      'api',
      'api/main.ts',
      {
        ...common,
        API_HOST: '127.0.0.1',
        API_PORT: String(apiPort),
        API_KEYS: apiKey,
        API_KEYS_FILE: '',
        // The simulator serves its SNS certificate from its own (loopback) host.
        IPN_CERT_HOST_PATTERN: '^127\\.0\\.0\\.1$',
        IPN_CONFIRM_SUBSCRIPTIONS: 'false',
        CODEC_SERVER_TOKEN: '',
        CODEC_SERVER_TOKEN_FILE: '',
      },
      'api: listening',
      join(logs, 'api.log'),
    );
    opts.log('starting the API');
    await api.start();
    closers.push(() => api.close());

    return {
      dir,
      temporal,
      simulatorUrl,
      apiUrl,
      ipnUrl: `${apiUrl}/amazon-pay/ipn`,
      apiKey,
      taskQueue,
      codecKeys,
      simulator,
      api,
      workers,
      ipn: forwarder,
      productLogs: [
        join(logs, 'api.log'),
        ...workers.map((w) => w.logFile),
        ...(opts.attach ? [] : [join(logs, 'temporal.log')]),
      ],
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
