// A storefront driving our HTTP API the way a shop does (app.request: the API's routing,
// validation and Temporal calls without a network hop), with the buyer's clicks at the simulator
// over real HTTP. The API also listens on a port, for the simulator's IPNs when P4 turns them on.
import { readFileSync } from 'node:fs';
import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import { createApp } from '../api/app';
import { silentIpnLogger } from '../api/ipn';
import type { PaymentIntent } from '../workflows/checkout-messages';
import { STORE_ID, type BenchStack } from './support';

export const STEPS = ['review', 'amount', 'complete', 'capture'] as const;
export type Step = (typeof STEPS)[number];
export type StepTimes = Record<Step, number[]>;

export const emptySteps = (): StepTimes => ({ review: [], amount: [], complete: [], capture: [] });

export interface Storefront extends AsyncDisposable {
  app: Hono;
  /** Where the simulator posts IPNs (our endpoint on a real port). */
  ipnUrl: string;
  /** One buyer's checkout; `times` gets each step's latency in ms. Answers the checkout session id. */
  checkout(n: number, options?: CheckoutOptions): Promise<string>;
  call(method: string, path: string, body?: unknown, idempotencyKey?: string): Promise<Record<string, unknown>>;
}

export interface CheckoutOptions {
  intent?: PaymentIntent;
  /** Stop after this step (default: capture for Authorize, complete otherwise). */
  until?: Step;
  times?: StepTimes;
}

const API_KEY = 'bench';

export async function startStorefront(
  stack: Pick<BenchStack, 'temporal' | 'taskQueue' | 'amazonPay' | 'admin'>,
): Promise<Storefront> {
  const { temporal, taskQueue, amazonPay, admin } = stack;
  const app = createApp({
    checkout: { temporal, taskQueue, apiKeys: [API_KEY], buttonSigner: amazonPay, storeId: STORE_ID },
    ipn: {
      temporal,
      taskQueue,
      path: '/amazon-pay/ipn',
      certHostPattern: /^127\.0\.0\.1$/,
      confirmSubscriptions: false,
      bodyLimitBytes: 65536,
      logger: silentIpnLogger,
    },
  });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const address = server.address();
  const ipnUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/amazon-pay/ipn`;

  const call = async (method: string, path: string, body?: unknown, idempotencyKey?: string) => {
    const res = await app.request(path, {
      method,
      headers: {
        authorization: `Bearer ${API_KEY}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json).slice(0, 300)}`);
    return json;
  };

  const checkout = async (n: number, options: CheckoutOptions = {}) => {
    const intent = options.intent ?? 'Authorize';
    const last = options.until ?? (intent === 'Authorize' ? 'capture' : 'complete');
    const timed = async <T>(step: Step, fn: () => Promise<T>) => {
      const t = performance.now();
      const v = await fn();
      options.times?.[step].push(performance.now() - t);
      return v;
    };
    const button = await call('POST', '/v1/checkout-sessions/button-config', {
      amount: { amount: '25.00', currencyCode: 'USD' },
      checkoutReviewReturnUrl: 'https://shop.example/review',
    });
    const { checkoutSessionId: id } = await admin.clickButton(button as never);
    await timed('review', () => call('POST', `/v1/checkouts/${id}/review`));
    if (last === 'review') return id;
    const amount = await timed('amount', () =>
      call('POST', `/v1/checkouts/${id}/amount`, {
        chargeAmount: { amount: '25.00', currencyCode: 'USD' },
        paymentIntent: intent,
        canHandlePendingAuthorization: false,
        merchantReferenceId: `order-${n}`,
        checkoutResultReturnUrl: 'https://shop.example/result',
      }),
    );
    if (last === 'amount') return id;
    await admin.pay(amount.amazonPayRedirectUrl as string, 'happy');
    const outcome = await timed('complete', () => call('GET', `/v1/return/result?amazonCheckoutSessionId=${id}`));
    if (outcome.completed !== true)
      throw new Error(`checkout ${id} not completed: ${JSON.stringify(outcome).slice(0, 200)}`);
    if (last === 'complete') return id;
    await timed('capture', () => call('POST', `/v1/checkouts/${id}/capture`, {}, `capture-${id}`));
    return id;
  };

  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    });
  return { app, ipnUrl, checkout, call, [Symbol.asyncDispose]: close };
}

/** CPU time of this process (worker, API, simulator) and of the dev server process, in ms. */
export function cpuClock(devServerPid: number | undefined): () => { nodeMs: number; devServerMs: number } {
  const ticks = () => {
    if (!devServerPid) return 0;
    try {
      // /proc/<pid>/stat: fields 14 and 15 (after the parenthesised command) are utime and stime, in 1/100 s.
      const fields = readFileSync(`/proc/${devServerPid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      return Number.NaN;
    }
  };
  const node0 = process.cpuUsage();
  const dev0 = ticks();
  return () => {
    const node = process.cpuUsage(node0);
    return { nodeMs: (node.user + node.system) / 1000, devServerMs: (ticks() - dev0) * 10 };
  };
}
