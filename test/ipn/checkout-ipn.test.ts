// IPN faults against the real checkout workflow: the simulator's own IPN delivery to our API,
// the inbox routing to checkout-<sessionId>, the checkout GETting the charge. IPNs are hints:
// losing them all or delivering them late changes only how fast the checkout learns, never what.
import { describe, expect, it } from 'vitest';
import type { IpnStats } from '../../simulator/ipn';
import { notificationInboxWorkflowId } from '../../workflows/notifications';
import { startTestStack } from '../support/stack';
import { countOf, finalAmount, hasStatus, paidCheckout, statusOf, waitForStatus } from '../checkout/helpers';
import { eventually, inboxView } from './support';

const simulatorDelays = { delays: { pendingAuthorizationMs: 500, captureInitiatedMs: 500, refundMs: 300 } };
const ipnStats = async (stack: { admin: { ipnStats(): Promise<unknown> } }) =>
  (await stack.admin.ipnStats()) as IpnStats;

describe.concurrent('checkout and IPN faults', () => {
  it('duplicates: each IPN delivered three times; the checkout acts once', async () => {
    await using stack = await startTestStack({ simulator: simulatorDelays });
    stack.simulator.configureIpn({ duplicateRate: 1, duplicateCopies: 2 });
    const amount = finalAmount('18.00', 'Authorize', { canHandlePendingAuthorization: true });
    const { handle, outcome } = await paidCheckout(stack, amount, 'pendingThenAuthorized');
    expect(outcome).toMatchObject({ completed: true, status: 'AuthorizationPending' });
    const cp = outcome.completed ? outcome.chargePermissionId : '';
    const getsBefore = await countOf(stack, 'getCharge');
    await waitForStatus(handle, hasStatus('Authorized'), { timeoutMs: 20_000 });
    const stats = await eventually(
      () => ipnStats(stack),
      (s) => s.pending === 0 && s.delivered >= 3,
    );
    expect(stats.delivered).toBe(stats.sent * 3);
    const view = await inboxView(stack.temporal, cp);
    expect(view.counts.duplicates).toBe(view.counts.received * 2);
    // One GET per distinct notification at most, not one per delivery.
    expect((await countOf(stack, 'getCharge')) - getsBefore).toBeLessThanOrEqual(view.counts.received + 1);
  });

  it('loss of every IPN: the fallback poll alone finishes the pending authorization', async () => {
    await using stack = await startTestStack({ simulator: simulatorDelays });
    stack.simulator.configureIpn({ lossRate: 1 });
    const started = Date.now();
    const amount = finalAmount('18.00', 'Authorize', { canHandlePendingAuthorization: true });
    const { handle, outcome } = await paidCheckout(stack, amount, 'pendingThenAuthorized');
    expect(outcome).toMatchObject({ completed: true, status: 'AuthorizationPending' });
    const cp = outcome.completed ? outcome.chargePermissionId : '';
    const s = await waitForStatus(handle, hasStatus('Authorized'), { timeoutMs: 90_000, intervalMs: 500 });
    expect(s.charge?.state).toBe('Authorized');
    // The poll found it, not an IPN: none was delivered.
    expect(Date.now() - started).toBeGreaterThan(20_000);
    const stats = await ipnStats(stack);
    expect(stats.delivered).toBe(0);
    expect(stats.droppedBy.loss).toBeGreaterThan(0);
    // The owner registered; its inbox saw nothing.
    expect(await inboxView(stack.temporal, cp)).toMatchObject({
      ownerWorkflowId: handle.workflowId,
      counts: { received: 0 },
    });
  });

  it('delay past the workflow poll: the late IPN changes nothing', async () => {
    await using stack = await startTestStack({ simulator: simulatorDelays });
    stack.simulator.configureIpn({ delayMs: 45_000 });
    const amount = finalAmount('18.00', 'Authorize', { canHandlePendingAuthorization: true });
    const { handle, outcome } = await paidCheckout(stack, amount, 'pendingThenAuthorized');
    const cp = outcome.completed ? outcome.chargePermissionId : '';
    const polled = await waitForStatus(handle, hasStatus('Authorized'), { timeoutMs: 90_000, intervalMs: 500 });
    expect((await ipnStats(stack)).delivered).toBe(0);
    const view = await eventually(
      () => inboxView(stack.temporal, cp),
      (v) => v.counts.forwarded >= 1,
      90_000,
    );
    expect(view.ownerWorkflowId).toBe(handle.workflowId);
    await new Promise((r) => setTimeout(r, 1000));
    const after = await statusOf(handle);
    expect(after.status).toBe('Authorized');
    expect(after.charge).toEqual(polled.charge);
    expect((await stack.temporal.workflow.getHandle(notificationInboxWorkflowId(cp)).describe()).status.name).toBe(
      'RUNNING',
    );
  });
});
