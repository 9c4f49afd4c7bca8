import { describe, expect, it } from 'vitest';
import { createSimulator } from './index';
import { createCaller, generateTestKey, STORE_ID } from './test-support';

const key = generateTestKey('SANDBOX-IDEMA');
const otherMerchantKey = generateTestKey('SANDBOX-IDEMB');
const body = { storeId: STORE_ID, webCheckoutDetails: { checkoutReviewReturnUrl: 'https://shop.test/review' } };

function setup() {
  const sim = createSimulator({ publicKeys: { [key.publicKeyId]: key.publicKeyPem } });
  sim.registerPublicKey(otherMerchantKey.publicKeyId, otherMerchantKey.publicKeyPem, 'A2OTHERMERCHANT');
  return { sim, ...createCaller(sim.app, key) };
}

describe('idempotency', () => {
  it('replays status and body byte for byte for the same key and request', async () => {
    const { sim, call } = setup();
    const first = await call('POST', '/checkoutSessions', body, { idempotencyKey: 'same-key-1' });
    const second = await call('POST', '/checkoutSessions', body, { idempotencyKey: 'same-key-1' });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.text).toBe(first.text);
    expect(sim.engine.sessions.size).toBe(1);
    expect(second.headers.get('x-amz-pay-request-id')).not.toBe(first.headers.get('x-amz-pay-request-id'));
  });

  it('treats a re-serialized body with the same values as the same request', async () => {
    const { call } = setup();
    const first = await call('POST', '/checkoutSessions', body, { idempotencyKey: 'order-key' });
    const reordered = `{"webCheckoutDetails":{"checkoutReviewReturnUrl":"https://shop.test/review"},"storeId":"${STORE_ID}"}`;
    const second = await call('POST', '/checkoutSessions', undefined, {
      idempotencyKey: 'order-key',
      rawBody: reordered,
    });
    expect(second.text).toBe(first.text);
  });

  it('answers DuplicateIdempotencyKey when the key is reused for a different request', async () => {
    const { call } = setup();
    await call('POST', '/checkoutSessions', body, { idempotencyKey: 'dup-key' });
    const different = await call(
      'POST',
      '/checkoutSessions',
      { ...body, storeId: `${STORE_ID}x` },
      { idempotencyKey: 'dup-key' },
    );
    expect(different.status).toBe(400);
    expect(different.body).toEqual({ reasonCode: 'DuplicateIdempotencyKey', message: expect.any(String) });
    const otherPath = await call(
      'POST',
      '/charges',
      { chargePermissionId: 'S01-1', chargeAmount: { amount: 1, currencyCode: 'USD' } },
      { idempotencyKey: 'dup-key' },
    );
    expect(otherPath.body.reasonCode).toBe('DuplicateIdempotencyKey');
  });

  it('scopes keys per merchant', async () => {
    const { sim, call } = setup();
    const a = await call('POST', '/checkoutSessions', body, { idempotencyKey: 'shared-key' });
    const b = await createCaller(sim.app, otherMerchantKey).call('POST', '/checkoutSessions', body, {
      idempotencyKey: 'shared-key',
    });
    expect(b.status).toBe(201);
    expect(b.body.checkoutSessionId).not.toBe(a.body.checkoutSessionId);
    const crossRead = await createCaller(sim.app, otherMerchantKey).call(
      'GET',
      `/checkoutSessions/${a.body.checkoutSessionId}`,
    );
    expect(crossRead.status).toBe(404);
  });

  it('replays stored errors too, so a retried decline is not a second attempt', async () => {
    const { call } = setup();
    const first = await call(
      'POST',
      '/charges',
      { chargePermissionId: 'S01-0000000-0000000', chargeAmount: { amount: 1, currencyCode: 'USD' } },
      { idempotencyKey: 'err-key' },
    );
    const again = await call(
      'POST',
      '/charges',
      { chargePermissionId: 'S01-0000000-0000000', chargeAmount: { amount: 1, currencyCode: 'USD' } },
      { idempotencyKey: 'err-key' },
    );
    expect(first.status).toBe(404);
    expect(again.text).toBe(first.text);
  });

  it('does not store injected 5xx answers, so a retry with the same key can succeed', async () => {
    let roll = 0;
    const sim = createSimulator({
      publicKeys: { [key.publicKeyId]: key.publicKeyPem },
      faults: { errorRate: 0.5 },
      random: () => [0.1, 0.1, 0.9][roll++ % 3]!,
    });
    const { call } = createCaller(sim.app, key);
    const failed = await call('POST', '/checkoutSessions', body, { idempotencyKey: 'flaky' });
    expect(failed.status).toBe(500);
    expect(failed.body.reasonCode).toBe('InternalServerError');
    const retried = await call('POST', '/checkoutSessions', body, { idempotencyKey: 'flaky' });
    expect(retried.status).toBe(201);
    expect(sim.engine.sessions.size).toBe(1);
  });

  it('requires a key on Create Checkout Session, Create Charge, Capture and Create Refund but not on Complete', async () => {
    const { call } = setup();
    for (const [path, payload] of [
      ['/checkoutSessions', body],
      ['/charges', { chargePermissionId: 'x', chargeAmount: { amount: 1, currencyCode: 'USD' } }],
      ['/charges/x/capture', { captureAmount: { amount: 1, currencyCode: 'USD' } }],
      ['/refunds', { chargeId: 'x', refundAmount: { amount: 1, currencyCode: 'USD' } }],
    ] as const) {
      const res = await call('POST', path, payload);
      expect(res.status, path).toBe(400);
      expect(res.body.reasonCode, path).toBe('MissingHeader');
    }
    const complete = await call('POST', '/checkoutSessions/unknown/complete', {
      chargeAmount: { amount: 1, currencyCode: 'USD' },
    });
    expect(complete.body.reasonCode).toBe('ResourceNotFound');
    const tooLong = await call('POST', '/checkoutSessions', body, { idempotencyKey: 'x'.repeat(33) });
    expect(tooLong.body.reasonCode).toBe('InvalidHeaderValue');
  });

  it('counts requests per operation and per idempotency key', async () => {
    const { sim, call } = setup();
    await call('POST', '/checkoutSessions', body, { idempotencyKey: 'counted' });
    await call('POST', '/checkoutSessions', body, { idempotencyKey: 'counted' });
    await call('GET', '/checkoutSessions/nope');
    const counts = await (await sim.app.request('http://x/__admin/requests')).json();
    expect(counts).toEqual({
      byOperation: { createCheckoutSession: 2, getCheckoutSession: 1 },
      byIdempotencyKey: { counted: 2 },
    });
  });

  it('counts a key only on a verified request whose key Amazon would accept, whatever its name', async () => {
    const { sim, call } = setup();
    const stranger = createCaller(sim.app, generateTestKey('SANDBOX-UNREGISTERED'));
    for (const k of ['constructor', 'constructor', '__proto__', 'toString']) {
      expect((await call('POST', '/checkoutSessions', body, { idempotencyKey: k })).status).toBe(201);
    }
    expect((await call('POST', '/checkoutSessions', body, { idempotencyKey: 'x'.repeat(5000) })).body.reasonCode).toBe(
      'InvalidHeaderValue',
    );
    expect((await call('POST', '/checkoutSessions', body, { idempotencyKey: 'has space' })).body.reasonCode).toBe(
      'InvalidHeaderValue',
    );
    expect((await stranger.call('POST', '/checkoutSessions', body, { idempotencyKey: 'unverified' })).status).toBe(403);
    const counts = (await (await sim.app.request('http://x/__admin/requests')).json()) as {
      byIdempotencyKey: Record<string, number>;
    };
    expect(counts.byIdempotencyKey).toEqual(JSON.parse('{"constructor":2,"__proto__":1,"toString":1}'));
    await sim.app.request('http://x/__admin/reset', { method: 'POST' });
    expect(await (await sim.app.request('http://x/__admin/requests')).json()).toEqual({
      byOperation: {},
      byIdempotencyKey: {},
    });
  });
});
