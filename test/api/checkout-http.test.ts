/**
 * The storefront flow over HTTP, through the composed API (stack.app), against the real dev
 * server, the Amazon Pay simulator and a worker: button config -> buyer clicks -> review ->
 * amount -> buyer pays -> result return handler -> capture -> refund -> status -> close.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentMethodChoice } from '../../simulator/admin-client';
import { createCheckoutRoutes } from '../../api/checkout/routes';
import { checkoutWorkflowId, type CheckoutStatus } from '../../workflows/checkout-messages';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ simulator: { delays: { refundMs: 300, pendingAuthorizationMs: 1500 } } });
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
});

const REVIEW_URL = 'https://shop.example/checkout/review';

/** Charge, capture and refund require an Idempotency-Key: a call that names none is a new operation, with a key of its own. */
const MONEY_MOVING = /\/(charge|capture|refunds)$/;

function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const key: Record<string, string> =
    method === 'POST' && MONEY_MOVING.test(path) ? { 'idempotency-key': `op-${randomUUID()}` } : {};
  return stack.app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${stack.apiKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...key,
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
}

async function json<T = Record<string, unknown>>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

async function expectError(res: Response, status: number, code: string) {
  const body = await json<{ error: { code: string; message: string } }>(res, status);
  expect(body.error.code).toBe(code);
  expect(body.error.message).toBeTruthy();
}

const count = async (operation: string) => (await stack.admin.requestCounts()).byOperation[operation] ?? 0;
const statusOf = async (id: string) => json<CheckoutStatus>(await api('GET', `/v1/checkouts/${id}`), 200);
/** The status without the fields that move on their own. */
const stateOf = async (id: string) => {
  const { updatedAt: _u, ...rest } = await statusOf(id);
  return rest;
};

/** Waits (on the condition, not a clock) until every refund of the checkout has settled. */
async function waitForRefunded(id: string): Promise<CheckoutStatus> {
  for (;;) {
    const status = await statusOf(id);
    if (status.refunds.length > 0 && status.refunds.every((r) => r.state !== 'RefundInitiated')) return status;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const amountBody = (amount = '49.99', extra: Record<string, unknown> = {}) => ({
  chargeAmount: { amount, currencyCode: 'USD' },
  paymentIntent: 'Authorize',
  canHandlePendingAuthorization: false,
  merchantReferenceId: `order-${randomUUID().slice(0, 8)}`,
  checkoutResultReturnUrl: `${stack.apiUrl}/v1/return/result`,
  ...extra,
});

/** Button config over HTTP; the buyer clicks it at the simulator (which signs them in). */
async function buyerClicksButton(): Promise<string> {
  const config = await json<{ payloadJSON: string; signature: string; publicKeyId: string; algorithm: string }>(
    await api('POST', '/v1/checkout-sessions/button-config', {
      amount: { amount: '49.99', currencyCode: 'USD' },
      checkoutReviewReturnUrl: REVIEW_URL,
      merchantReferenceId: 'cart-1',
    }),
    200,
  );
  const { checkoutSessionId, location } = await stack.admin.clickButton(config);
  expect(location.startsWith(REVIEW_URL)).toBe(true);
  expect(new URL(location).searchParams.get('amazonCheckoutSessionId')).toBe(checkoutSessionId);
  return checkoutSessionId;
}

/** Review, amount, buyer pays; answers the path + query Amazon sends the buyer back to. */
async function checkoutUntilReturn(
  method: PaymentMethodChoice,
  amount: Record<string, unknown> = amountBody(),
): Promise<{ id: string; returnPath: string }> {
  const id = await buyerClicksButton();
  await json(await api('POST', `/v1/checkouts/${id}/review`), 200);
  const { amazonPayRedirectUrl } = await json<{ amazonPayRedirectUrl: string }>(
    await api('POST', `/v1/checkouts/${id}/amount`, amount),
    200,
  );
  const { location } = await stack.admin.pay(amazonPayRedirectUrl, method);
  const url = new URL(location);
  return { id, returnPath: `${url.pathname}${url.search}` };
}

describe('storefront checkout over HTTP', () => {
  it('intent Confirm: charged later with captureNow, a retry with the same Idempotency-Key charges nothing more', async () => {
    const { id, returnPath } = await checkoutUntilReturn('happy', amountBody('30.00', { paymentIntent: 'Confirm' }));
    expect((await stack.app.request(returnPath)).status).toBe(200);
    expect(await statusOf(id)).toMatchObject({ status: 'Confirmed', charge: null, final: false });
    const charges = await count('createCharge');
    const headers = { 'idempotency-key': `charge-${randomUUID()}` };
    const body = { amount: { amount: '25.00', currencyCode: 'USD' }, captureNow: true, softDescriptor: 'SHIPPED' };
    const first = await json<{ chargeId: string; state: string }>(
      await api('POST', `/v1/checkouts/${id}/charge`, body, headers),
      201,
    );
    expect(first.state).toBe('Captured');
    const retried = await json<{ chargeId: string }>(
      await api('POST', `/v1/checkouts/${id}/charge`, body, headers),
      201,
    );
    expect(retried.chargeId).toBe(first.chargeId);
    expect((await count('createCharge')) - charges).toBe(1);
    await expectError(
      await api('POST', `/v1/checkouts/${id}/charge`, { softDescriptor: 'X' }),
      400,
      'validation_error',
    );
    await expectError(
      await api('POST', `/v1/checkouts/${id}/charge`, { amount: { amount: '5.00', currencyCode: 'EUR' } }),
      422,
      'currency_mismatch',
    );
    expect(await statusOf(id)).toMatchObject({
      status: 'Captured',
      charge: { chargeId: first.chargeId, capturedAmount: { amount: '25.00' } },
    });
    await json(await api('POST', `/v1/checkouts/${id}/close`, {}), 200);
  });

  it('button -> review -> amount -> pay -> return handler -> capture -> refund -> status -> close', async () => {
    const id = await buyerClicksButton();

    // Review starts the workflow; a refresh of the review page reaches the same workflow.
    const review = await json<{
      checkoutSessionId: string;
      state: string;
      buyer: { name: string } | null;
      paymentDescriptor: string | null;
    }>(await api('POST', `/v1/checkouts/${id}/review`, {}), 200);
    expect(review).toMatchObject({ checkoutSessionId: id, state: 'Open' });
    expect(review.buyer?.name).toBeTruthy();
    const handle = stack.temporal.workflow.getHandle(checkoutWorkflowId(id));
    const firstRun = (await handle.describe()).runId;
    const again = await json(await api('POST', `/v1/checkouts/${id}/review`), 200);
    expect(again).toMatchObject({ checkoutSessionId: id, state: 'Open' });
    expect((await handle.describe()).runId).toBe(firstRun);
    const described = await handle.describe();
    expect(described.searchAttributes).toMatchObject({ AmazonCheckoutSessionId: [id] });
    expect(await described.staticSummary()).toBe(`Amazon Pay checkout ${id}`);

    const { amazonPayRedirectUrl } = await json<{ amazonPayRedirectUrl: string }>(
      await api('POST', `/v1/checkouts/${id}/amount`, amountBody()),
      200,
    );
    expect(amazonPayRedirectUrl).toMatch(/^https?:\/\//);

    const { location } = await stack.admin.pay(amazonPayRedirectUrl, 'happy');
    const back = new URL(location);
    expect(back.pathname).toBe('/v1/return/result');
    const outcome = await json<{ completed: boolean; chargePermissionId: string; chargeId: string; status: string }>(
      await stack.app.request(`${back.pathname}${back.search}`),
      200,
    );
    expect(outcome).toMatchObject({ completed: true, status: 'Authorized', chargeState: 'Authorized' });

    const captured = await json(await api('POST', `/v1/checkouts/${id}/capture`, {}), 200);
    expect(captured).toMatchObject({ state: 'Captured', capturedAmount: { amount: '49.99', currencyCode: 'USD' } });

    const refund = await json<{ number: number; refundId: string; state: string }>(
      await api(
        'POST',
        `/v1/checkouts/${id}/refunds`,
        { amount: { amount: '10.00', currencyCode: 'USD' } },
        { 'idempotency-key': 'refund-1' },
      ),
      201,
    );
    expect(refund).toMatchObject({ number: 1, amount: { amount: '10.00', currencyCode: 'USD' } });
    const refundsAtAmazon = await count('createRefund');
    // A retried refund with the same Idempotency-Key gets the first refund back; Amazon is asked once.
    const retried = await json(
      await api(
        'POST',
        `/v1/checkouts/${id}/refunds`,
        { amount: { amount: '10.00', currencyCode: 'USD' } },
        { 'idempotency-key': 'refund-1' },
      ),
      201,
    );
    expect(retried).toEqual(refund);
    expect(await count('createRefund')).toBe(refundsAtAmazon);

    const status = await statusOf(id);
    expect(status).toMatchObject({
      checkoutSessionId: id,
      status: 'Captured',
      paymentIntent: 'Authorize',
      chargeAmount: { amount: '49.99', currencyCode: 'USD' },
      chargePermissionId: outcome.chargePermissionId,
      charge: { chargeId: outcome.chargeId, state: 'Captured' },
      final: false,
    });
    expect(status.refunds).toHaveLength(1);

    const closing = await json(await api('POST', `/v1/checkouts/${id}/close`, { reason: 'Shipped' }), 200);
    expect(closing).toMatchObject({ status: 'Closing', final: false });
    expect(await handle.result()).toMatchObject({ status: 'Closed', final: true });

    // After the workflow has ended: the return URL still answers the same outcome, the review does not restart it.
    const late = await json(await stack.app.request(`${back.pathname}${back.search}`), 200);
    expect(late).toMatchObject({
      completed: true,
      chargePermissionId: outcome.chargePermissionId,
      chargeId: outcome.chargeId,
    });
    await expectError(await api('POST', `/v1/checkouts/${id}/review`), 409, 'checkout_closed');
    await expectError(
      await api('POST', `/v1/checkouts/${id}/refunds`, { amount: { amount: '1.00', currencyCode: 'USD' } }),
      409,
      'checkout_closed',
    );
    expect((await statusOf(id)).status).toBe('Closed');
    expect((await handle.describe()).runId).toBe(firstRun);
  });

  it('amount answered 503 while Amazon fails: the same request with the same Idempotency-Key succeeds once Amazon is back', async () => {
    // Before, the key was the Temporal update id, and Temporal kept the failed update's answer under it.
    const id = await buyerClicksButton();
    await json(await api('POST', `/v1/checkouts/${id}/review`), 200);
    const body = amountBody('12.00');
    const headers = { 'idempotency-key': `amount-${randomUUID()}` };
    try {
      await stack.admin.setFaults({ errorRate: 1 });
      const refused = await api('POST', `/v1/checkouts/${id}/amount`, body, headers);
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      await expectError(refused, 503, 'AmazonPayUnavailable');
    } finally {
      await stack.admin.setFaults({ errorRate: 0 });
    }
    expect(await statusOf(id)).toMatchObject({ status: 'AwaitingBuyer', chargeAmount: null });
    const { amazonPayRedirectUrl } = await json<{ amazonPayRedirectUrl: string }>(
      await api('POST', `/v1/checkouts/${id}/amount`, body, headers),
      200,
    );
    expect(amazonPayRedirectUrl).toContain(id);
    expect(await statusOf(id)).toMatchObject({ status: 'AwaitingCompletion', chargeAmount: { amount: '12.00' } });
  });

  it('capture and refund not answered while Amazon fails: the same request with the same key then succeeds, its retries get the first answer, Amazon moves the money once', async () => {
    const { id, returnPath } = await checkoutUntilReturn('happy', amountBody('40.00'));
    const outcome = await json<{ chargePermissionId: string; chargeId: string }>(
      await stack.app.request(returnPath),
      200,
    );
    // A short wait for Temporal: the API gives up (504) while the workflow's call keeps retrying.
    const impatient = createCheckoutRoutes({
      temporal: stack.temporal,
      taskQueue: stack.taskQueue,
      apiKeys: [stack.apiKey],
      buttonSigner: stack.amazonPay,
      storeId: 'amzn1.application-oa2-client.00000000000000000000000000000000',
      temporalTimeoutMs: 1_500,
    });
    const send = (
      app: { request: (path: string, init: RequestInit) => Response | Promise<Response> },
      path: string,
      body: unknown,
      key: string,
    ) =>
      app.request(path, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${stack.apiKey}`,
          'content-type': 'application/json',
          'idempotency-key': key,
        },
        body: JSON.stringify(body),
      });
    const whileAmazonFails = async (path: string, body: unknown, key: string) => {
      try {
        await stack.admin.setFaults({ errorRate: 1 });
        const res = await send(impatient, path, body, key);
        expect([503, 504]).toContain(res.status);
        expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      } finally {
        await stack.admin.setFaults({ errorRate: 0 });
      }
    };

    const captureKey = `capture-${randomUUID()}`;
    const capturePath = `/v1/checkouts/${id}/capture`;
    await whileAmazonFails(capturePath, {}, captureKey);
    const captured = await json<{ chargeId: string; state: string }>(
      await send(stack.app, capturePath, {}, captureKey),
      200,
    );
    expect(captured).toMatchObject({
      chargeId: outcome.chargeId,
      state: 'Captured',
      capturedAmount: { amount: '40.00' },
    });
    const capturesAtAmazon = await count('captureCharge');
    expect(await json(await send(stack.app, capturePath, {}, captureKey), 200)).toEqual(captured);
    expect(await count('captureCharge')).toBe(capturesAtAmazon);

    const refundKey = `refund-${randomUUID()}`;
    const refundPath = `/v1/checkouts/${id}/refunds`;
    const refundBody = { amount: { amount: '7.00', currencyCode: 'USD' } };
    await whileAmazonFails(refundPath, refundBody, refundKey);
    const refund = await json<{ refundId: string; number: number }>(
      await send(stack.app, refundPath, refundBody, refundKey),
      201,
    );
    expect(refund).toMatchObject({ number: 1, amount: { amount: '7.00' } });
    const refundsAtAmazon = await count('createRefund');
    expect(await json(await send(stack.app, refundPath, refundBody, refundKey), 201)).toEqual(refund);
    expect(await count('createRefund')).toBe(refundsAtAmazon);

    const status = await waitForRefunded(id);
    expect(status.refunds).toEqual([expect.objectContaining({ refundId: refund.refundId, state: 'Refunded' })]);
    expect((await stack.admin.moneyMovements({ chargePermissionId: outcome.chargePermissionId })).totals).toMatchObject(
      { captured: '40.00', refunded: '7.00' },
    );
    await json(await api('POST', `/v1/checkouts/${id}/close`, {}), 200);
  });

  it('a double click / refresh on the result URL is answered identically, with one Complete at Amazon', async () => {
    const { id, returnPath } = await checkoutUntilReturn('happy');
    const before = await count('completeCheckoutSession');
    const answers = await Promise.all([
      stack.app.request(returnPath),
      stack.app.request(returnPath),
      api('POST', `/v1/checkouts/${id}/complete`),
    ]);
    const bodies = await Promise.all(answers.map((r) => json(r, 200)));
    const refresh = await json(await stack.app.request(returnPath), 200);
    for (const b of [...bodies, refresh]) expect(b).toEqual(bodies[0]);
    expect(bodies[0]).toMatchObject({ completed: true });
    expect((await count('completeCheckoutSession')) - before).toBe(1);
  });

  it('a decline at Amazon is an outcome (200, completed: false), answered the same on refresh', async () => {
    const { id, returnPath } = await checkoutUntilReturn('declinedAtAmazon');
    const [first, second] = await Promise.all([stack.app.request(returnPath), stack.app.request(returnPath)]);
    const outcome = await json(first, 200);
    expect(outcome).toMatchObject({ completed: false, status: 'Declined', reasonCode: 'Declined' });
    expect(await json(second, 200)).toEqual(outcome);
    // The workflow has ended by now; a refresh still gets the very same answer, Amazon's message included.
    await stack.temporal.workflow.getHandle(checkoutWorkflowId(id)).result();
    expect(await json(await stack.app.request(returnPath), 200)).toEqual(outcome);
    // Declined is final: the workflow has ended, so nothing can be captured.
    const capture = await json<{ error: { code: string } }>(await api('POST', `/v1/checkouts/${id}/capture`, {}), 409);
    expect(['checkout_closed', 'InvalidChargeStatus']).toContain(capture.error.code);
  });

  it('bad input at each step leaves the workflow state unchanged', async () => {
    const id = await buyerClicksButton();
    await json(await api('POST', `/v1/checkouts/${id}/review`), 200);

    // Before the amount: complete and capture are refused by the checkout's state.
    const initial = await stateOf(id);
    expect(initial.status).toBe('AwaitingBuyer');
    await expectError(await api('POST', `/v1/checkouts/${id}/complete`), 409, 'ChargeAmountNotSet');
    await expectError(await api('POST', `/v1/checkouts/${id}/capture`, {}), 409, 'InvalidChargeStatus');
    expect(await stateOf(id)).toEqual(initial);

    const updatesBefore = await count('updateCheckoutSession');
    for (const [body, code] of [
      ['{"chargeAmount":', 'invalid_json'],
      [amountBody('1.234'), 'validation_error'],
      [amountBody('-5'), 'validation_error'],
      [amountBody('abc'), 'validation_error'],
      [amountBody('49.99', { totalOrderAmount: { amount: '49.99', currencyCode: 'EUR' } }), 'validation_error'],
      [amountBody('49.99', { merchantReferenceId: 'x'.repeat(300) }), 'validation_error'],
      [amountBody('49.99', { shipping: '5.00' }), 'validation_error'],
    ] as const) {
      await expectError(await api('POST', `/v1/checkouts/${id}/amount`, body), 400, code);
    }
    expect(await stateOf(id)).toEqual(initial);
    expect(await count('updateCheckoutSession')).toBe(updatesBefore);

    // Valid amount, buyer pays, completes.
    const { amazonPayRedirectUrl } = await json<{ amazonPayRedirectUrl: string }>(
      await api('POST', `/v1/checkouts/${id}/amount`, amountBody('20.00')),
      200,
    );
    const { location } = await stack.admin.pay(amazonPayRedirectUrl, 'happy');
    const back = new URL(location);
    await json(await stack.app.request(`${back.pathname}${back.search}`), 200);
    const authorized = await stateOf(id);
    expect(authorized.status).toBe('Authorized');

    // Capture: currency of another checkout, more than authorized, malformed: nothing changes.
    const capturesBefore = await count('captureCharge');
    await expectError(
      await api('POST', `/v1/checkouts/${id}/capture`, { amount: { amount: '20.00', currencyCode: 'EUR' } }),
      422,
      'currency_mismatch',
    );
    await expectError(
      await api('POST', `/v1/checkouts/${id}/capture`, { amount: { amount: '20.01', currencyCode: 'USD' } }),
      422,
      'TransactionAmountExceeded',
    );
    await expectError(
      await api('POST', `/v1/checkouts/${id}/capture`, { amount: { amount: '5.001', currencyCode: 'USD' } }),
      400,
      'validation_error',
    );
    // Refund before capture: refused by the charge's state.
    await expectError(
      await api('POST', `/v1/checkouts/${id}/refunds`, { amount: { amount: '1.00', currencyCode: 'USD' } }),
      409,
      'InvalidChargeStatus',
    );
    expect(await stateOf(id)).toEqual(authorized);
    expect(await count('captureCharge')).toBe(capturesBefore);

    // Partial capture, then refunds that are wrong in currency or size.
    await json(
      await api('POST', `/v1/checkouts/${id}/capture`, { amount: { amount: '15.00', currencyCode: 'USD' } }),
      200,
    );
    const captured = await stateOf(id);
    const refundsBefore = await count('createRefund');
    await expectError(
      await api('POST', `/v1/checkouts/${id}/refunds`, { amount: { amount: '1.00', currencyCode: 'GBP' } }),
      422,
      'currency_mismatch',
    );
    await expectError(
      await api('POST', `/v1/checkouts/${id}/refunds`, { amount: { amount: '1000.00', currencyCode: 'USD' } }),
      422,
      'TransactionAmountExceeded',
    );
    await expectError(
      await api('POST', `/v1/checkouts/${id}/refunds`, { amount: { amount: 'abc', currencyCode: 'USD' } }),
      400,
      'validation_error',
    );
    expect(await stateOf(id)).toEqual(captured);
    expect(await count('createRefund')).toBe(refundsBefore);
  });

  it('a pending authorization is answered as soon as it is known, and settles in the background', async () => {
    const { id, returnPath } = await checkoutUntilReturn(
      'pendingThenAuthorized',
      amountBody('30.00', { canHandlePendingAuthorization: true }),
    );
    const outcome = await json(await stack.app.request(returnPath), 200);
    expect(outcome).toMatchObject({
      completed: true,
      status: 'AuthorizationPending',
      chargeState: 'AuthorizationInitiated',
    });
    const deadline = Date.now() + 20_000;
    while ((await statusOf(id)).status !== 'Authorized' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    expect((await statusOf(id)).status).toBe('Authorized');
  });

  it('with a storefront result URL configured, the return handler redirects (303) with the outcome', async () => {
    const routes = createCheckoutRoutes({
      temporal: stack.temporal,
      taskQueue: stack.taskQueue,
      apiKeys: [stack.apiKey],
      buttonSigner: stack.amazonPay,
      storeId: 'amzn1.application-oa2-client.00000000000000000000000000000000',
      resultRedirectUrl: 'https://shop.example/order/result?lang=en',
    });
    const { id, returnPath } = await checkoutUntilReturn('happy');
    const res = await routes.request(returnPath);
    expect(res.status).toBe(303);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const target = new URL(res.headers.get('location')!);
    expect(`${target.origin}${target.pathname}`).toBe('https://shop.example/order/result');
    expect(Object.fromEntries(target.searchParams)).toEqual({
      lang: 'en',
      amazonCheckoutSessionId: id,
      outcome: 'completed',
      status: 'Authorized',
    });
  });

  it('the return handler acts only on known sessions: unknown -> 404, nothing started', async () => {
    const unknown = randomUUID();
    await expectError(
      await stack.app.request(`/v1/return/result?amazonCheckoutSessionId=${unknown}`),
      404,
      'checkout_not_found',
    );
    await expect(stack.temporal.workflow.getHandle(checkoutWorkflowId(unknown)).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
    await expectError(await api('GET', `/v1/checkouts/${unknown}`), 404, 'checkout_not_found');
    await expectError(await api('POST', `/v1/checkouts/${unknown}/capture`, {}), 404, 'checkout_not_found');
  });

  it('serves the OpenAPI document from the composed app', async () => {
    const doc = await json<{ openapi: string; paths: Record<string, unknown> }>(
      await stack.app.request('/openapi.json'),
      200,
    );
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/v1/checkouts/{checkoutSessionId}/refunds');
  });
});
