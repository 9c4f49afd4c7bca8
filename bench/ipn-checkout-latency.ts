// IPN to checkout state: a pending authorization (AuthorizationInitiated) resolves at Amazon, the
// simulator POSTs the signed IPN to our endpoint, the endpoint signals the charge permission inbox,
// the inbox forwards to the checkout workflow, which GETs the charge and moves to Authorized.
// Measured from the moment our endpoint receives the POST to the moment the checkout's status
// query says Authorized (polled every 5 ms). The workflow's own fallback poll (first after 30 s)
// cannot be what moved it: every measurement is far below that.
//
//   npx tsx bench/ipn-checkout-latency.ts [checkouts=20]
import { randomUUID } from 'node:crypto';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createApp } from '../api/app';
import { silentIpnLogger } from '../api/ipn';
import {
  checkoutWorkflowId,
  completeUpdate,
  reviewUpdate,
  setFinalAmountUpdate,
  statusQuery,
} from '../workflows/checkout-messages';
import { percentiles, startBenchStack, STORE_ID } from './support';

const count = Number(process.argv[2] ?? 20);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

await using stack = await startBenchStack({ delays: { pendingAuthorizationMs: 60_000 } });
const { admin, amazonPay, simulator, temporal, taskQueue } = stack;

// Our API on a real port, wrapped to timestamp each IPN as it arrives.
const received: Array<{ at: number; body: string }> = [];
const api = createApp({
  checkout: { temporal, taskQueue, apiKeys: ['bench'], buttonSigner: amazonPay, storeId: STORE_ID },
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
const front = new Hono();
front.use('/amazon-pay/ipn', async (c, next) => {
  received.push({ at: performance.now(), body: await c.req.raw.clone().text() });
  await next();
});
front.route('/', api);
const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
  const s = serve({ fetch: front.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
});
const address = server.address();
simulator.configureIpn({
  url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/amazon-pay/ipn`,
});

const latencies: number[] = [];
try {
  for (let n = 0; n < count; n++) {
    const session = await amazonPay.createCheckoutSession(
      { storeId: STORE_ID, webCheckoutDetails: { checkoutReviewReturnUrl: 'https://shop.example/review' } },
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
      args: [
        {
          chargeAmount: { amount: '30.00', currencyCode: 'USD' },
          paymentIntent: 'Authorize',
          canHandlePendingAuthorization: true,
          merchantReferenceId: `bench-${n}`,
          checkoutResultReturnUrl: 'https://shop.example/result',
        },
      ],
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
} finally {
  await new Promise((r) => server.close(r));
}
const p = percentiles(latencies);
console.log(`IPN -> checkout Authorized on ${new Date().toISOString()} (dev server in memory, 1 worker, same machine)`);
console.log(
  `n=${latencies.length}  median ${p.median.toFixed(0)} ms  p90 ${p.p90.toFixed(0)} ms  min ${p.min.toFixed(0)} ms  max ${p.max.toFixed(0)} ms`,
);
