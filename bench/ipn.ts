// P3: IPN ingestion. Signed SNS POSTs to our endpoint over HTTP (signature verified against the
// simulator's certificate, then signalWithStart on the charge permission's inbox, which forwards
// to its owner) against a raw `client.workflow.signal` loop to bare sink workflows, same count,
// same concurrency, same dev server. Envelopes are signed before the clock starts: signing is
// the sender's (SNS's) work, not ours. Also the POST-to-owner-state time (bench/ipn-latency.ts).
import { randomUUID } from 'node:crypto';
import { buildSignedNotification, snsHeaders, topicArnFor, type SnsEnvelope } from '../simulator/ipn';
import { knowChargePermissionSignal, testNotificationOwner, testOwnerQuery } from '../test/ipn/owner-workflow';
import type { AmazonPayNotification } from '../workflows/notification-messages';
import { notificationInboxQuery, notificationInboxWorkflowId } from '../workflows/notifications';
import { sinkQuery, sinkSignal } from './bare/workflows';
import { cpuClock, type Storefront } from './storefront';
import { percentiles, pool, until, type BenchStack } from './support';

export interface IpnOptions {
  ipns: number;
  chargePermissions: number;
  concurrency: number;
  latencySamples: number;
}

export interface IpnResult {
  options: IpnOptions;
  /** POSTs answered 200 per second, and until every owner had every notification. */
  ours: IpnSide;
  /** The brief's baseline: client.workflow.signal straight to a bare sink. */
  raw: IpnSide;
  /** The same design with nothing of ours: signalWithStart on a bare relay that forwards to a sink. */
  relay: IpnSide;
  ratio: number;
  /** POST to owner state; signal to sink state; signal through a bare relay workflow to sink state. */
  latency: {
    oursMedianMs: number;
    oursP90Ms: number;
    rawMedianMs: number;
    rawP90Ms: number;
    relayMedianMs: number;
    relayP90Ms: number;
    samples: number;
  };
}

export interface IpnSide {
  /** Sent (answered 200, or accepted by Temporal) per second. */
  perSecond: number;
  /** Per second until every receiver had all of them. */
  deliveredPerSecond: number;
  /** CPU per IPN: this process (API, workers, sender) and the dev server. */
  cpuMsPerIpn: { node: number; devServer: number };
  failures: string[];
}

const MERCHANT = 'A2SIMULATORMRCH';

export async function runIpn(stack: BenchStack, storefront: Storefront, options: IpnOptions): Promise<IpnResult> {
  const { plain, bareTaskQueue, ownerTaskQueue } = stack.baselines!;
  const { observer } = stack;
  const identity = await stack.simulator.ipn.identity();
  const certUrl = await stack.simulator.ipn.signingCertUrl();
  const run = randomUUID().slice(0, 8);

  const envelopeFor = (cp: string, objectId: string): SnsEnvelope =>
    buildSignedNotification(
      {
        message: {
          MerchantID: MERCHANT,
          ObjectType: 'CHARGE',
          ObjectId: objectId,
          ChargePermissionId: cp,
          NotificationType: 'STATE_CHANGE',
          NotificationId: randomUUID(),
          NotificationVersion: 'V2',
        },
        topicArn: topicArnFor(MERCHANT),
        signingCertUrl: certUrl,
        timestamp: new Date(),
      },
      identity.privateKeyPem,
    );
  const post = async (envelope: SnsEnvelope) => {
    const res = await fetch(storefront.ipnUrl, {
      method: 'POST',
      headers: snsHeaders(envelope),
      body: JSON.stringify(envelope),
    });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`IPN answered ${res.status}`);
  };

  // Owners registered with their inboxes before anything is timed.
  const cps = Array.from({ length: options.chargePermissions }, (_, i) => `S01-${run}-${String(i).padStart(5, '0')}`);
  const owners = await Promise.all(
    cps.map(async (cp) => {
      const handle = await observer.workflow.start(testNotificationOwner, {
        workflowId: `bench-owner-${cp}`,
        taskQueue: ownerTaskQueue,
        args: [{}],
      });
      await handle.signal(knowChargePermissionSignal, cp);
      return handle;
    }),
  );
  await Promise.all(
    cps.map((cp) =>
      until(
        () =>
          observer.workflow
            .getHandle(notificationInboxWorkflowId(cp))
            .query(notificationInboxQuery)
            .catch(() => null),
        (v) => v?.ownerWorkflowId != null,
        60_000,
        `inbox ${cp} to know its owner`,
      ),
    ),
  );
  await post(envelopeFor(cps[0]!, `${cps[0]}-WARM`)); // certificate download, then cached
  const sinks = await Promise.all(
    cps.map((cp) =>
      plain.workflow.start('signalSink', { workflowId: `bench-sink-${cp}`, taskQueue: bareTaskQueue, args: [] }),
    ),
  );

  const envelopes = Array.from({ length: options.ipns }, (_, i) =>
    envelopeFor(cps[i % cps.length]!, `${cps[i % cps.length]}-C${i}`),
  );
  const perOwner = Math.floor(options.ipns / cps.length);
  const expected = (i: number) => perOwner + (i < options.ipns % cps.length ? 1 : 0);

  const notification = (i: number): AmazonPayNotification => ({
    messageId: randomUUID(),
    notificationId: randomUUID(),
    objectType: 'CHARGE',
    objectId: `${cps[i % cps.length]}-C${i}`,
    chargePermissionId: cps[i % cps.length]!,
    notificationType: 'STATE_CHANGE',
    receivedAt: new Date().toISOString(),
  });
  const notifications = Array.from({ length: options.ipns }, (_, i) => notification(i));
  const relaySinks = await Promise.all(
    cps.map((cp) =>
      plain.workflow.start('signalSink', {
        workflowId: `bench-relayed-sink-${cp}`,
        taskQueue: bareTaskQueue,
        args: [],
      }),
    ),
  );

  /** Sends every IPN `concurrency` at a time, then waits until every receiver has its share. */
  const side = async (
    send: (i: number) => Promise<unknown>,
    received: (k: number) => Promise<number>,
    extra = (_k: number) => 0,
  ): Promise<IpnSide> => {
    const clock = cpuClock(stack.dev.process.pid);
    const start = performance.now();
    const sent = await pool(options.ipns, options.concurrency, async (i) => void (await send(i)));
    await Promise.all(
      cps.map((_, k) =>
        until(
          () => received(k),
          (n) => n >= expected(k) + extra(k),
          120_000,
          'every receiver to get its IPNs',
        ),
      ),
    );
    const delivered = (performance.now() - start) / 1000;
    const cpu = clock();
    return {
      perSecond: (options.ipns - sent.failures.length) / sent.seconds,
      deliveredPerSecond: options.ipns / delivered,
      cpuMsPerIpn: { node: cpu.nodeMs / options.ipns, devServer: cpu.devServerMs / options.ipns },
      failures: sent.failures,
    };
  };
  const oursSide = await side(
    (i) => post(envelopes[i]!),
    async (k) => (await owners[k]!.query(testOwnerQuery)).received.length,
    (k) => (k === 0 ? 1 : 0), // the warm-up IPN
  );
  const rawSide = await side(
    (i) => sinks[i % sinks.length]!.signal(sinkSignal, notifications[i]!),
    async (k) => (await sinks[k]!.query(sinkQuery)).count,
  );
  const relaySide = await side(
    (i) =>
      plain.workflow.signalWithStart('signalRelay', {
        workflowId: `bench-relay-${cps[i % cps.length]}`,
        taskQueue: bareTaskQueue,
        args: [relaySinks[i % cps.length]!.workflowId],
        signal: sinkSignal,
        signalArgs: [notifications[i]!],
      }),
    async (k) => (await relaySinks[k]!.query(sinkQuery)).count,
  );

  // Latency, one at a time: POST until the owner's state has it / signal until the sink's has it,
  // directly and through a bare relay (the inbox's hop without the inbox).
  const ours: number[] = [];
  const raw: number[] = [];
  const relayed: number[] = [];
  const owner = owners[0]!;
  const sink = sinks[0]!;
  const relaySink = await plain.workflow.start('signalSink', {
    workflowId: `bench-sink-relayed-${run}`,
    taskQueue: bareTaskQueue,
    args: [],
  });
  const relay = await plain.workflow.start('signalRelay', {
    workflowId: `bench-relay-${run}`,
    taskQueue: bareTaskQueue,
    args: [relaySink.workflowId],
  });
  for (let i = 0; i < options.latencySamples; i++) {
    const envelope = envelopeFor(cps[0]!, `${cps[0]}-L${i}`);
    const objectId = `${cps[0]}-L${i}`;
    const t0 = Date.now();
    await post(envelope);
    const state = await until(
      () => owner.query(testOwnerQuery),
      (s) => s.received.some((r) => r.objectId === objectId),
      30_000,
      'owner state',
    );
    ours.push(state.received.find((r) => r.objectId === objectId)!.seenAt - t0);

    const n = notification(i);
    const t1 = Date.now();
    await sink.signal(sinkSignal, n);
    const seen = await until(
      () => sink.query(sinkQuery),
      (s) => s.seenAt[n.notificationId] !== undefined,
      30_000,
      'sink state',
    );
    raw.push(seen.seenAt[n.notificationId]! - t1);

    const m = notification(i);
    const t2 = Date.now();
    await relay.signal(sinkSignal, m);
    const got = await until(
      () => relaySink.query(sinkQuery),
      (s) => s.seenAt[m.notificationId] !== undefined,
      30_000,
      'relayed sink state',
    );
    relayed.push(got.seenAt[m.notificationId]! - t2);
  }
  const pl = percentiles(relayed);
  const po = percentiles(ours);
  const pr = percentiles(raw);
  return {
    options,
    ours: oursSide,
    raw: rawSide,
    relay: relaySide,
    ratio: oursSide.perSecond / rawSide.perSecond,
    latency: {
      oursMedianMs: po.median,
      oursP90Ms: po.p90,
      rawMedianMs: pr.median,
      rawP90Ms: pr.p90,
      relayMedianMs: pl.median,
      relayP90Ms: pl.p90,
      samples: options.latencySamples,
    },
  };
}
