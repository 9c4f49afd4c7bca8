import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatorAdmin, SimulatorAdminError } from './admin-client';
import { createSimulator, startSimulator, type RunningSimulator } from './index';
import { optionsFromEnv } from './main';
import { buttonConfig, createCaller, generateTestKey, STORE_ID } from './test-support';
import { signRequest } from './signature';

const key = generateTestKey('SANDBOX-ADMINTEST');
const createBody = {
  storeId: STORE_ID,
  webCheckoutDetails: {
    checkoutReviewReturnUrl: 'https://shop.test/review',
    checkoutResultReturnUrl: 'https://shop.test/result',
  },
};

describe('throttling and faults', () => {
  it('answers 429 TooManyRequests once the bucket is empty, then recovers at the restore rate', async () => {
    const sim = createSimulator({
      publicKeys: { [key.publicKeyId]: key.publicKeyPem },
      throttling: { getCheckoutSession: { maxQuota: 2, restorePerSecond: 2 } },
    });
    const { call } = createCaller(sim.app, key);
    expect((await call('GET', '/checkoutSessions/a')).status).toBe(404);
    expect((await call('GET', '/checkoutSessions/a')).status).toBe(404);
    const throttled = await call('GET', '/checkoutSessions/a');
    expect(throttled.status).toBe(429);
    expect(throttled.body.reasonCode).toBe('TooManyRequests');
    await new Promise((r) => setTimeout(r, 600));
    expect((await call('GET', '/checkoutSessions/a')).status).toBe(404);
  });

  it('uses the sandbox quotas (Create Charge: 2, then 1/s)', async () => {
    const sim = createSimulator({ publicKeys: { [key.publicKeyId]: key.publicKeyPem }, throttling: 'sandbox' });
    const { call, idem } = createCaller(sim.app, key);
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push(
        (
          await call(
            'POST',
            '/charges',
            { chargePermissionId: 'x', chargeAmount: { amount: 1, currencyCode: 'USD' } },
            { idempotencyKey: idem() },
          )
        ).status,
      );
    expect(statuses).toEqual([404, 404, 429]);
  });

  it('throttleRate answers that share of requests 429 at random, before anything is processed', async () => {
    let roll = 0;
    const sim = createSimulator({
      publicKeys: { [key.publicKeyId]: key.publicKeyPem },
      random: () => [0.1, 0.9][roll++ % 2]!,
    });
    const { call, idem } = createCaller(sim.app, key);
    const res = await sim.app.request('http://x/__admin/faults', {
      method: 'POST',
      body: JSON.stringify({ throttleRate: 0.3 }),
    });
    expect(res.status).toBe(200);
    const first = await call('POST', '/checkoutSessions', createBody, { idempotencyKey: idem() });
    expect(first.status).toBe(429);
    expect(first.body.reasonCode).toBe('TooManyRequests');
    expect(sim.engine.sessions.size).toBe(0);
    expect((await call('POST', '/checkoutSessions', createBody, { idempotencyKey: idem() })).status).toBe(201);
    expect(sim.engine.sessions.size).toBe(1);
  });

  it('holds the response of one operation after processing it', async () => {
    const sim = createSimulator({ publicKeys: { [key.publicKeyId]: key.publicKeyPem } });
    const { call, idem } = createCaller(sim.app, key);
    const res = await sim.app.request('http://x/__admin/faults', {
      method: 'POST',
      body: JSON.stringify({ holdResponses: { operation: 'createCheckoutSession', ms: 1_000 } }),
    });
    expect(res.status).toBe(200);
    const started = Date.now();
    const pending = call('POST', '/checkoutSessions', createBody, { idempotencyKey: idem() });
    await new Promise((r) => setTimeout(r, 300));
    expect(sim.engine.sessions.size).toBe(1);
    const done = await pending;
    expect(done.status).toBe(201);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    const quick = Date.now();
    await call('POST', '/checkoutSessions', createBody, { idempotencyKey: idem() });
    // Held once: the next call is not held (a generous bound, well under the hold, for a loaded machine).
    expect(Date.now() - quick).toBeLessThan(700);
  });

  it('rejects invalid admin input', async () => {
    const sim = createSimulator();
    const res = await sim.app.request('http://x/__admin/faults', {
      method: 'POST',
      body: JSON.stringify({ errorRate: 2 }),
    });
    expect(res.status).toBe(400);
  });
});

describe('admin client over HTTP', () => {
  let sim: RunningSimulator;
  let admin: SimulatorAdmin;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
    admin = new SimulatorAdmin(sim.url);
    await admin.registerPublicKey(key.publicKeyId, key.publicKeyPem);
  });
  afterAll(async () => {
    await sim.close();
  });

  async function signedFetch(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const url = `/sandbox/v2${path}`;
    const signed = signRequest({
      method,
      url,
      body: payload,
      headers,
      publicKeyId: key.publicKeyId,
      privateKeyPem: key.privateKeyPem,
      host: new URL(sim.url).host,
    });
    const res = await fetch(`${sim.url}${url}`, { method, headers: signed, ...(payload ? { body: payload } : {}) });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test convenience
    return { status: res.status, body: (await res.json()) as any };
  }

  it('drives a button checkout, reads objects, money and counts, advances the clock and resets', async () => {
    const payload = {
      ...createBody,
      paymentDetails: { paymentIntent: 'Authorize', chargeAmount: { amount: '9.99', currencyCode: 'USD' } },
    };
    const { checkoutSessionId, location } = await admin.clickButton(buttonConfig(payload, key));
    expect(location).toBe(`https://shop.test/review?amazonCheckoutSessionId=${checkoutSessionId}`);
    const session = await signedFetch('GET', `/checkoutSessions/${checkoutSessionId}`);
    const redirect = (session.body as { webCheckoutDetails: { amazonPayRedirectUrl: string } }).webCheckoutDetails
      .amazonPayRedirectUrl;
    expect(redirect).toBe(`${sim.url}/checkout/pay/${checkoutSessionId}`);
    const paid = await admin.pay(redirect, 'happy');
    expect(paid.location).toBe(`https://shop.test/result?amazonCheckoutSessionId=${checkoutSessionId}`);
    const completed = await signedFetch('POST', `/checkoutSessions/${checkoutSessionId}/complete`, {
      chargeAmount: { amount: '9.99', currencyCode: 'USD' },
    });
    const cpId = (completed.body as { chargePermissionId: string }).chargePermissionId;

    const money = await admin.moneyMovements({ chargePermissionId: cpId });
    expect(money.totals).toMatchObject({ authorized: '9.99', captured: '0.00', outstandingAuthorization: '9.99' });
    expect((await admin.moneyMovements({ checkoutSessionId })).movements).toHaveLength(1);

    const objects = await admin.objects();
    expect(objects.checkoutSessions).toHaveLength(1);
    expect(objects.charges).toHaveLength(1);
    expect((await admin.requestCounts()).byOperation).toMatchObject({
      getCheckoutSession: 1,
      completeCheckoutSession: 1,
    });

    const before = await admin.now();
    const { now } = await admin.advanceClock(31 * 24 * 3_600_000);
    expect(new Date(now).getTime() - before.getTime()).toBeGreaterThanOrEqual(31 * 24 * 3_600_000);
    expect((await admin.moneyMovements({ chargePermissionId: cpId })).totals.outstandingAuthorization).toBe('0.00');

    await admin.setFaults({ errorRate: 1 });
    expect((await signedFetch('GET', `/checkoutSessions/${checkoutSessionId}`)).status).toBeGreaterThanOrEqual(500);
    await admin.reset();
    expect((await signedFetch('GET', `/checkoutSessions/${checkoutSessionId}`)).status).toBe(404);
    expect((await admin.objects()).checkoutSessions).toEqual([]);
  });

  it('survives a client that disconnects while its response is held; a retry with the same key replays', async () => {
    await admin.setFaults({ holdResponses: { operation: 'createCheckoutSession', ms: 400 } });
    const payload = JSON.stringify(createBody);
    const url = '/sandbox/v2/checkoutSessions';
    const headers = signRequest({
      method: 'POST',
      url,
      body: payload,
      headers: { 'x-amz-pay-idempotency-key': 'held-key' },
      publicKeyId: key.publicKeyId,
      privateKeyPem: key.privateKeyPem,
      host: new URL(sim.url).host,
    });
    const aborted = fetch(`${sim.url}${url}`, {
      method: 'POST',
      headers,
      body: payload,
      signal: AbortSignal.timeout(100),
    });
    await expect(aborted).rejects.toThrow();
    const retry = await signedFetch('POST', '/checkoutSessions', createBody, {
      'x-amz-pay-idempotency-key': 'held-key',
    });
    expect(retry.status).toBe(201);
    expect(
      (await admin.objects()).checkoutSessions.filter(
        (x) => (x as { checkoutSessionId: string }).checkoutSessionId === retry.body.checkoutSessionId,
      ),
    ).toHaveLength(1);
    expect((await admin.requestCounts()).byIdempotencyKey['held-key']).toBe(2);
    await new Promise((r) => setTimeout(r, 400));
    const res = await fetch(`${sim.url}/__admin/clock`);
    expect(res.headers.get('x-amz-pay-request-id')).toBeTruthy();
  });

  it('fixes and closes a permission as the buyer, and reports errors', async () => {
    await expect(admin.fixPaymentMethod('S01-0000000-0000000')).rejects.toBeInstanceOf(SimulatorAdminError);
    await expect(admin.closeChargePermissionAsBuyer('S01-0000000-0000000')).rejects.toThrow(/HTTP 404/);
    await expect(admin.signIn('nope')).rejects.toThrow(/HTTP 404/);
  });

  it('exposes IPN stats and configuration', async () => {
    await admin.configureIpn({ url: 'http://127.0.0.1:9/ipn', lossRate: 0 });
    expect(await admin.ipnStats()).toMatchObject({ sent: expect.any(Number) });
  });
});

describe('standalone configuration', () => {
  it('reads and validates environment variables', () => {
    expect(optionsFromEnv({})).toMatchObject({ host: '127.0.0.1', port: 4010, publicKeys: {} });
    expect(
      optionsFromEnv({
        SIMULATOR_HTTPS: 'true',
        SIMULATOR_THROTTLING: 'sandbox',
        SIMULATOR_IPN_URL: 'http://127.0.0.1:3000/ipn',
      }),
    ).toMatchObject({
      https: 'self-signed',
      throttling: 'sandbox',
      ipn: { url: 'http://127.0.0.1:3000/ipn' },
    });
    expect(
      optionsFromEnv({ SIMULATOR_THROTTLING: '{"createCharge":{"maxQuota":1,"restorePerSecond":1}}' }).throttling,
    ).toEqual({ createCharge: { maxQuota: 1, restorePerSecond: 1 } });
    expect(() => optionsFromEnv({ SIMULATOR_PORT: 'abc' })).toThrow();
    expect(() => optionsFromEnv({ SIMULATOR_TLS_CERT_FILE: '/x' })).toThrow(/go together/);
    expect(() => optionsFromEnv({ SIMULATOR_THROTTLING: 'fast' })).toThrow();
  });
});
