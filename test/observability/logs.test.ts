/**
 * The logs of a full checkout, read as an operator's log store would: the worker (SDK, workflow
 * and activity lines, Core) and the API (requests, IPNs) write JSON lines through the product's
 * logger into this file's log (test/support/logs.ts). The simulator's buyer travels through the
 * whole flow (the review answers it), yet neither the buyer's data nor any secret is in a line.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_CODEC_KEYS } from '../support/codec';
import { logOffset, readTestLog } from '../support/logs';
import { startTestStack, type TestStack } from '../support/stack';

// Everything the SDK can say, Core included: the strictest reading (set before the stack's
// logger is created in beforeAll; each test file runs in its own process).
process.env.LOG_LEVEL = 'trace';

const BUYER_DATA = ['Jane Doe', 'jane.doe@example.com', '10 Ditka Ave', 'Suite 2500', '800-000-0000'];

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ simulator: { delays: { refundMs: 200 } } });
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
});

function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return stack.app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${stack.apiKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function json<T = Record<string, unknown>>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

async function waitForLine(offset: number, predicate: (line: Record<string, unknown>) => boolean, what: string) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    // The Runtime holds forwarded lines up to 100 ms to order them; poll for the one we expect.
    if (readTestLog(offset).some(predicate)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no log line ${what} within 30 s`);
}

describe('logs of a full checkout', () => {
  it('carry request ids into workflow and activity lines, workflow, activity and IPN lines, and no buyer data or secret in any line', async () => {
    const offset = logOffset();

    const config = await json<{ payloadJSON: string; signature: string; publicKeyId: string; algorithm: string }>(
      await api('POST', '/v1/checkout-sessions/button-config', {
        amount: { amount: '49.99', currencyCode: 'USD' },
        checkoutReviewReturnUrl: 'https://shop.example/review',
        merchantReferenceId: 'cart-logs',
      }),
      200,
    );
    const { checkoutSessionId: id } = await stack.admin.clickButton(config);
    const reviewResponse = await api('POST', `/v1/checkouts/${id}/review`, undefined, {
      'x-request-id': 'storefront-req-1',
    });
    const review = await json<{
      buyer: { name: string; email: string } | null;
      shippingAddress: Record<string, string> | null;
    }>(reviewResponse, 200);
    // The buyer's data is really in the flow: the review answers it to the storefront.
    expect(review.buyer).toMatchObject({ name: 'Jane Doe', email: 'jane.doe@example.com' });
    expect(review.shippingAddress).toMatchObject({ addressLine1: '10 Ditka Ave', phoneNumber: '800-000-0000' });
    expect(reviewResponse.headers.get('x-request-id')).toBe('storefront-req-1');

    const { amazonPayRedirectUrl } = await json<{ amazonPayRedirectUrl: string }>(
      await api('POST', `/v1/checkouts/${id}/amount`, {
        chargeAmount: { amount: '49.99', currencyCode: 'USD' },
        paymentIntent: 'Authorize',
        canHandlePendingAuthorization: false,
        merchantReferenceId: `order-${randomUUID().slice(0, 8)}`,
        checkoutResultReturnUrl: `${stack.apiUrl}/v1/return/result`,
      }),
      200,
    );
    const { location } = await stack.admin.pay(amazonPayRedirectUrl, 'happy');
    const back = new URL(location);
    await json(await stack.app.request(`${back.pathname}${back.search}`), 200);
    await json(
      await api(
        'POST',
        `/v1/checkouts/${id}/capture`,
        {},
        { 'idempotency-key': `capture-${id}`, 'x-request-id': 'storefront-capture-1' },
      ),
      200,
    );
    await json(
      await api(
        'POST',
        `/v1/checkouts/${id}/refunds`,
        { amount: { amount: '10.00', currencyCode: 'USD' } },
        { 'idempotency-key': `refund-${id}` },
      ),
      201,
    );
    // Bad input and a wrong credential are logged too (and must not echo the credential).
    await json(
      await api('POST', `/v1/checkouts/${id}/refunds`, { amount: 'ten' }, { 'idempotency-key': `refund-bad-${id}` }),
      400,
    );
    await json(
      await api('GET', `/v1/checkouts/${id}`, undefined, { authorization: `Bearer ${stack.apiKey}-wrong` }),
      401,
    );
    await json(await api('POST', `/v1/checkouts/${id}/close`, { reason: 'Shipped' }), 200);
    await waitForLine(
      offset,
      (l) => l.sdkComponent === 'workflow' && l.msg === 'checkout status' && l.to === 'Closed',
      'saying the checkout Closed',
    );

    const lines = readTestLog(offset);
    for (const line of lines)
      expect(line).toMatchObject({ level: expect.any(String), time: expect.any(String), msg: expect.any(String) });

    // The lines an operator follows a checkout by are there.
    const requests = lines.filter((l) => l.msg === 'request' && l.component === 'api');
    expect(requests).toContainEqual(
      expect.objectContaining({
        requestId: 'storefront-req-1',
        method: 'POST',
        route: '/v1/checkouts/:checkoutSessionId/review',
        status: 200,
      }),
    );
    expect(requests).toContainEqual(
      expect.objectContaining({ route: '/v1/checkouts/:checkoutSessionId/refunds', status: 400 }),
    );
    expect(requests).toContainEqual(
      expect.objectContaining({ route: '/v1/checkouts/:checkoutSessionId', status: 401 }),
    );
    expect(requests.every((r) => typeof r.requestId === 'string' && typeof r.durationMs === 'number')).toBe(true);
    expect(lines).toContainEqual(
      expect.objectContaining({ sdkComponent: 'workflow', workflowId: `checkout-${id}`, msg: 'checkout status' }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        sdkComponent: 'worker',
        activityType: 'getCheckoutReview',
        workflowId: `checkout-${id}`,
      }),
    );
    expect(lines).toContainEqual(expect.objectContaining({ subsystem: 'ipn', msg: 'IPN accepted' }));
    // The storefront's request id reaches the workflow handler it sent and the activities that
    // handler ran; the lines of the run's main function name the request that started it.
    expect(lines).toContainEqual(
      expect.objectContaining({
        sdkComponent: 'worker',
        activityType: 'getCheckoutReview',
        requestId: 'storefront-req-1',
      }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        sdkComponent: 'worker',
        activityType: 'captureCharge',
        requestId: 'storefront-capture-1',
      }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        sdkComponent: 'workflow',
        workflowId: `checkout-${id}`,
        msg: 'checkout status',
        to: 'Captured',
        requestId: 'storefront-capture-1',
      }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        sdkComponent: 'workflow',
        workflowId: `checkout-${id}`,
        startRequestId: 'storefront-req-1',
      }),
    );
    expect(lines.some((l) => l.sdkComponent === 'core')).toBe(true);

    const text = lines.map((l) => JSON.stringify(l)).join('\n');
    for (const value of BUYER_DATA) expect(text, `buyer data "${value}" in the logs`).not.toContain(value);
    const secrets = {
      'the API key': stack.apiKey,
      'the payload codec key': TEST_CODEC_KEYS.split(':')[1]!,
      "the merchant's private key": stack.merchantKey.privateKeyPem.split('\n')[1]!,
    };
    for (const [name, secret] of Object.entries(secrets)) expect(text, `${name} in the logs`).not.toContain(secret);
  });
});
