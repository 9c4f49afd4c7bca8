import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { startTestStack, type TestStack } from '../support/stack';
import {
  cancelUpdate,
  captureUpdate,
  closeUpdate,
  completeUpdate,
  refundUpdate,
  setFinalAmountUpdate,
} from '../../workflows/checkout-messages';
import { buyerPays, countOf, finalAmount, hasStatus, openCheckout, paidCheckout, statusOf, usd, waitForStatus } from './helpers';
import { recordHistory } from './record';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ simulator: { delays: { pendingAuthorizationMs: 500, captureInitiatedMs: 500, refundMs: 300 } } });
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

    const closed = await handle.executeUpdate(closeUpdate, { args: [{ reason: 'Shipped' }] });
    expect(closed).toMatchObject({ status: 'Closed', final: true });
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
});
