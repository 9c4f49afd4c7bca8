// IPN latency: from the moment an SNS POST leaves the sender to the moment the owning workflow
// has the notification in its state. Starts its own stack: a Temporal dev server (in memory), a
// worker running the inbox and a minimal owner workflow, our IPN endpoint on a real port, and
// the simulator's signing identity with its certificate served over http on 127.0.0.1.
//
//   npx tsx bench/ipn-latency.ts [warmCount=50] [coldCount=10]
//
// "warm": the inbox and its owner are running (every IPN after the first).
// "race": the first IPN for a charge permission arrives before the owner exists: signalWithStart
//         starts the inbox, then the owner starts and registers (includes the owner's start).
// The owner stamps Date.now() in its signal handler (workflow-task time), on the same machine.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { Hono } from 'hono';
import { createNotificationActivities } from '../activities/notifications';
import { createIpnRoutes, silentIpnLogger } from '../api/ipn';
import { ensureTemporalCli } from '../scripts/provision';
import { startDevServer } from '../scripts/dev-server';
import { buildSignedNotification, createSigningIdentity, snsHeaders, topicArnFor } from '../simulator/ipn';
import { knowChargePermissionSignal, testNotificationOwner, testOwnerQuery } from '../test/ipn/owner-workflow';
import { notificationInboxQuery, notificationInboxWorkflowId } from '../workflows/notifications';
import { generateCodecKey, parseCodecKeys } from '../temporal/codec';
import { paymentDataConverter } from '../temporal/data-converter';

const warmCount = Number(process.argv[2] ?? 50);
const coldCount = Number(process.argv[3] ?? 10);

function listen(app: Hono): Promise<{ url: string; server: ServerType }> {
  return new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) =>
      resolve({ url: `http://127.0.0.1:${info.port}`, server: s }),
    );
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error('timed out');
    await sleep(5);
  }
}

function summary(label: string, xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `${label.padEnd(40)} n=${String(s.length).padStart(3)}  median ${q(0.5).toFixed(0).padStart(4)} ms  p90 ${q(0.9).toFixed(0).padStart(4)} ms  min ${s[0]!.toFixed(0)} ms  max ${s[s.length - 1]!.toFixed(0)} ms`;
}

async function main() {
  Runtime.install({
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: (m) => console.error(m),
    },
  });
  const cliPath = await ensureTemporalCli();
  const dev = await startDevServer({ cliPath, headless: true, port: 0, logLevel: 'error' });
  const cleanup: Array<() => Promise<unknown>> = [() => dev.stop()];
  try {
    const connection = await Connection.connect({ address: dev.address });
    cleanup.unshift(() => connection.close());
    // Encrypted like production; a key for this run only.
    const dataConverter = paymentDataConverter(parseCodecKeys(generateCodecKey('bench')));
    const temporal = new Client({ connection, namespace: dev.namespace, dataConverter });
    const native = await NativeConnection.connect({ address: dev.address });
    cleanup.unshift(() => native.close());
    const taskQueue = `bench-ipn-${randomUUID()}`;
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('../test/ipn/workflows.ts', import.meta.url)),
      logger: {
        log: () => undefined,
        trace: () => undefined,
        debug: () => undefined,
        info: () => undefined,
        warn: () => undefined,
        error: () => undefined,
      },
    });
    const worker = await Worker.create({
      connection: native,
      namespace: dev.namespace,
      taskQueue,
      dataConverter,
      workflowBundle,
      activities: createNotificationActivities({ temporal }),
      shutdownGraceTime: '1s',
    });
    const running = worker.run();
    cleanup.unshift(async () => {
      worker.shutdown();
      await running;
    });

    const identity = await createSigningIdentity();
    const certHost = await listen(new Hono().get(`/sns/${identity.certName}`, (c) => c.text(identity.certificatePem)));
    cleanup.unshift(() => new Promise((r) => certHost.server.close(r)));
    const api = await listen(
      createIpnRoutes({
        temporal,
        taskQueue,
        path: '/amazon-pay/ipn',
        certHostPattern: /^127\.0\.0\.1$/,
        confirmSubscriptions: false,
        bodyLimitBytes: 64 * 1024,
        logger: silentIpnLogger,
      }),
    );
    cleanup.unshift(() => new Promise((r) => api.server.close(r)));
    const certUrl = `${certHost.url}/sns/${identity.certName}`;

    const post = async (cp: string, objectId: string) => {
      const env = buildSignedNotification(
        {
          message: {
            MerchantID: 'A2SIMULATORMRCH',
            ObjectType: 'CHARGE',
            ObjectId: objectId,
            ChargePermissionId: cp,
            NotificationType: 'STATE_CHANGE',
            NotificationId: randomUUID(),
            NotificationVersion: 'V2',
          },
          topicArn: topicArnFor('A2SIMULATORMRCH'),
          signingCertUrl: certUrl,
          timestamp: new Date(),
        },
        identity.privateKeyPem,
      );
      const t0 = Date.now();
      const res = await fetch(`${api.url}/amazon-pay/ipn`, {
        method: 'POST',
        headers: snsHeaders(env),
        body: JSON.stringify(env),
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`IPN answered ${res.status}`);
      return { t0, answeredMs: Date.now() - t0 };
    };

    const newOwner = async (cp: string) => {
      const handle = await temporal.workflow.start(testNotificationOwner, {
        workflowId: `bench-owner-${randomUUID()}`,
        taskQueue,
        args: [{}],
      });
      await handle.signal(knowChargePermissionSignal, cp);
      return handle;
    };

    const measure = async (cp: string, owner: Awaited<ReturnType<typeof newOwner>>, objectId: string) => {
      const { t0, answeredMs } = await post(cp, objectId);
      const state = await until(
        () => owner.query(testOwnerQuery),
        (s) => s.received.some((r) => r.objectId === objectId),
      );
      const seenAt = state.received.find((r) => r.objectId === objectId)!.seenAt;
      return { answeredMs, endToEndMs: seenAt - t0 };
    };

    // Warm-up: certificate fetch (cached afterwards) and first workflow tasks.
    const warmCp = `S01-${Date.now()}-WARM`;
    const warmOwner = await newOwner(warmCp);
    await until(
      () =>
        temporal.workflow
          .getHandle(notificationInboxWorkflowId(warmCp))
          .query(notificationInboxQuery)
          .catch(() => null),
      (v) => v?.ownerWorkflowId != null,
    );
    await measure(warmCp, warmOwner, `${warmCp}-C0`);

    const warm = { answered: [] as number[], e2e: [] as number[] };
    for (let i = 1; i <= warmCount; i++) {
      const r = await measure(warmCp, warmOwner, `${warmCp}-C${i}`);
      warm.answered.push(r.answeredMs);
      warm.e2e.push(r.endToEndMs);
    }

    const cold = { answered: [] as number[], e2e: [] as number[] };
    for (let i = 1; i <= coldCount; i++) {
      const cp = `S01-${Date.now()}-COLD${i}`;
      // The IPN goes first (signalWithStart starts the inbox), the owner starts and registers after the answer.
      const { t0, answeredMs } = await post(cp, `${cp}-C1`);
      const owner = await newOwner(cp);
      const state = await until(
        () => owner.query(testOwnerQuery),
        (s) => s.received.length === 1,
      );
      cold.answered.push(answeredMs);
      cold.e2e.push(state.received[0]!.seenAt - t0);
    }

    console.log(
      `IPN latency on ${new Date().toISOString()} (Temporal dev server in memory, 1 worker, same machine; ${process.platform}/${process.arch}, node ${process.version})`,
    );
    console.log(summary('warm: POST answered 200', warm.answered));
    console.log(summary('warm: POST -> owner state changed', warm.e2e));
    console.log(summary('race: POST answered 200 (inbox start)', cold.answered));
    console.log(summary('race: POST -> owner (registers after)', cold.e2e));
  } finally {
    for (const fn of cleanup) await fn().catch((err: unknown) => console.error('cleanup failed', err));
  }
}

await main();
