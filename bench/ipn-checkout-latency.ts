// IPN to checkout state: a pending authorization (AuthorizationInitiated) resolves at Amazon, the
// simulator POSTs the signed IPN to our endpoint, the endpoint signals the charge permission inbox,
// the inbox forwards to the checkout workflow, which GETs the charge and moves to Authorized.
// Measured from the moment our endpoint receives the POST to the moment the checkout's status
// query says Authorized (polled every 5 ms). The workflow's own fallback poll (first after 30 s)
// cannot be what moved it: every measurement is far below that.
//
//   npx tsx bench/ipn-checkout-latency.ts [checkouts=20]
import { randomUUID } from 'node:crypto';
import { generateKeyPairSync } from 'node:crypto';
import { serve } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { Hono } from 'hono';
import { AmazonPayClient } from '../amazon-pay';
import { createApp } from '../api/app';
import { startDevServer } from '../scripts/dev-server';
import { ensureTemporalCli } from '../scripts/provision';
import { startSimulator } from '../simulator';
import { SimulatorAdmin } from '../simulator/admin-client';
import { checkoutWorkflowId, completeUpdate, reviewUpdate, setFinalAmountUpdate, statusQuery } from '../workflows/checkout-messages';
import { createPaymentWorker } from '../worker/worker';

const count = Number(process.argv[2] ?? 20);
const quiet = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => console.error(m) };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Runtime.install({ logger: quiet });
const dev = await startDevServer({ cliPath: await ensureTemporalCli(), headless: true, logLevel: 'error' });
const cleanup: Array<() => Promise<unknown>> = [() => dev.stop()];
try {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicKeyId = 'SANDBOX-BENCHIPN';
  const simulator = await startSimulator({
    publicKeys: { [publicKeyId]: publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    delays: { pendingAuthorizationMs: 60_000 },
  });
  cleanup.unshift(() => simulator.close());
  const admin = new SimulatorAdmin(simulator.url);
  const amazonPay = new AmazonPayClient({ publicKeyId, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), region: 'na', sandbox: true, baseUrl: simulator.url });
  const connection = await Connection.connect({ address: dev.address });
  cleanup.unshift(() => connection.close());
  const temporal = new Client({ connection, namespace: dev.namespace });
  const native = await NativeConnection.connect({ address: dev.address });
  cleanup.unshift(() => native.close());
  const taskQueue = `bench-${randomUUID()}`;
  const worker = await createPaymentWorker({ connection: native, namespace: dev.namespace, taskQueue, amazonPay, temporal, shutdownGraceTime: '2s' });
  const running = worker.run();
  cleanup.unshift(async () => {
    worker.shutdown();
    await running;
  });

  // Our API on a real port, wrapped to timestamp each IPN as it arrives.
  const received: Array<{ at: number; body: string }> = [];
  const api = createApp({
    checkout: { temporal, taskQueue, apiKeys: ['bench'], buttonSigner: amazonPay, storeId: 'amzn1.application-oa2-client.00000000000000000000000000000000' },
    ipn: { temporal, taskQueue, path: '/amazon-pay/ipn', certHostPattern: /^127\.0\.0\.1$/, confirmSubscriptions: false, bodyLimitBytes: 65536, logger: { info: () => undefined, warn: () => undefined, error: () => undefined } },
  });
  const front = new Hono();
  front.use('/amazon-pay/ipn', async (c, next) => {
    received.push({ at: performance.now(), body: await c.req.raw.clone().text() });
    await next();
  });
  front.route('/', api);
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: front.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  cleanup.unshift(() => new Promise((r) => server.close(r)));
  const address = server.address();
  simulator.configureIpn({ url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/amazon-pay/ipn` });

  const latencies: number[] = [];
  for (let n = 0; n < count; n++) {
    const session = await amazonPay.createCheckoutSession(
      { storeId: 'amzn1.application-oa2-client.00000000000000000000000000000000', webCheckoutDetails: { checkoutReviewReturnUrl: 'https://shop.example/review' } },
      { idempotencyKey: randomUUID().replace(/-/g, '') },
    );
    await admin.signIn(session.checkoutSessionId);
    const handle = await temporal.workflow.start('checkoutWorkflow', {
      workflowId: checkoutWorkflowId(session.checkoutSessionId),
      taskQueue,
      args: [{ checkoutSessionId: session.checkoutSessionId }],
    });
    await handle.executeUpdate(reviewUpdate);
    const { amazonPayRedirectUrl } = await handle.executeUpdate(setFinalAmountUpdate, {
      args: [{ chargeAmount: { amount: '30.00', currencyCode: 'USD' }, paymentIntent: 'Authorize', canHandlePendingAuthorization: true, merchantReferenceId: `bench-${n}`, checkoutResultReturnUrl: 'https://shop.example/result' }],
    });
    await admin.pay(amazonPayRedirectUrl, 'pendingThenAuthorized');
    const outcome = await handle.executeUpdate(completeUpdate);
    if (!outcome.completed) throw new Error('not completed');
    await sleep(300); // let the creation IPN of the pending charge settle
    const chargeId = outcome.chargeId!;
    const before = received.length;
    await admin.advanceClock(60_000); // Amazon authorizes; the simulator sends the IPN
    let ipnAt: number | undefined;
    for (;;) {
      ipnAt ??= received.slice(before).find((r) => r.body.includes(chargeId))?.at;
      const status = await handle.query(statusQuery);
      if (status.status === 'Authorized') {
        if (ipnAt === undefined) throw new Error('Authorized before any IPN arrived');
        latencies.push(performance.now() - ipnAt);
        break;
      }
      await sleep(5);
    }
  }
  const s = [...latencies].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(0);
  console.log(`IPN -> checkout Authorized on ${new Date().toISOString()} (dev server in memory, 1 worker, same machine)`);
  console.log(`n=${s.length}  median ${q(0.5)} ms  p90 ${q(0.9)} ms  min ${s[0]!.toFixed(0)} ms  max ${s[s.length - 1]!.toFixed(0)} ms`);
} finally {
  for (const fn of cleanup) await fn().catch(() => undefined);
}
