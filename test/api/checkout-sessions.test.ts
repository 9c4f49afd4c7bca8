/**
 * Server-side Checkout Session creation (POST /v1/checkout-sessions) against the contract in
 * api/checkout/session-routes.ts, with the reference workflow in ./workflows.ts on a worker of its own.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createCheckoutRoutes } from '../../api/checkout/routes';
import { startTestStack, type TestStack } from '../support/stack';
import { createSessionActivities } from './session-activities';

const STORE_ID = 'amzn1.application-oa2-client.00000000000000000000000000000000';
const quiet = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => console.error(m) };

let stack: TestStack;
let routes: ReturnType<typeof createCheckoutRoutes>;
let stopWorker: () => Promise<void>;

beforeAll(async () => {
  stack = await startTestStack();
  const taskQueue = `sessions-${randomUUID()}`;
  const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  const worker = await Worker.create({
    connection,
    namespace: stack.namespace,
    taskQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)), logger: quiet }),
    activities: createSessionActivities(stack.amazonPay),
    shutdownGraceTime: '1s',
  });
  const running = worker.run();
  stopWorker = async () => {
    worker.shutdown();
    await running;
    await connection.close();
  };
  routes = createCheckoutRoutes({
    temporal: stack.temporal,
    taskQueue,
    apiKeys: [stack.apiKey],
    buttonSigner: stack.amazonPay,
    storeId: STORE_ID,
    createSessionWorkflowType: 'createCheckoutSessionWorkflow',
  });
});
afterAll(async () => {
  await stopWorker?.();
  await stack?.[Symbol.asyncDispose]();
});

const body = (merchantReferenceId = 'cart-9') => ({
  amount: { amount: '12.00', currencyCode: 'USD' },
  checkoutReviewReturnUrl: 'https://shop.example/review',
  merchantReferenceId,
});

function create(key: string, payload: unknown) {
  return routes.request('/v1/checkout-sessions', {
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
