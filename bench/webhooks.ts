// P7: merchant webhooks. How many events per second one payment worker delivers to a local
// receiver (a plain node http server verifying every request with `standardwebhooks`' own
// Webhook.verify and answering 204), and what a delivered event adds to its owner's history.
//
// The worker is a second payment worker in this process, on its own task queue, configured with
// one endpoint (the receiver); the stack's own worker has none, so the same checkout on both
// queues tells what delivery adds. Checkouts are AuthorizeWithCapture driven to completion, the
// shortest path with events (checkout.completed, payment.captured).
import { createServer, type Server } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import type proto from '@temporalio/proto';
import { Webhook } from 'standardwebhooks';
import { DEFAULT_RETRY_SCHEDULE_MS } from '../activities/events';
import { createPaymentWorker } from '../worker/worker';
import { checkoutWorkflowId } from '../workflows/checkout-messages';
import { eventsQuery } from '../workflows/events/messages';
import { countBillableActions } from './actions';
import { quietWorkflow } from './cost';
import { startStorefront, type Storefront } from './storefront';
import { pool, until, type BenchStack } from './support';

export interface WebhookOptions {
  /** Checkouts driven to completion at once through the worker with the endpoint. */
  checkouts: number;
  concurrency: number;
  /** Checkouts run one at a time on each worker (with the endpoint, without) for the history comparison. */
  historySamples: number;
}

export interface WebhookResult {
  options: WebhookOptions;
  /** Verified requests answered 204 (a duplicate id counts each time it arrived). */
  delivered: number;
  distinctEvents: number;
  duplicates: number;
  /** Requests that failed Webhook.verify (answered 400): should be 0. */
  verifyFailures: number;
  /** Verified deliveries per second from the first to the last. */
  perSecond: number;
  spanSeconds: number;
  /** The checkouts' own rate in the same run: events are produced at most this fast. */
  checkoutsPerSecond: number;
  eventsPerCheckout: number;
  history: {
    /** Checkout history lengths, one at a time, settled: with the endpoint and without. */
    withEndpoint: number[];
    without: number[];
    eventsPerCheckout: number;
    /** (mean with - mean without) / events delivered per checkout. */
    perEvent: number;
    /** deliverMerchantEvents activities per checkout, and their Scheduled/Started/Completed events. */
    deliveryActivities: number;
    deliveryActivityEvents: number;
    /** Billable actions per delivered event (one per delivery activity attempt). */
    actionsPerEvent: number;
  };
  /** The same checkouts while the endpoint answers 503, then the drain once it is back. */
  backlog: {
    events: number;
    /** Verified deliveries per second from the first to the last of the drain. */
    perSecond: number;
    spanSeconds: number;
    /** From the endpoint coming back to the last delivery (includes up to one retry interval). */
    secondsFromUp: number;
    refusedWhileDown: number;
    retryMs: number;
  };
  failures: string[];
}

interface BenchReceiver {
  url: string;
  secret: string;
  /** performance.now() of each verified delivery, in arrival order. */
  times: number[];
  ids: Map<string, number>;
  verifyFailures: number;
  /** While false, every verified request is answered 503 (an endpoint that is down) and not counted. */
  up: boolean;
  refused: number;
  close(): Promise<void>;
}

async function startReceiver(): Promise<BenchReceiver> {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const verifier = new Webhook(secret);
  const r: BenchReceiver = {
    url: '',
    secret,
    times: [],
    ids: new Map(),
    verifyFailures: 0,
    up: true,
    refused: 0,
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const event = verifier.verify(
          Buffer.concat(chunks).toString('utf8'),
          req.headers as Record<string, string>,
        ) as { id: string };
        if (!r.up) {
          r.refused++;
          res.writeHead(503).end();
          return;
        }
        r.times.push(performance.now());
        r.ids.set(event.id, (r.ids.get(event.id) ?? 0) + 1);
        res.writeHead(204).end();
      } catch {
        r.verifyFailures++;
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  r.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/webhooks`;
  r.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return r;
}

/** deliverMerchantEvents activities in a history and their Scheduled/Started/Completed(/Failed) events. */
function deliveryEvents(history: proto.temporal.api.history.v1.IHistory): { activities: number; events: number } {
  const ids = new Set<string>();
  let events = 0;
  for (const e of history.events ?? []) {
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'deliverMerchantEvents') {
      ids.add(String(e.eventId));
      events++;
    }
    const a =
      e.activityTaskStartedEventAttributes ??
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes;
    if (a && ids.has(String(a.scheduledEventId))) events++;
  }
  return { activities: ids.size, events };
}

const BACKLOG_RETRY_MS = 2_000;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);

export async function runWebhooks(
  stack: BenchStack,
  plain: Storefront,
  options: WebhookOptions,
): Promise<WebhookResult> {
  const receiver = await startReceiver();
  const webhookWorker = async (retryScheduleMs: number[]) => {
    const taskQueue = `bench-webhooks-${randomUUID()}`;
    const worker = await createPaymentWorker({
      connection: stack.native,
      namespace: stack.dev.namespace,
      taskQueue,
      amazonPay: stack.amazonPay,
      temporal: stack.temporal,
      dataConverter: stack.dataConverter,
      webhooks: {
        endpoints: [{ id: 'bench', url: receiver.url, secrets: [receiver.secret] }],
        retryScheduleMs,
        timeoutMs: 15_000,
      },
      shutdownGraceTime: '2s',
    });
    stack.adopt(worker);
    return startStorefront({ ...stack, taskQueue });
  };
  await using storefront = await webhookWorker(DEFAULT_RETRY_SCHEDULE_MS);
  // The backlog's worker retries every 2 s (instead of 5 s, 5 min, ...), so that once the endpoint
  // is back every owner's retry timer fires within 2 s and the drain measures delivery, not timers.
  await using backlogStore = await webhookWorker(Array.from({ length: 200 }, () => BACKLOG_RETRY_MS));
  try {
    // Settled: every event it recorded delivered (with the endpoint) and nothing left to run.
    const settled = async (checkoutId: string, delivers: boolean) => {
      const handle = stack.observer.workflow.getHandle(checkoutWorkflowId(checkoutId));
      const events = await until(
        async () => {
          const list = await handle.query(eventsQuery);
          const done =
            list.length > 0 &&
            (!delivers ||
              list.every((e) => e.deliveries.length > 0 && e.deliveries.every((d) => d.status === 'Delivered')));
          return done && (await quietWorkflow(handle)) ? list.length : 0;
        },
        (n) => n > 0,
        30_000,
        `checkout ${checkoutId} to settle`,
      );
      return { events, history: await handle.fetchHistory() };
    };

    // History: one at a time, so each checkout's deliveries batch the same way on both workers.
    const withEndpoint: proto.temporal.api.history.v1.IHistory[] = [];
    const without: proto.temporal.api.history.v1.IHistory[] = [];
    const emitted: number[] = [];
    for (let i = 0; i < options.historySamples; i++) {
      const w = await settled(await storefront.checkout(40_000 + i, { intent: 'AuthorizeWithCapture' }), true);
      withEndpoint.push(w.history);
      emitted.push(w.events);
      const o = await settled(await plain.checkout(41_000 + i, { intent: 'AuthorizeWithCapture' }), false);
      without.push(o.history);
      emitted.push(o.events);
    }
    if (Math.min(...emitted) !== Math.max(...emitted))
      throw new Error(`AuthorizeWithCapture checkouts emitted different event counts: ${emitted.join(', ')}`);
    const eventsPerCheckout = emitted[0]!;

    // Throughput: every verified delivery from the first to the last.
    const deliveredBefore = receiver.times.length;
    const ids: string[] = [];
    const run = await pool(options.checkouts, options.concurrency, async (n) => {
      ids.push(await storefront.checkout(42_000 + n, { intent: 'AuthorizeWithCapture' }));
    });
    const wanted = deliveredBefore + ids.length * eventsPerCheckout;
    await until(
      async () => receiver.times.length,
      (n) => n >= wanted,
      120_000,
      `${wanted - deliveredBefore} webhook deliveries`,
    );
    const times = receiver.times.slice(deliveredBefore);
    const spanSeconds = (times[times.length - 1]! - times[0]!) / 1000;

    // Backlog: the endpoint is down (503) while the checkouts run, then comes back; every owner
    // then has its events waiting, and the drain shows what one worker delivers when not bounded
    // by the rate events are produced.
    receiver.up = false;
    const backlogIds: string[] = [];
    const backlogRun = await pool(options.checkouts, options.concurrency, async (n) => {
      backlogIds.push(await backlogStore.checkout(44_000 + n, { intent: 'AuthorizeWithCapture' }));
    });
    // Every owner has tried once and failed (its events are recorded and waiting).
    await until(
      async () => receiver.refused,
      (n) => n >= backlogIds.length,
      60_000,
      'every backlog owner to fail once',
    );
    const backlogBefore = receiver.times.length;
    const upAt = performance.now();
    receiver.up = true;
    const backlogWanted = backlogBefore + backlogIds.length * eventsPerCheckout;
    await until(
      async () => receiver.times.length,
      (n) => n >= backlogWanted,
      120_000,
      `${backlogWanted - backlogBefore} backlog deliveries`,
    );
    const drained = receiver.times.slice(backlogBefore);
    const backlog = {
      events: drained.length,
      secondsFromUp: (drained[drained.length - 1]! - upAt) / 1000,
      spanSeconds: (drained[drained.length - 1]! - drained[0]!) / 1000,
      perSecond: (drained.length - 1) / ((drained[drained.length - 1]! - drained[0]!) / 1000),
      refusedWhileDown: receiver.refused,
      retryMs: BACKLOG_RETRY_MS,
    };

    const lengths = (hs: typeof without) => hs.map((h) => h.events?.length ?? 0);
    const delivery = withEndpoint.map(deliveryEvents);
    const deliveryActions = withEndpoint.map((h) =>
      countBillableActions(h)
        .items.filter((x) => x.name === 'deliverMerchantEvents')
        .reduce((a, x) => a + x.actions, 0),
    );
    const distinct = receiver.ids.size;
    return {
      options,
      delivered: times.length,
      distinctEvents: distinct,
      duplicates: [...receiver.ids.values()].reduce((a, v) => a + v - 1, 0),
      verifyFailures: receiver.verifyFailures,
      perSecond: (times.length - 1) / spanSeconds,
      spanSeconds,
      checkoutsPerSecond: ids.length / run.seconds,
      eventsPerCheckout,
      history: {
        withEndpoint: lengths(withEndpoint),
        without: lengths(without),
        eventsPerCheckout,
        perEvent: (mean(lengths(withEndpoint)) - mean(lengths(without))) / eventsPerCheckout,
        deliveryActivities: mean(delivery.map((d) => d.activities)),
        deliveryActivityEvents: mean(delivery.map((d) => d.events)),
        actionsPerEvent: mean(deliveryActions) / eventsPerCheckout,
      },
      backlog,
      failures: [...run.failures, ...backlogRun.failures],
    };
  } finally {
    await receiver.close();
  }
}
