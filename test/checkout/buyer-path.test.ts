// The buyer waits for review, amount and complete (issue 8, defect 9): their Amazon calls retry
// quickly within a bounded budget. Under heavy 5xx they still answer; once the budget is used up
// the API answers 503 with Retry-After, nothing has changed, and the same request succeeds later.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AmazonPayError } from '../../amazon-pay';
import { startTestStack, type TestStack } from '../support/stack';
import {
  checkoutWorkflowId,
  completeUpdate,
  reviewUpdate,
  setFinalAmountUpdate,
  type CheckoutStatus,
} from '../../workflows/checkout-messages';
import type { checkoutWorkflow } from '../../workflows/checkout';
import { STORE_ID, countOf, finalAmount, openCheckout, statusOf, waitForStatus } from './helpers';

/**
 * The simulator's fault dice, loaded: with errorRate 0.5 exactly two of every three Amazon requests
 * fail (500/503), in the order they arrive. (It draws once per request, and once more to pick the
 * status of a failure.)
 */
function twoOfThreeFail(): () => number {
  const draws: number[] = [];
  let request = 0;
  return () => {
    if (draws.length === 0) draws.push(...(request++ % 3 === 2 ? [0.9] : [0.1, 0.9]));
    return draws.shift()!;
  };
}

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ simulator: { random: twoOfThreeFail() } });
});
afterEach(async () => {
  await stack.admin.setFaults({ errorRate: 0 });
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
});

function api(method: string, path: string, body?: unknown) {
  return stack.app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${stack.apiKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function expectRetryLater(res: Response): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBe(503);
  expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
  expect((JSON.parse(text) as { error: { code: string } }).error.code).toBe('AmazonPayUnavailable');
}

const apiStatus = async (checkoutSessionId: string) =>
  (await (await api('GET', `/v1/checkouts/${checkoutSessionId}`)).json()) as CheckoutStatus;

describe("the buyer's path under Amazon failures", () => {
  it('two of every three Amazon requests fail: review, amount and complete still answer', async () => {
    const session = await stack.amazonPay.createCheckoutSession(
      { storeId: STORE_ID, webCheckoutDetails: { checkoutReviewReturnUrl: 'https://shop.example/review' } },
      { idempotencyKey: randomUUID().replace(/-/g, '') },
    );
    await stack.admin.signIn(session.checkoutSessionId);
    const before = {
      get: await countOf(stack, 'getCheckoutSession'),
      update: await countOf(stack, 'updateCheckoutSession'),
      complete: await countOf(stack, 'completeCheckoutSession'),
    };
    await stack.admin.setFaults({ errorRate: 0.5 });
    const handle = await stack.temporal.workflow.start<typeof checkoutWorkflow>('checkoutWorkflow', {
      workflowId: checkoutWorkflowId(session.checkoutSessionId),
      taskQueue: stack.taskQueue,
      args: [{ checkoutSessionId: session.checkoutSessionId }],
    });
    expect(await handle.executeUpdate(reviewUpdate)).toMatchObject({ state: 'Open', buyer: expect.anything() });
    const { amazonPayRedirectUrl } = await handle.executeUpdate(setFinalAmountUpdate, {
      args: [finalAmount('21.00', 'Authorize')],
    });
    await stack.admin.pay(amazonPayRedirectUrl, 'happy');
    expect(await handle.executeUpdate(completeUpdate)).toMatchObject({ completed: true, chargeState: 'Authorized' });
    await stack.admin.setFaults({ errorRate: 0 });
    // The faults bit: every one of these steps needed more than one request.
    expect((await countOf(stack, 'updateCheckoutSession')) - before.update).toBeGreaterThan(1);
    expect((await countOf(stack, 'completeCheckoutSession')) - before.complete).toBeGreaterThan(1);
    expect((await countOf(stack, 'getCheckoutSession')) - before.get).toBeGreaterThan(1);
    await handle.terminate('test done');
  });

  it('amount, once the budget is used up: 503 with Retry-After, nothing changed, and the same request succeeds later', async () => {
    const { checkoutSessionId } = await openCheckout(stack);
    const body = { ...finalAmount('30.00', 'Authorize') };
    await stack.admin.setFaults({ errorRate: 1 });
    // Before, the call retried for up to an hour: the API answered 504 after its 30 s wait.
    await expectRetryLater(await api('POST', `/v1/checkouts/${checkoutSessionId}/amount`, body));
    expect(await apiStatus(checkoutSessionId)).toMatchObject({ status: 'AwaitingBuyer', chargeAmount: null });
    await stack.admin.setFaults({ errorRate: 0 });
    const res = await api('POST', `/v1/checkouts/${checkoutSessionId}/amount`, body);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ amazonPayRedirectUrl: expect.stringContaining(checkoutSessionId) });
  });

  it('complete, once the budget is used up: 503 with Retry-After, the checkout still awaits completion, and a retry completes it once', async () => {
    const { checkoutSessionId, handle } = await openCheckout(stack);
    const { amazonPayRedirectUrl } = await handle.executeUpdate(setFinalAmountUpdate, {
      args: [finalAmount('40.00', 'AuthorizeWithCapture')],
    });
    await stack.admin.pay(amazonPayRedirectUrl, 'happy');
    await stack.admin.setFaults({ errorRate: 1 });
    await expectRetryLater(await api('POST', `/v1/checkouts/${checkoutSessionId}/complete`));
    expect(await apiStatus(checkoutSessionId)).toMatchObject({
      status: 'AwaitingCompletion',
      completion: null,
      final: false,
    });
    await stack.admin.setFaults({ errorRate: 0 });
    const res = await api('POST', `/v1/checkouts/${checkoutSessionId}/complete`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ completed: true, chargeState: 'Captured' });
    expect((await stack.admin.moneyMovements({ checkoutSessionId })).totals).toMatchObject({
      authorized: '40.00',
      captured: '40.00',
    });
    await handle.terminate('test done');
  });

  it('a complete that reached Amazon but whose answer could not be read is not lost: the workflow learns it on its own', async () => {
    const { checkoutSessionId, handle } = await openCheckout(stack);
    const { amazonPayRedirectUrl } = await handle.executeUpdate(setFinalAmountUpdate, {
      args: [finalAmount('25.00', 'Authorize')],
    });
    await stack.admin.pay(amazonPayRedirectUrl, 'happy');
    // Complete goes through at Amazon; every read of the charge fails until we stop it.
    const original = stack.amazonPay.getCharge.bind(stack.amazonPay);
    let failing = true;
    stack.amazonPay.getCharge = async (id) => {
      if (failing)
        throw new AmazonPayError({
          status: 503,
          reasonCode: 'ServiceUnavailable',
          message: 'simulated outage',
          retryable: true,
        });
      return original(id);
    };
    try {
      await expectRetryLater(await api('POST', `/v1/checkouts/${checkoutSessionId}/complete`));
      expect(await statusOf(handle)).toMatchObject({ status: 'AwaitingCompletion', completion: null });
      failing = false;
      // Nobody retries: the workflow reads the session itself and owns the order.
      const status = await waitForStatus(handle, (s) => s.completion?.completed === true, { timeoutMs: 60_000 });
      expect(status).toMatchObject({ status: 'Authorized', charge: { state: 'Authorized' } });
    } finally {
      stack.amazonPay.getCharge = original;
    }
    // A late retry of complete gets that same answer.
    expect(await handle.executeUpdate(completeUpdate)).toMatchObject({ completed: true, chargeState: 'Authorized' });
    await handle.terminate('test done');
  });
});
