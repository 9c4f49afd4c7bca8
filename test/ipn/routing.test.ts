// IPN routing end to end: the simulator signs and delivers SNS envelopes to our API on a real
// port, the endpoint signals the charge permission inbox, the inbox forwards to the owner.
import { Client, Connection } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createIpnRoutes, silentIpnLogger, type IpnRouteDeps } from '../../api/ipn';
import { notificationInboxWorkflowId } from '../../workflows/notifications';
import { startTestStack, type TestStack } from '../support/stack';
import { recordHistory } from '../checkout/record';
import { finishOwnerSignal } from './owner-workflow';
import {
  eventually,
  inboxView,
  newChargePermissionId,
  ownerReceived,
  serveApp,
  startOwner,
  startIpnSender,
  startRoutingWorker,
} from './support';

let stack: TestStack;
let worker: AsyncDisposable;
let sender: Awaited<ReturnType<typeof startIpnSender>>;

beforeAll(async () => {
  stack = await startTestStack({ worker: false, ipn: false });
  worker = await startRoutingWorker(stack.temporal, stack.taskQueue);
  sender = await startIpnSender(`${stack.apiUrl}${stack.ipnPath}`);
});
afterAll(async () => {
  await sender?.[Symbol.asyncDispose]();
  await worker?.[Symbol.asyncDispose]();
  await stack?.[Symbol.asyncDispose]();
});
afterEach(async () => {
  await sender.ipn.idle(10_000);
  sender.ipn.configure({
    url: `${stack.apiUrl}${stack.ipnPath}`,
    duplicateRate: 0,
    reorderRate: 0,
    delayMs: 0,
    lossRate: 0,
  });
});

function ipn(cp: string, n: number, objectType: 'CHARGE' | 'REFUND' | 'CHARGE_PERMISSION' = 'CHARGE') {
  const ids: string[] = [];
  for (let i = 1; i <= n; i++) {
    const objectId = objectType === 'CHARGE_PERMISSION' ? cp : `${cp}-C${String(i).padStart(6, '0')}`;
    ids.push(objectId);
    sender.ipn.notify({ objectType, objectId, chargePermissionId: cp, notificationType: 'STATE_CHANGE' });
  }
  return ids.sort();
}

/** Our IPN routes beside the stack's, with other inbox waits or another Temporal client. */
function ipnRoutes(overrides: Partial<IpnRouteDeps>) {
  return createIpnRoutes({
    temporal: stack.temporal,
    taskQueue: stack.taskQueue,
    path: stack.ipnPath,
    certHostPattern: /^127\.0\.0\.1$/,
    confirmSubscriptions: false,
    bodyLimitBytes: 64 * 1024,
    logger: silentIpnLogger,
    ...overrides,
  });
}

describe('IPN routing through the charge permission inbox', () => {
  it('routes an IPN to a registered owner', async () => {
    const cp = newChargePermissionId();
    const owner = await startOwner(stack.temporal, stack.taskQueue);
    await owner.know(cp);
    await eventually(
      () => inboxView(stack.temporal, cp),
      (v) => v.ownerWorkflowId === owner.handle.workflowId,
    );
    const ids = ipn(cp, 1);
    const s = await eventually(owner.state, (st) => st.received.length === 1);
    expect(ownerReceived(s)).toEqual(ids);
    expect(s.received[0]).toMatchObject({
      chargePermissionId: cp,
      objectType: 'CHARGE',
      notificationType: 'STATE_CHANGE',
    });
  });

  it('buffers IPNs that arrive before the owner knows the charge permission id', async () => {
    const cp = newChargePermissionId();
    const owner = await startOwner(stack.temporal, stack.taskQueue);
    const ids = ipn(cp, 2);
    const waiting = await eventually(
      () => inboxView(stack.temporal, cp),
      (v) => v.waiting.length === 2,
    );
    expect(waiting).toMatchObject({ status: 'AwaitingOwner', ownerWorkflowId: null });
    expect((await owner.state()).received).toHaveLength(0);
    await owner.know(cp);
    const s = await eventually(owner.state, (st) => st.received.length === 2);
    expect(ownerReceived(s)).toEqual(ids);
    expect(await inboxView(stack.temporal, cp)).toMatchObject({
      status: 'Routing',
      waiting: [],
      counts: { received: 2, forwarded: 2 },
    });
    await recordHistory(
      stack.temporal.workflow.getHandle(notificationInboxWorkflowId(cp)),
      'inbox-buffered-then-routed',
    );
  });

  it('duplicates: each IPN delivered three times reaches the owner once', async () => {
    const cp = newChargePermissionId();
    const owner = await startOwner(stack.temporal, stack.taskQueue);
    await owner.know(cp);
    const before = sender.ipn.stats().delivered;
    sender.ipn.configure({ duplicateRate: 1, duplicateCopies: 2 });
    const ids = ipn(cp, 3);
    await sender.ipn.idle(20_000);
    expect(sender.ipn.stats().delivered - before).toBe(9);
    const view = await eventually(
      () => inboxView(stack.temporal, cp),
      (v) => v.counts.received + v.counts.duplicates === 9 && v.counts.forwarded === 3,
    );
    expect(view.counts).toMatchObject({ received: 3, duplicates: 6, forwarded: 3 });
    const s = await owner.state();
    expect(ownerReceived(s)).toEqual(ids);
    expect(s.duplicatesIgnored).toBe(0);
    await recordHistory(stack.temporal.workflow.getHandle(notificationInboxWorkflowId(cp)), 'inbox-duplicates');
  });

  it('routing costs no timer, no activity and no search attribute upsert: each IPN is its signal and one forward', async () => {
    const cp = newChargePermissionId();
    const owner = await startOwner(stack.temporal, stack.taskQueue);
    await owner.know(cp);
    await eventually(
      () => inboxView(stack.temporal, cp),
      (v) => v.ownerWorkflowId === owner.handle.workflowId,
    );
    ipn(cp, 4);
    await eventually(owner.state, (st) => st.received.length === 4);
    const inbox = stack.temporal.workflow.getHandle(notificationInboxWorkflowId(cp));
    const events = (await inbox.fetchHistory()).events ?? [];
    const attributes = events.flatMap((e) =>
      Object.keys(e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}),
    );
    // Before: a one-day owner check restarted after every IPN (a timer each), and Routing upserted.
    expect(events.filter((e) => e.timerStartedEventAttributes)).toHaveLength(0);
    expect(events.filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(0);
    expect(attributes.filter((k) => k !== 'TemporalChangeVersion')).toEqual([]);
    expect(events.filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes)).toHaveLength(4);
    expect((await inbox.describe()).searchAttributes.NotificationStatus).toBeUndefined();
    await owner.handle.signal(finishOwnerSignal);
    await owner.handle.result();
    await eventually(
      () => inboxView(stack.temporal, cp),
      (v) => v.ownerClosed,
    );
    await recordHistory(inbox, 'inbox-quiet-routing');
  });

  it('with owner checks configured, finds an owner terminated without saying so, with no IPN and one timer per check', async () => {
    const app = ipnRoutes({ inboxOptions: { ownerCheckIntervalMs: 1500 } });
    await using server = await serveApp(app);
    sender.ipn.configure({ url: `${server.url}${stack.ipnPath}` });
    const cp = newChargePermissionId();
    ipn(cp, 1); // starts the inbox with the check configured
    await eventually(
      () => inboxView(stack.temporal, cp),
      (v) => v.counts.received === 1,
    );
    const owner = await startOwner(stack.temporal, stack.taskQueue, { tellInboxOnClose: false });
    await owner.know(cp);
    await eventually(owner.state, (st) => st.received.length === 1);
    await owner.handle.terminate('test');
    const view = await eventually(
      () => inboxView(stack.temporal, cp),
      (v) => v.ownerClosed,
      30_000,
    );
    expect(view).toMatchObject({ status: 'OwnerClosed', counts: { forwarded: 1, late: 0 } });
    const events =
      (await stack.temporal.workflow.getHandle(notificationInboxWorkflowId(cp)).fetchHistory()).events ?? [];
    const checks = events.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'describeNotificationOwner',
    ).length;
    const ms = (d: { seconds?: unknown; nanos?: number | null }) =>
      Number(d.seconds ?? 0) * 1000 + (d.nanos ?? 0) / 1e6;
    const checkTimers = events.filter(
      (e) => e.timerStartedEventAttributes && ms(e.timerStartedEventAttributes.startToFireTimeout ?? {}) === 1500,
    ).length;
    expect(checks).toBeGreaterThanOrEqual(1);
    expect(checkTimers).toBe(checks);
  });

  it('reordering and delay: every IPN arrives exactly once, in whatever order', async () => {
    const cp = newChargePermissionId();
    const owner = await startOwner(stack.temporal, stack.taskQueue);
    await owner.know(cp);
    sender.ipn.configure({ reorderRate: 0.5, reorderHoldMs: 300, delayMs: 200 });
    const ids = ipn(cp, 6);
    const s = await eventually(owner.state, (st) => st.received.length === 6);
    expect(ownerReceived(s)).toEqual(ids);
  });

  it('records an IPN that arrives after the owner finished as late, without failing anything', async () => {
    const cp = newChargePermissionId();
    const owner = await startOwner(stack.temporal, stack.taskQueue);
    await owner.know(cp);
    await eventually(
      () => inboxView(stack.temporal, cp),
      (v) => v.ownerWorkflowId !== null,
    );
    await owner.handle.signal(finishOwnerSignal);
    await owner.handle.result();
    await eventually(
      () => inboxView(stack.temporal, cp),
      (v) => v.ownerClosed,
    );
    const [late] = ipn(cp, 1, 'CHARGE_PERMISSION');
    const view = await eventually(
      () => inboxView(stack.temporal, cp),
      (v) => v.counts.late === 1,
    );
    expect(view).toMatchObject({ status: 'Late', ownerWorkflowId: owner.handle.workflowId, ownerClosed: true });
    expect(view.late[0]?.notification.objectId).toBe(late);
    const inbox = await stack.temporal.workflow.getHandle(notificationInboxWorkflowId(cp)).describe();
    expect(inbox.status.name).toBe('RUNNING');
    expect(inbox.searchAttributes.NotificationStatus).toEqual(['Late']);
    await recordHistory(
      stack.temporal.workflow.getHandle(notificationInboxWorkflowId(cp)),
      'inbox-late-after-owner-closed',
    );
  });

  it('records as late when the owner ended without saying so (terminated)', async () => {
    const cp = newChargePermissionId();
    const owner = await startOwner(stack.temporal, stack.taskQueue, { tellInboxOnClose: false });
    await owner.know(cp);
    await eventually(
      () => inboxView(stack.temporal, cp),
      (v) => v.ownerWorkflowId !== null,
    );
    await owner.handle.terminate('test');
    ipn(cp, 1);
    const view = await eventually(
      () => inboxView(stack.temporal, cp),
      (v) => v.counts.late === 1,
    );
    expect(view).toMatchObject({ status: 'Late', ownerClosed: true, counts: { forwarded: 0 } });
  });

  it('loss: a lost IPN never reaches anyone, and nothing breaks', async () => {
    const cp = newChargePermissionId();
    const owner = await startOwner(stack.temporal, stack.taskQueue);
    await owner.know(cp);
    sender.ipn.configure({ lossRate: 1 });
    ipn(cp, 2);
    await sender.ipn.idle(5000);
    expect(sender.ipn.stats().droppedBy.loss).toBeGreaterThanOrEqual(2);
    expect((await owner.state()).received).toHaveLength(0);
  });
});

describe('IPNs nobody owns', () => {
  it('marks the inbox Unmatched after the wait (operators find it by search attribute) and still answers 2xx', async () => {
    const app = ipnRoutes({ inboxOptions: { unmatchedAfterMs: 1500 } });
    await using server = await serveApp(app);
    sender.ipn.configure({ url: `${server.url}${stack.ipnPath}` });
    const cp = newChargePermissionId();
    const before = sender.ipn.stats();
    ipn(cp, 1);
    await sender.ipn.idle(10_000);
    const after = sender.ipn.stats();
    expect(after.delivered - before.delivered).toBe(1);
    expect(after.failedAttempts).toBe(before.failedAttempts);
    await eventually(
      () => inboxView(stack.temporal, cp),
      (v) => v.status === 'Unmatched',
      30_000,
    );
    const listed = await eventually(
      async () => {
        const found: string[] = [];
        for await (const wf of stack.temporal.workflow.list({
          query: `NotificationStatus = 'Unmatched' AND WorkflowId = '${notificationInboxWorkflowId(cp)}'`,
        }))
          found.push(wf.workflowId);
        return found;
      },
      (f) => f.length === 1,
    );
    expect(listed).toEqual([notificationInboxWorkflowId(cp)]);
    // A late owner can still claim them.
    const owner = await startOwner(stack.temporal, stack.taskQueue);
    await owner.know(cp);
    const s = await eventually(owner.state, (st) => st.received.length === 1);
    expect(s.received[0]?.chargePermissionId).toBe(cp);
  });

  it('attributes an IPN arriving after the inbox ended to the closed owner (found by AmazonChargePermissionId)', async () => {
    const app = ipnRoutes({ inboxOptions: { unmatchedAfterMs: 1000, lingerAfterOwnerClosedMs: 500 } });
    await using server = await serveApp(app);
    sender.ipn.configure({ url: `${server.url}${stack.ipnPath}` });
    const cp = newChargePermissionId();
    ipn(cp, 1); // starts the inbox with the short options
    const owner = await startOwner(stack.temporal, stack.taskQueue);
    await owner.know(cp);
    await eventually(owner.state, (st) => st.received.length === 1);
    await owner.handle.signal(finishOwnerSignal);
    await owner.handle.result();
    const inbox = stack.temporal.workflow.getHandle(notificationInboxWorkflowId(cp));
    const ended = await inbox.result();
    expect(ended).toMatchObject({ endedBecause: 'ownerClosed', counts: { forwarded: 1 } });
    ipn(cp, 1, 'CHARGE_PERMISSION');
    const view = await eventually(
      () => inboxView(stack.temporal, cp),
      (v) => v.counts.late === 1,
      30_000,
    );
    expect(view).toMatchObject({ status: 'Late', ownerWorkflowId: owner.handle.workflowId });
  });
});

describe('Temporal unavailable', () => {
  it('answers 5xx while Temporal cannot be reached, and the SNS redelivery succeeds once it can', async () => {
    const deadConnection = Connection.lazy({ address: '127.0.0.1:1' });
    const dead = new Client({ connection: deadConnection, namespace: stack.namespace });
    let current = ipnRoutes({ temporal: dead, temporalTimeoutMs: 1000 });
    await using server = await serveApp({ fetch: (req: Request) => current.fetch(req) });
    sender.ipn.configure({ url: `${server.url}${stack.ipnPath}`, retryBaseMs: 300, retryMaxMs: 600 });
    const cp = newChargePermissionId();
    const owner = await startOwner(stack.temporal, stack.taskQueue);
    await owner.know(cp);
    const before = sender.ipn.stats().failedAttempts;
    const ids = ipn(cp, 1);
    await eventually(
      async () => sender.ipn.stats().failedAttempts,
      (n) => n >= before + 2,
      20_000,
    );
    const rec = sender.ipn.stats().recent.find((r) => r.chargePermissionId === cp);
    expect(rec?.lastStatus).toBe(503);
    current = ipnRoutes({ temporalTimeoutMs: 1000 });
    const s = await eventually(owner.state, (st) => st.received.length === 1, 20_000);
    expect(ownerReceived(s)).toEqual(ids);
    await deadConnection.close().catch(() => undefined);
    sender.ipn.configure({ retryBaseMs: 200, retryMaxMs: 2000 });
  });
});
