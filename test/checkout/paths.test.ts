import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { startTestStack, type TestStack } from '../support/stack';
import {
  cancelUpdate,
  captureUpdate,
  chargeUpdate,
  closeUpdate,
  completeUpdate,
  refundUpdate,
  setFinalAmountUpdate,
} from '../../workflows/checkout-messages';
import { amazonPayNotificationSignal, type AmazonPayNotification } from '../../workflows/notification-messages';
import {
  STORE_ID,
  buyerPays,
  countOf,
  finalAmount,
  hasStatus,
  openCheckout,
  paidCheckout,
  statusOf,
  usd,
  waitForStatus,
} from './helpers';
import { recordHistory } from './record';
import { AmazonChargePermissionId, CheckoutStatus } from '../../workflows/search-attributes';
import { subscriptionStatusQuery } from '../../workflows/subscription-messages';
import { randomUUID } from 'node:crypto';
import { checkoutWorkflowId } from '../../workflows/checkout-messages';
import type { checkoutWorkflow } from '../../workflows/checkout';

/** A buyer signed in at Amazon; no workflow yet. */
async function openCheckoutAtAmazon() {
  const session = await stack.amazonPay.createCheckoutSession(
    { storeId: STORE_ID, webCheckoutDetails: { checkoutReviewReturnUrl: 'https://shop.example/review' } },
    { idempotencyKey: randomUUID().replace(/-/g, '') },
  );
  await stack.admin.signIn(session.checkoutSessionId);
  return { checkoutSessionId: session.checkoutSessionId };
}

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    simulator: { delays: { pendingAuthorizationMs: 500, captureInitiatedMs: 500, refundMs: 300 } },
  });
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
});

const movements = (chargePermissionId: string) => stack.admin.moneyMovements({ chargePermissionId });

describe('checkout paths (dev server + simulator)', () => {
  it('Authorize, then capture, then close', async () => {
    const { handle, outcome } = await paidCheckout(stack, finalAmount('49.99', 'Authorize'));
    expect(outcome).toMatchObject({ completed: true, chargeState: 'Authorized', status: 'Authorized' });
    if (!outcome.completed) throw new Error('not completed');

    const captured = await handle.executeUpdate(captureUpdate, { args: [{}] });
    expect(captured).toMatchObject({ state: 'Captured', capturedAmount: usd('49.99') });

    // Close records the intent and answers at once; the order closes the permission (defect 3).
    const closing = await handle.executeUpdate(closeUpdate, { args: [{ reason: 'Shipped' }] });
    expect(closing).toMatchObject({ status: 'Closing', final: false });
    expect(await handle.result()).toMatchObject({ status: 'Closed', chargePermissionId: outcome.chargePermissionId });

    const cp = await stack.amazonPay.getChargePermission(outcome.chargePermissionId);
    expect(cp.statusDetails.state).toBe('Closed');
    const money = await movements(outcome.chargePermissionId);
    expect(money.totals).toMatchObject({ authorized: '49.99', captured: '49.99', outstandingAuthorization: '0.00' });
    expect(money.movements.filter((m) => m.kind === 'capture')).toHaveLength(1);

    const description = await handle.describe();
    expect(description.searchAttributes).toMatchObject({
      CheckoutStatus: ['Closed'],
      AmazonChargePermissionId: [outcome.chargePermissionId],
      AmazonChargeId: [outcome.chargeId],
    });
    await recordHistory(handle, 'authorize-capture-close');
  });

  it('AuthorizeWithCapture ends captured', async () => {
    const { handle, outcome } = await paidCheckout(stack, finalAmount('20.00', 'AuthorizeWithCapture'));
    expect(outcome).toMatchObject({ completed: true, chargeState: 'Captured', status: 'Captured' });
    if (!outcome.completed) throw new Error('not completed');
    expect((await movements(outcome.chargePermissionId)).totals).toMatchObject({
      captured: '20.00',
      outstandingAuthorization: '0.00',
    });
    expect(await statusOf(handle)).toMatchObject({ status: 'Captured', final: false });
    await handle.executeUpdate(closeUpdate, { args: [{}] });
    expect(await handle.result()).toMatchObject({ status: 'Closed' });
    await recordHistory(handle, 'authorize-with-capture');
  });

  it('Confirm leaves a Chargeable permission and no charge; the later charge is made once, then the order runs as usual', async () => {
    const { handle, outcome } = await paidCheckout(stack, finalAmount('15.00', 'Confirm'));
    expect(outcome).toMatchObject({ completed: true, chargeId: null, chargeState: null, status: 'Confirmed' });
    if (!outcome.completed) throw new Error('not completed');
    expect(await statusOf(handle)).toMatchObject({ status: 'Confirmed', final: false, charge: null });
    expect((await stack.amazonPay.getChargePermission(outcome.chargePermissionId)).statusDetails.state).toBe(
      'Chargeable',
    );
    expect((await movements(outcome.chargePermissionId)).movements).toHaveLength(0);

    const before = await countOf(stack, 'createCharge');
    const charged = await handle.executeUpdate(chargeUpdate, { args: [{ amount: usd('12.00'), requestId: 'ship-1' }] });
    expect(charged).toMatchObject({ state: 'Authorized', chargeAmount: usd('12.00') });
    // The same request again (no Temporal update id: as after continue-as-new) gets the same charge.
    expect(
      (await handle.executeUpdate(chargeUpdate, { args: [{ amount: usd('12.00'), requestId: 'ship-1' }] })).chargeId,
    ).toBe(charged.chargeId);
    const second = await handle
      .executeUpdate(chargeUpdate, { args: [{ requestId: 'ship-2' }] })
      .catch((e: unknown) => e);
    expect((second as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'InvalidChargePermissionStatus' });
    expect((await countOf(stack, 'createCharge')) - before).toBe(1);

    await handle.executeUpdate(captureUpdate, { args: [{}] });
    expect((await movements(outcome.chargePermissionId)).totals).toMatchObject({ captured: '12.00' });
    await handle.executeUpdate(closeUpdate, { args: [{}] });
    expect(await handle.result()).toMatchObject({
      status: 'Closed',
      final: true,
      charge: { chargeId: charged.chargeId, state: 'Captured' },
    });
    await recordHistory(handle, 'confirm-then-charge');
  });

  it(
    'close answers at once while Amazon fails every request; the order closes once Amazon is back',
    { timeout: 120_000 },
    async () => {
      // Authorize: closing must reach Amazon (a fully captured OneTime permission is closed by Amazon
      // itself, so its close needs no call and would not show the failing Amazon).
      const { handle, outcome } = await paidCheckout(stack, finalAmount('18.00', 'Authorize'));
      if (!outcome.completed) throw new Error('not completed');
      await stack.admin.setFaults({ errorRate: 1 });
      try {
        // Before: the close update waited for the order to be final, so it hung while the close call failed.
        expect(await handle.executeUpdate(closeUpdate, { args: [{ reason: 'Shipped' }] })).toMatchObject({
          status: 'Closing',
          final: false,
        });
        expect(await handle.executeUpdate(closeUpdate, { args: [{}] })).toMatchObject({ status: 'Closing' }); // repeated: harmless
        const described = await handle.describe();
        expect(described.searchAttributes?.CheckoutStatus).toEqual(['Closing']);
      } finally {
        await stack.admin.setFaults({ errorRate: 0 });
      }
      expect(await handle.result()).toMatchObject({ status: 'Closed', final: true });
      expect((await stack.amazonPay.getChargePermission(outcome.chargePermissionId)).statusDetails.state).toBe(
        'Closed',
      );
    },
  );

  it('Confirm completed at Amazon outside our amount step: a charge without an amount is refused as ChargeAmountNotSet (409), one with an amount charges', async () => {
    // Another system set the amount and completed the session; the workflow learns it from its first read.
    const { checkoutSessionId } = await openCheckoutAtAmazon();
    const session = await stack.amazonPay.updateCheckoutSession(checkoutSessionId, {
      webCheckoutDetails: { checkoutResultReturnUrl: 'https://shop.example/result' },
      paymentDetails: { paymentIntent: 'Confirm', canHandlePendingAuthorization: false, chargeAmount: usd('30.00') },
    });
    await stack.admin.pay(session.webCheckoutDetails!.amazonPayRedirectUrl!, 'happy');
    await stack.amazonPay.completeCheckoutSession(
      checkoutSessionId,
      { chargeAmount: usd('30.00') },
      { idempotencyKey: randomUUID().replace(/-/g, '') },
    );
    const handle = await stack.temporal.workflow.start<typeof checkoutWorkflow>('checkoutWorkflow', {
      workflowId: checkoutWorkflowId(checkoutSessionId),
      taskQueue: stack.taskQueue,
      args: [{ checkoutSessionId }],
    });
    // The status reads Confirmed a moment before the completion is recorded (the permission is read in between).
    await waitForStatus(handle, (st) => st.status === 'Confirmed' && st.completion?.completed === true);

    // Before: the validator dereferenced the missing final amount and every charge failed as a TypeError.
    const refused = await handle
      .executeUpdate(chargeUpdate, { args: [{ requestId: 'no-amount' }] })
      .catch((e: unknown) => e);
    expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({
      type: 'ChargeAmountNotSet',
      message: expect.stringMatching(/send the amount/),
    });
    const charged = await handle.executeUpdate(chargeUpdate, {
      args: [{ amount: usd('30.00'), requestId: 'with-amount' }],
    });
    expect(charged).toMatchObject({ state: 'Authorized', chargeAmount: usd('30.00') });
    await handle.terminate('test done');
  });

  it('a recurring checkout completed outside our amount step hands its permission to one subscription and ends', async () => {
    // A recurring permission set up outside our amount step (the workflow learns it from its first read).
    const created = await stack.amazonPay.createCheckoutSession(
      {
        storeId: STORE_ID,
        webCheckoutDetails: { checkoutReviewReturnUrl: 'https://shop.example/review' },
        chargePermissionType: 'Recurring',
        recurringMetadata: { frequency: { unit: 'Month', value: '1' }, amount: usd('14.00') },
      },
      { idempotencyKey: randomUUID().replace(/-/g, '') },
    );
    const checkoutSessionId = created.checkoutSessionId;
    await stack.admin.signIn(checkoutSessionId);
    const session = await stack.amazonPay.updateCheckoutSession(checkoutSessionId, {
      webCheckoutDetails: { checkoutResultReturnUrl: 'https://shop.example/result' },
      paymentDetails: { paymentIntent: 'Confirm', chargeAmount: usd('14.00') },
    });
    await stack.admin.pay(session.webCheckoutDetails!.amazonPayRedirectUrl!, 'happy');
    await stack.amazonPay.completeCheckoutSession(
      checkoutSessionId,
      { chargeAmount: usd('14.00') },
      { idempotencyKey: randomUUID().replace(/-/g, '') },
    );
    const handle = await stack.temporal.workflow.start<typeof checkoutWorkflow>('checkoutWorkflow', {
      workflowId: checkoutWorkflowId(checkoutSessionId),
      taskQueue: stack.taskQueue,
      args: [{ checkoutSessionId }],
    });
    const ended = await handle.result();
    expect(ended).toMatchObject({
      status: 'Confirmed',
      final: true,
      subscriptionId: `subscription-${ended.chargePermissionId}`,
    });
    const subscription = stack.temporal.workflow.getHandle(ended.subscriptionId!);
    expect(await subscription.query(subscriptionStatusQuery)).toMatchObject({
      status: 'trialing',
      plan: { unit: 'Month', value: 1, amount: usd('14.00') },
      checkoutSessionId,
    });
    // A charge through the ended checkout is refused; the subscription owns the permission now.
    await expect(
      handle.executeUpdate(chargeUpdate, { args: [{ amount: usd('14.00'), captureNow: true, requestId: 'late' }] }),
    ).rejects.toThrow();
    expect((await movements(ended.chargePermissionId!)).movements).toHaveLength(0);
    await subscription.terminate('test done');
  });

  it('Confirm, then close without charging: the permission is closed and nothing moved', async () => {
    const { handle, outcome } = await paidCheckout(stack, finalAmount('9.00', 'Confirm'));
    if (!outcome.completed) throw new Error('not completed');
    await handle.executeUpdate(closeUpdate, { args: [{ reason: 'Order withdrawn' }] });
    expect(await handle.result()).toMatchObject({ status: 'Closed', final: true, charge: null });
    expect((await stack.amazonPay.getChargePermission(outcome.chargePermissionId)).statusDetails.state).toBe('Closed');
    expect((await movements(outcome.chargePermissionId)).movements).toHaveLength(0);
    const late = await handle
      .executeUpdate(chargeUpdate, { args: [{ requestId: 'late-charge' }] })
      .catch((e: unknown) => e);
    expect(late).toBeInstanceOf(Error);
  });

  it('Confirm: a permission closed at Amazon behind our back ends the order once its IPN arrives', async () => {
    const { handle, outcome } = await paidCheckout(stack, finalAmount('11.00', 'Confirm'));
    if (!outcome.completed) throw new Error('not completed');
    await stack.amazonPay.closeChargePermission(outcome.chargePermissionId, {
      closureReason: 'closed in Seller Central',
      cancelPendingCharges: false,
    });
    expect(await handle.result()).toMatchObject({ status: 'Closed', final: true, charge: null });
  });

  it('partial capture captures only what was asked and releases the rest', async () => {
    const { handle, outcome } = await paidCheckout(stack, finalAmount('50.00', 'Authorize'));
    if (!outcome.completed) throw new Error('not completed');
    await expect(handle.executeUpdate(captureUpdate, { args: [{ amount: usd('60.00') }] })).rejects.toThrow(
      WorkflowUpdateFailedError,
    );
    const captured = await handle.executeUpdate(captureUpdate, { args: [{ amount: usd('30.00') }] });
    expect(captured).toMatchObject({ state: 'Captured', capturedAmount: usd('30.00'), chargeAmount: usd('50.00') });
    const totals = (await movements(outcome.chargePermissionId)).totals;
    expect(totals).toMatchObject({ authorized: '50.00', captured: '30.00', outstandingAuthorization: '0.00' });
    // A second capture on the same charge is refused by the workflow, not sent to Amazon.
    const captures = await countOf(stack, 'captureCharge');
    await expect(handle.executeUpdate(captureUpdate, { args: [{ amount: usd('20.00') }] })).rejects.toThrow(
      WorkflowUpdateFailedError,
    );
    expect(await countOf(stack, 'captureCharge')).toBe(captures);
    await handle.executeUpdate(closeUpdate, { args: [{}] });
  });

  it('cancel releases the authorization and ends Canceled', async () => {
    const { handle, outcome } = await paidCheckout(stack, finalAmount('12.00', 'Authorize'));
    if (!outcome.completed) throw new Error('not completed');
    const canceled = await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'Out of stock' }] });
    expect(canceled).toMatchObject({ state: 'Canceled', reasonCode: 'MerchantCanceled' });
    expect(await handle.result()).toMatchObject({
      status: 'Canceled',
      final: true,
      lastReasonCode: 'MerchantCanceled',
    });
    expect((await movements(outcome.chargePermissionId)).totals).toMatchObject({
      captured: '0.00',
      outstandingAuthorization: '0.00',
    });
    expect((await stack.amazonPay.getChargePermission(outcome.chargePermissionId)).statusDetails.state).toBe('Closed');
    await recordHistory(handle, 'cancel');
  });

  it('a decline at Amazon ends Declined without money moving', async () => {
    const { handle, checkoutSessionId, outcome } = await paidCheckout(
      stack,
      finalAmount('33.00', 'Authorize'),
      'declinedAtAmazon',
    );
    expect(outcome).toMatchObject({ completed: false, status: 'Declined', reasonCode: 'Declined' });
    expect(await handle.result()).toMatchObject({ status: 'Declined', final: true, chargePermissionId: null });
    expect((await stack.admin.moneyMovements({ checkoutSessionId })).movements).toHaveLength(0);
    await recordHistory(handle, 'declined-at-amazon');
  });

  it('a buyer who cancels at Amazon ends BuyerCanceled', async () => {
    const { handle, checkoutSessionId, outcome } = await paidCheckout(
      stack,
      finalAmount('33.00', 'Authorize'),
      'buyerCancel',
    );
    expect(outcome).toMatchObject({ completed: false, status: 'BuyerCanceled', reasonCode: 'BuyerCanceled' });
    expect(await handle.result()).toMatchObject({ status: 'BuyerCanceled', final: true });
    expect((await stack.admin.moneyMovements({ checkoutSessionId })).movements).toHaveLength(0);
  });

  it('double and concurrent completes get one answer from one Complete call', async () => {
    const { handle } = await openCheckout(stack);
    await buyerPays(stack, handle, finalAmount('25.00', 'Authorize'), 'happy');
    const before = await countOf(stack, 'completeCheckoutSession');
    const concurrent = await Promise.all([1, 2, 3].map(() => handle.executeUpdate(completeUpdate)));
    const again = await handle.executeUpdate(completeUpdate);
    expect(await countOf(stack, 'completeCheckoutSession')).toBe(before + 1);
    for (const o of [...concurrent, again]) expect(o).toEqual(concurrent[0]);
    expect(concurrent[0]).toMatchObject({ completed: true, status: 'Authorized' });
    // After completion the amount can no longer change.
    await expect(
      handle.executeUpdate(setFinalAmountUpdate, { args: [finalAmount('1.00', 'Authorize')] }),
    ).rejects.toThrow(WorkflowUpdateFailedError);
    await handle.executeUpdate(cancelUpdate, { args: [{}] });
    await handle.result();
  });

  it('a second setFinalAmount before completion re-updates the session; the buyer pays the last amount', async () => {
    const { handle } = await openCheckout(stack);
    await handle.executeUpdate(setFinalAmountUpdate, { args: [finalAmount('10.00', 'AuthorizeWithCapture')] });
    await buyerPays(stack, handle, finalAmount('12.50', 'AuthorizeWithCapture'), 'happy');
    const outcome = await handle.executeUpdate(completeUpdate);
    if (!outcome.completed) throw new Error('not completed');
    expect((await movements(outcome.chargePermissionId)).totals).toMatchObject({ captured: '12.50' });
    await handle.executeUpdate(closeUpdate, { args: [{}] });
  });

  it('an amount changed behind the workflow after the redirect is reported as AmountMismatch, never charged or crashed', async () => {
    const { handle, checkoutSessionId } = await openCheckout(stack);
    const { amazonPayRedirectUrl } = await handle.executeUpdate(setFinalAmountUpdate, {
      args: [finalAmount('40.00', 'AuthorizeWithCapture')],
    });
    // Another process (a second tab, a tax recalculation) changes the amount at Amazon.
    await stack.amazonPay.updateCheckoutSession(checkoutSessionId, { paymentDetails: { chargeAmount: usd('44.00') } });
    await stack.admin.pay(amazonPayRedirectUrl, 'happy');
    const failure = await handle.executeUpdate(completeUpdate).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((failure as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'AmountMismatch' });
    const status = await statusOf(handle);
    expect(status).toMatchObject({ status: 'AwaitingCompletion', final: false, lastReasonCode: 'AmountMismatch' });
    expect((failure as WorkflowUpdateFailedError).cause?.message).toMatch(/approved 44.00 USD .* 40.00 USD/);
    expect((await stack.admin.moneyMovements({ checkoutSessionId })).totals).toMatchObject({ captured: '0.00' });
    await handle.terminate('test done');
  });

  it('refunds: partial, several, a declined one, and one over the limit refused before calling Amazon', async () => {
    const { handle, outcome } = await paidCheckout(stack, finalAmount('100.00', 'AuthorizeWithCapture'));
    if (!outcome.completed) throw new Error('not completed');
    const first = await handle.executeUpdate(refundUpdate, { args: [{ amount: usd('30.00'), requestId: 'refund-1' }] });
    expect(first).toMatchObject({ number: 1, state: 'RefundInitiated' });
    await waitForStatus(handle, (s) => s.refunds[0]?.state === 'Refunded');

    const original = stack.amazonPay.createRefund.bind(stack.amazonPay);
    stack.amazonPay.createRefund = (body, opts) => original(body, { ...opts, simulationCode: 'RefundDeclined' });
    try {
      await handle.executeUpdate(refundUpdate, { args: [{ amount: usd('5.00'), requestId: 'refund-2' }] });
    } finally {
      stack.amazonPay.createRefund = original;
    }
    let status = await waitForStatus(handle, (s) => s.refunds[1]?.state === 'Declined');
    expect(status.refunds[1]).toMatchObject({ number: 2, state: 'Declined', reasonCode: 'AmazonRejected' });

    // 30 refunded; at most 100 + min(15 %, 75) = 115 in total: 90 more is refused by the workflow itself.
    const calls = await countOf(stack, 'createRefund');
    const refused = await handle
      .executeUpdate(refundUpdate, { args: [{ amount: usd('90.00'), requestId: 'refund-3' }] })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'TransactionAmountExceeded' });
    expect(await countOf(stack, 'createRefund')).toBe(calls);

    await handle.executeUpdate(refundUpdate, { args: [{ amount: usd('70.00'), requestId: 'refund-4' }] });
    status = await waitForStatus(handle, (s) => s.refunds[2]?.state === 'Refunded');
    expect(status.refunds.map((r) => [r.number, r.state])).toEqual([
      [1, 'Refunded'],
      [2, 'Declined'],
      [3, 'Refunded'],
    ]);
    expect((await movements(outcome.chargePermissionId)).totals).toMatchObject({
      captured: '100.00',
      refunded: '100.00',
      net: '0.00',
    });
    await handle.executeUpdate(closeUpdate, { args: [{}] });
    expect(await handle.result()).toMatchObject({ status: 'Closed' });
    await recordHistory(handle, 'refunds');
  });

  it('a pending authorization is resolved by the IPN, long before the first poll', async () => {
    const started = Date.now();
    const amount = finalAmount('18.00', 'Authorize', { canHandlePendingAuthorization: true });
    const { handle, outcome } = await paidCheckout(stack, amount, 'pendingThenAuthorized');
    expect(outcome).toMatchObject({
      completed: true,
      chargeState: 'AuthorizationInitiated',
      status: 'AuthorizationPending',
    });
    const getsBefore = await countOf(stack, 'getCharge');
    await waitForStatus(handle, hasStatus('Authorized'), { timeoutMs: 20_000 });
    expect(Date.now() - started).toBeLessThan(25_000);
    // Only the GET the notification triggered (the IPN carries no state), no poll.
    expect((await countOf(stack, 'getCharge')) - getsBefore).toBeLessThanOrEqual(2);
    await handle.executeUpdate(captureUpdate, { args: [{}] });
    await handle.executeUpdate(closeUpdate, { args: [{}] });
    expect(await handle.result()).toMatchObject({ status: 'Closed' });
    await recordHistory(handle, 'pending-authorization-ipn');
  });

  it('a pending authorization that is declined ends Declined', async () => {
    const amount = finalAmount('18.00', 'Authorize', { canHandlePendingAuthorization: true });
    const { handle, outcome } = await paidCheckout(stack, amount, 'pendingThenDeclined');
    expect(outcome).toMatchObject({ completed: true, status: 'AuthorizationPending' });
    expect(await handle.result()).toMatchObject({ status: 'Declined', final: true, lastReasonCode: 'HardDeclined' });
  });

  it('a session completed behind our back (a cron sweep): the 422 leads to a GET and the order is kept, never canceled', async () => {
    const { handle, checkoutSessionId } = await openCheckout(stack);
    const amount = finalAmount('27.00', 'Authorize');
    // Completing before the buyer paid is refused by Amazon (422) and reported; nothing is canceled.
    await handle.executeUpdate(setFinalAmountUpdate, { args: [amount] });
    const early = await handle.executeUpdate(completeUpdate).catch((e: unknown) => e);
    expect((early as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'InvalidCheckoutSessionStatus' });
    expect(await statusOf(handle)).toMatchObject({ status: 'AwaitingCompletion', final: false });

    await buyerPays(stack, handle, amount, 'happy');
    await stack.amazonPay.completeCheckoutSession(
      checkoutSessionId,
      { chargeAmount: amount.chargeAmount },
      { idempotencyKey: 'cronsweep' + checkoutSessionId.slice(0, 20).replace(/-/g, '') },
    );
    const cancels = await countOf(stack, 'cancelCharge');
    const outcome = await handle.executeUpdate(completeUpdate);
    expect(outcome).toMatchObject({ completed: true, status: 'Authorized', chargeState: 'Authorized' });
    expect(await countOf(stack, 'cancelCharge')).toBe(cancels);
    if (!outcome.completed) throw new Error('not completed');
    expect((await movements(outcome.chargePermissionId)).totals).toMatchObject({
      authorized: '27.00',
      outstandingAuthorization: '27.00',
    });
    await handle.executeUpdate(captureUpdate, { args: [{}] });
    await handle.executeUpdate(closeUpdate, { args: [{}] });
    expect(await handle.result()).toMatchObject({ status: 'Closed' });
  });

  it('notifications are deduplicated, unknown objects ignored, and a stale read never rolls a charge back', async () => {
    // Only the notifications this test sends reach the workflow.
    stack.simulator.configureIpn({ lossRate: 1 });
    const { handle, outcome } = await paidCheckout(stack, finalAmount('16.00', 'Authorize')).finally(() =>
      stack.simulator.configureIpn({ lossRate: 0 }),
    );
    if (!outcome.completed || !outcome.chargeId) throw new Error('not completed');
    const notification = (messageId: string, objectId = outcome.chargeId!): AmazonPayNotification => ({
      messageId,
      notificationId: `n-${messageId}`,
      objectType: 'CHARGE',
      objectId,
      chargePermissionId: outcome.chargePermissionId,
      notificationType: 'STATE_CHANGE',
      receivedAt: new Date().toISOString(),
    });

    // A replica answering with an older state, like an out-of-order or late IPN would suggest.
    const original = stack.amazonPay.getCharge.bind(stack.amazonPay);
    let staleReads = 0;
    stack.amazonPay.getCharge = async (id) => {
      const charge = await original(id);
      staleReads++;
      return { ...charge, statusDetails: { ...charge.statusDetails, state: 'AuthorizationInitiated' } };
    };
    try {
      // The charge's creation notice tells nothing complete's read did not: it is not read.
      await handle.signal(amazonPayNotificationSignal, notification('creation-1'));
      for (let i = 0; i < 3; i++) await handle.signal(amazonPayNotificationSignal, notification('late-1'));
      await handle.signal(
        amazonPayNotificationSignal,
        notification('unknown-1', `${outcome.chargePermissionId}-C9999999`),
      );
      const deadline = Date.now() + 10_000;
      while (staleReads === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      stack.amazonPay.getCharge = original;
    }
    expect(staleReads).toBe(1);
    expect(await statusOf(handle)).toMatchObject({
      status: 'Authorized',
      charge: { state: 'Authorized' },
      final: false,
    });
    await handle.executeUpdate(cancelUpdate, { args: [{}] });
    expect(await handle.result()).toMatchObject({ status: 'Canceled', charge: { state: 'Canceled' } });
  });

  it('a long-lived order continues as new without losing its state', async () => {
    const { handle, outcome } = await paidCheckout(stack, finalAmount('40.00', 'AuthorizeWithCapture'), 'happy', {
      historyLimit: 30,
    });
    if (!outcome.completed) throw new Error('not completed');
    await handle.executeUpdate(refundUpdate, { args: [{ amount: usd('15.00'), requestId: 'refund-1' }] });
    await waitForStatus(handle, (s) => s.refunds[0]?.state === 'Refunded');
    await handle.executeUpdate(refundUpdate, { args: [{ amount: usd('5.00'), requestId: 'refund-2' }] });
    const status = await waitForStatus(handle, (s) => s.refunds[1]?.state === 'Refunded');
    expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId);
    expect(status).toMatchObject({
      status: 'Captured',
      chargePermissionId: outcome.chargePermissionId,
      charge: { chargeId: outcome.chargeId },
    });
    expect(status.refunds.map((r) => r.number)).toEqual([1, 2]);
    // The new run still answers the operators' queries: its search attributes came along.
    const attributes = (await handle.describe()).typedSearchAttributes;
    expect(attributes.get(CheckoutStatus)).toBe('Captured');
    expect(attributes.get(AmazonChargePermissionId)).toBe(outcome.chargePermissionId);
    await handle.executeUpdate(closeUpdate, { args: [{}] });
    expect(await handle.result()).toMatchObject({ status: 'Closed', refunds: [{ number: 1 }, { number: 2 }] });
    expect((await movements(outcome.chargePermissionId)).totals).toMatchObject({ refunded: '20.00', net: '20.00' });
  });
});
