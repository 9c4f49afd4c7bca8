import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { generate } from 'selfsigned';
import { createAdminRoutes } from './admin';
import { type FaultState, type RequestCounts, createApiHandler } from './api';
import { createBuyerRoutes } from './buyer';
import { SimClock } from './clock';
import { type ClosureReasonSpelling, DEFAULT_TIMINGS, type EngineTimings, SimulatorEngine } from './engine';
import { createIpnDispatcher, type IpnDispatcher, type IpnDispatcherOptions } from './ipn/index';
import type { CurrencyCode } from './money';
import type { Environment } from './model';
import { PublicKeyRegistry } from './signature';
import { Throttle, type ThrottlingSetting } from './throttle';

export type { OperationName, PaymentMethodChoice } from './model';
export { SimClock } from './clock';
export type { ThrottlingSetting, Quota } from './throttle';
export { LIVE_QUOTAS, SANDBOX_QUOTAS } from './throttle';

export interface SimulatorOptions {
  host?: string;
  /** 0 = random free port. */
  port?: number;
  https?: { cert: string; key: string } | 'self-signed';
  merchantId?: string;
  /** Environment for `/v2/...` requests signed with a legacy (unprefixed) key. */
  environment?: Environment;
  /** publicKeyId -> PEM public key, all belonging to `merchantId`. */
  publicKeys?: Record<string, string>;
  /** Allowed |wall clock - x-amz-pay-date|; default 15 min. */
  clockSkewMs?: number;
  /** Default 'off' so tests are not slowed down by the 1 request/s sandbox quotas. */
  throttling?: ThrottlingSetting;
  faults?: { errorRate?: number; throttleRate?: number; latencyMs?: number };
  /** Simulator-clock delays before asynchronous outcomes resolve. */
  delays?: { pendingAuthorizationMs?: number; captureInitiatedMs?: number; refundMs?: number };
  /** Every other deadline (24 h session, 30 d authorization, 7 d capture window, 180 d one-time...). */
  timings?: Partial<EngineTimings>;
  /** Monthly cap of a recurring charge permission, in major units (USD 1000 by default). */
  recurringMonthlyLimit?: Partial<Record<CurrencyCode, number>>;
  closureReasonSpelling?: ClosureReasonSpelling;
  checkoutSessionCanceledStatus?: 400 | 422;
  /** Origin buyers reach the simulator at (amazonPayRedirectUrl); default: the listening URL or the request origin. */
  publicBaseUrl?: string;
  /** IPN delivery and its faults (see simulator/ipn/index.ts for each knob). */
  ipn?: Partial<
    Pick<
      IpnDispatcherOptions,
      | 'url'
      | 'duplicateRate'
      | 'duplicateCopies'
      | 'reorderRate'
      | 'reorderHoldMs'
      | 'delayMs'
      | 'lossRate'
      | 'signatureVersion'
      | 'retryBaseMs'
      | 'retryMaxMs'
    >
  >;
  /** For deterministic fault injection in tests. */
  random?: () => number;
}

export interface Simulator extends AsyncDisposable {
  app: Hono;
  clock: SimClock;
  engine: SimulatorEngine;
  ipn: IpnDispatcher;
  registerPublicKey(publicKeyId: string, pem: string, merchantId?: string): void;
  configureIpn(options: SimulatorOptions['ipn']): void;
  setPublicBaseUrl(url: string): void;
  reset(): void;
  close(): Promise<void>;
}

/** A simulator listening on a port. */
export interface RunningSimulator
  extends
    Pick<Simulator, 'app' | 'clock' | 'engine' | 'ipn' | 'registerPublicKey' | 'configureIpn' | 'close'>,
    AsyncDisposable {
  url: string;
}

export const DEFAULT_MERCHANT_ID = 'A2SIMULATORMRCH';

/** The simulator as a Hono app plus its state; no port (use app.request()). */
export function createSimulator(options: SimulatorOptions = {}): Simulator {
  const merchantId = options.merchantId ?? DEFAULT_MERCHANT_ID;
  const environment = options.environment ?? 'Sandbox';
  let publicBaseUrl = options.publicBaseUrl;
  const clock = new SimClock((error, label) => console.error(`[simulator] deadline '${label}' failed`, error));
  const keys = new PublicKeyRegistry();
  for (const [id, pem] of Object.entries(options.publicKeys ?? {})) keys.register(id, pem, merchantId);

  const ipn = createIpnDispatcher({
    merchantId,
    publicBaseUrl: publicBaseUrl ?? 'http://127.0.0.1',
    now: () => clock.now(),
    ...stripUndefined(options.ipn ?? {}),
  });

  const engine = new SimulatorEngine({
    clock,
    timings: { ...DEFAULT_TIMINGS, ...stripUndefined(options.delays ?? {}), ...stripUndefined(options.timings ?? {}) },
    recurringMonthlyLimit: options.recurringMonthlyLimit ?? {},
    closureReasonSpelling: options.closureReasonSpelling ?? 'modern',
    checkoutSessionCanceledStatus: options.checkoutSessionCanceledStatus ?? 422,
    notify: (n) => ipn.notify(n),
  });
  const initialThrottling: ThrottlingSetting = options.throttling ?? 'off';
  const throttle = new Throttle(initialThrottling);
  const initialFaults = {
    errorRate: options.faults?.errorRate ?? 0,
    throttleRate: options.faults?.throttleRate ?? 0,
    latencyMs: options.faults?.latencyMs ?? 0,
  };
  const faults: FaultState = { ...initialFaults, hold: undefined };
  const counts: RequestCounts = { byOperation: {}, byIdempotencyKey: new Map() };
  const idempotency = new Map<string, { fingerprint: string; status: number; body: string }>();
  const random = options.random ?? Math.random;

  const registerPublicKey = (publicKeyId: string, pem: string, owner = merchantId) =>
    keys.register(publicKeyId, pem, owner);
  const configureIpn = (o: SimulatorOptions['ipn']) =>
    ipn.configure(stripUndefined(o ?? {}) as Partial<IpnDispatcherOptions>);
  const reset = () => {
    clock.reset();
    engine.reset();
    idempotency.clear();
    counts.byOperation = {};
    counts.byIdempotencyKey.clear();
    Object.assign(faults, initialFaults, { hold: undefined });
    throttle.configure(initialThrottling);
  };

  const app = new Hono();
  app.use('*', async (c, next) => {
    await next();
    if (!c.res.headers.has('x-amz-pay-request-id')) c.res.headers.set('x-amz-pay-request-id', crypto.randomUUID());
  });
  const api = createApiHandler({
    engine,
    keys,
    throttle,
    faults,
    counts,
    idempotency,
    clock,
    clockSkewMs: options.clockSkewMs ?? 15 * 60_000,
    defaultEnvironment: environment,
    publicBaseUrl: () => publicBaseUrl,
    random,
  });
  app.all('/v2/*', api);
  app.all('/sandbox/v2/*', api);
  app.all('/live/v2/*', api);
  app.route(
    '/__admin',
    createAdminRoutes({
      engine,
      clock,
      throttle,
      faults,
      counts,
      reset,
      registerPublicKey,
      configureIpn: (o) => configureIpn(o as SimulatorOptions['ipn']),
      ipnStats: () => ipn.stats(),
      publicBaseUrl: () => publicBaseUrl,
    }),
  );
  app.route('/sns', ipn.routes);
  app.route(
    '/',
    createBuyerRoutes({ engine, keys, defaultEnvironment: environment, publicBaseUrl: () => publicBaseUrl }),
  );
  app.get('/', (c) =>
    c.text('Amazon Pay v2 simulator. API under /sandbox/v2, /live/v2 and /v2; admin under /__admin.'),
  );

  const close = async () => {
    clock.close();
    await ipn.close();
  };
  return {
    app,
    clock,
    engine,
    ipn,
    registerPublicKey,
    configureIpn,
    setPublicBaseUrl: (url) => {
      publicBaseUrl = url;
      ipn.configure({ publicBaseUrl: url });
    },
    reset,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Starts the simulator on a port (https optional: the official SDKs insist on https). */
export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const simulator = createSimulator(options);
  const host = options.host ?? '127.0.0.1';
  let tls: { cert: string; key: string } | undefined;
  if (options.https === 'self-signed') {
    const pems = await generate([{ name: 'commonName', value: host }], {
      keySize: 2048,
      extensions: [
        {
          name: 'subjectAltName',
          altNames: [
            { type: 7, ip: host },
            { type: 2, value: 'localhost' },
          ],
        },
      ],
    } as Parameters<typeof generate>[1]);
    tls = { cert: pems.cert, key: pems.private };
  } else if (options.https) {
    tls = options.https;
  }
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve(
      {
        fetch: simulator.app.fetch,
        hostname: host,
        port: options.port ?? 0,
        ...(tls ? { createServer: createHttpsServer, serverOptions: { cert: tls.cert, key: tls.key } } : {}),
      },
      () => resolve(s),
    );
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const url = `${tls ? 'https' : 'http'}://${urlHost}:${port}`;
  if (!options.publicBaseUrl) simulator.setPublicBaseUrl(url);

  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await simulator.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections (the SDK's axios, fetch) would otherwise hold close() open.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
    })());
  return {
    url,
    app: simulator.app,
    clock: simulator.clock,
    engine: simulator.engine,
    ipn: simulator.ipn,
    registerPublicKey: simulator.registerPublicKey,
    configureIpn: simulator.configureIpn,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
