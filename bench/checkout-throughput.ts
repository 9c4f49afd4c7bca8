// Checkout throughput and latency, end to end over HTTP: our API (app.request, no network hop),
// the checkout workflow on one worker, the Amazon Pay simulator over real HTTP, an in-memory
// Temporal dev server, all on this machine. Each checkout: button config -> buyer clicks ->
// review (update-with-start) -> final amount -> buyer pays -> result return (complete) -> capture.
//
//   npx tsx bench/checkout-throughput.ts [checkouts=200] [concurrency=20]
//
// Prints per-step latency (median/p90/p99), checkouts per second, and the process's memory
// (worker + API + simulator share this process; the dev server is a separate process).
import { createApp } from '../api/app';
import { percentiles, startBenchStack, STORE_ID } from './support';

const total = Number(process.argv[2] ?? 200);
const concurrency = Number(process.argv[3] ?? 20);

function stats(label: string, xs: number[]): string {
  const p = percentiles(xs);
  const ms = (n: number) => `${n.toFixed(0).padStart(5)} ms`;
  return `${label.padEnd(26)} median ${ms(p.median)}   p90 ${ms(p.p90)}   p99 ${ms(p.p99)}   max ${ms(p.max)}`;
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;

async function main() {
  await using stack = await startBenchStack();
  const { admin, amazonPay, temporal, taskQueue } = stack;
  const apiKey = 'bench';
  const app = createApp({
    checkout: { temporal, taskQueue, apiKeys: [apiKey], buttonSigner: amazonPay, storeId: STORE_ID },
    ipn: {
      temporal,
      taskQueue,
      path: '/amazon-pay/ipn',
      certHostPattern: /^127\.0\.0\.1$/,
      confirmSubscriptions: false,
      bodyLimitBytes: 65536,
    },
  });
  const call = async (method: string, path: string, body?: unknown, idempotencyKey?: string) => {
    const res = await app.request(path, {
      method,
      headers: {
        authorization: `Bearer ${apiKey}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };

  const steps: Record<string, number[]> = {
    review: [],
    amount: [],
    complete: [],
    capture: [],
    'checkout (all steps)': [],
  };
  const timed = async <T>(name: string, fn: () => Promise<T>) => {
    const t = performance.now();
    const v = await fn();
    steps[name]!.push(performance.now() - t);
    return v;
  };

  const checkout = async (n: number) => {
    const t0 = performance.now();
    const button = await call('POST', '/v1/checkout-sessions/button-config', {
      amount: { amount: '25.00', currencyCode: 'USD' },
      checkoutReviewReturnUrl: 'https://shop.example/review',
    });
    const { checkoutSessionId } = await admin.clickButton(button as never);
    await timed('review', () => call('POST', `/v1/checkouts/${checkoutSessionId}/review`));
    const amount = await timed('amount', () =>
      call('POST', `/v1/checkouts/${checkoutSessionId}/amount`, {
        chargeAmount: { amount: '25.00', currencyCode: 'USD' },
        paymentIntent: 'Authorize',
        canHandlePendingAuthorization: false,
        merchantReferenceId: `order-${n}`,
        checkoutResultReturnUrl: 'https://shop.example/result',
      }),
    );
    await admin.pay(amount.amazonPayRedirectUrl as string, 'happy');
    await timed('complete', () => call('GET', `/v1/return/result?amazonCheckoutSessionId=${checkoutSessionId}`));
    await timed('capture', () =>
      call('POST', `/v1/checkouts/${checkoutSessionId}/capture`, {}, `capture-${checkoutSessionId}`),
    );
    steps['checkout (all steps)']!.push(performance.now() - t0);
  };

  // Warm-up: bundle, first workflow tasks, JIT.
  for (let i = 0; i < 3; i++) await checkout(-i);
  for (const k of Object.keys(steps)) steps[k] = [];

  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  let next = 0;
  let failures = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const n = next++;
        try {
          await checkout(n);
        } catch (err) {
          failures++;
          console.error(`checkout ${n}: ${(err as Error).message}`);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);

  const movements = await admin.moneyMovements({});
  console.log(
    `Checkout throughput on ${new Date().toISOString()} (${process.platform}/${process.arch}, ${(await import('node:os')).cpus().length} cores, node ${process.version})`,
  );
  console.log(
    `${total} checkouts, concurrency ${concurrency}: ${seconds.toFixed(1)} s, ${(total / seconds).toFixed(1)} checkouts/s, ${failures} failed`,
  );
  for (const [name, xs] of Object.entries(steps)) if (xs.length) console.log(stats(name, xs));
  console.log(`process RSS: ${mb(rssBefore)} before, ${mb(peakRss)} peak (worker + API + simulator)`);
  console.log(
    `simulator money movements: captured ${movements.totals.captured} (expected ${(25 * (total + 3)).toFixed(2)})`,
  );
}

await main();
