/**
 * Server-side Checkout Session creation (POST /v1/checkout-sessions) through the product's
 * createCheckoutSessionWorkflow, which also starts the checkout workflow that owns the session.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkoutWorkflowId } from '../../workflows/checkout-messages';
import { recordHistory } from '../checkout/record';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
});

const body = (merchantReferenceId = 'cart-9') => ({
  amount: { amount: '12.00', currencyCode: 'USD' },
  checkoutReviewReturnUrl: 'https://shop.example/review',
  merchantReferenceId,
});

function create(key: string, payload: unknown) {
  return stack.app.request('/v1/checkout-sessions', {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(payload),
  });
}

const creations = async () => (await stack.admin.requestCounts()).byOperation.createCheckoutSession ?? 0;

describe('POST /v1/checkout-sessions', () => {
  it('creates one session per Idempotency-Key: retries and concurrent duplicates get the same session', async () => {
    const before = await creations();
    const key = `create-${randomUUID()}`;
    const [a, b] = await Promise.all([create(key, body()), create(key, body())]);
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    const first = (await a.json()) as { checkoutSessionId: string };
    expect(await b.json()).toEqual(first);
    const retry = await create(key, body());
    expect(await retry.json()).toEqual(first);
    expect((await creations()) - before).toBe(1);
    // The checkout workflow owns the session (and its 24-hour window) from the moment it exists.
    const owner = await stack.temporal.workflow.getHandle(checkoutWorkflowId(first.checkoutSessionId)).describe();
    expect(owner.status.name).toBe('RUNNING');
    expect(await owner.staticSummary()).toBe(`Amazon Pay checkout ${first.checkoutSessionId} for order cart-9`);
    await recordHistory(stack.temporal.workflow.getHandle(`create-checkout-session-${key}`), 'create-checkout-session');

    // The created session continues like a button-created one: the buyer signs in, the storefront reviews it.
    await stack.admin.signIn(first.checkoutSessionId);
    const review = await stack.app.request(`/v1/checkouts/${first.checkoutSessionId}/review`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}` },
    });
    expect(review.status).toBe(200);
    expect(await review.json()).toMatchObject({ checkoutSessionId: first.checkoutSessionId, state: 'Open' });
  });

  it('the same Idempotency-Key with another body is rejected, and nothing is created', async () => {
    const key = `create-${randomUUID()}`;
    expect((await create(key, body('cart-a'))).status).toBe(201);
    const before = await creations();
    const res = await create(key, body('cart-b'));
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ error: { code: 'idempotency_key_reused' } });
    expect(await creations()).toBe(before);
  });
});
