import { describe, expect, it } from 'vitest';
import { createSimulator } from './index';
import { canonicalRequest, parseAmzDate, signRequest, stringToSign } from './signature';
import { createCaller, generateTestKey, STORE_ID } from './test-support';

const key = generateTestKey('SANDBOX-SIGTEST');
const legacyKey = generateTestKey('AHQFEVJWJAA5IVOODKT2TXUZ');
const strangerKey = generateTestKey('SANDBOX-STRANGER');
const body = { storeId: STORE_ID, webCheckoutDetails: { checkoutReviewReturnUrl: 'https://shop.test/review' } };

function setup() {
  const sim = createSimulator({
    publicKeys: { [key.publicKeyId]: key.publicKeyPem, [legacyKey.publicKeyId]: legacyKey.publicKeyPem },
  });
  return { sim, ...createCaller(sim.app, key) };
}

describe('canonical request', () => {
  it('matches the documented example layout, with the blank line after the headers', () => {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'content-type': 'application/json',
      'x-amz-pay-date': '20190923T231908Z',
      'x-amz-pay-host': 'pay-api.amazon.com',
      'x-amz-pay-idempotency-key': 'cllHyiNvS8cJ8Zas',
      'x-amz-pay-region': 'na',
    };
    const canonical = canonicalRequest({
      method: 'POST',
      path: '/live/v2/checkoutSessions',
      rawQuery: '',
      header: (n) => headers[n],
      signedHeaders: Object.keys(headers).join(';'),
      body: '',
    });
    expect(canonical.split('\n')).toEqual([
      'POST',
      '/live/v2/checkoutSessions',
      '',
      'accept:application/json',
      'content-type:application/json',
      'x-amz-pay-date:20190923T231908Z',
      'x-amz-pay-host:pay-api.amazon.com',
      'x-amz-pay-idempotency-key:cllHyiNvS8cJ8Zas',
      'x-amz-pay-region:na',
      '',
      'accept;content-type;x-amz-pay-date;x-amz-pay-host;x-amz-pay-idempotency-key;x-amz-pay-region',
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    ]);
    expect(stringToSign('AMZN-PAY-RSASSA-PSS', canonical)).toMatch(/^AMZN-PAY-RSASSA-PSS\n[0-9a-f]{64}$/);
  });

  it('parses both date formats', () => {
    expect(parseAmzDate('20190923T231908Z')).toBe(Date.UTC(2019, 8, 23, 23, 19, 8));
    expect(parseAmzDate('2019-09-23T23:19:08Z')).toBe(Date.UTC(2019, 8, 23, 23, 19, 8));
    expect(parseAmzDate('23/09/2019')).toBeUndefined();
  });
});

describe('request authentication', () => {
  it.each([
    ['AMZN-PAY-RSASSA-PSS', 'basic'],
    ['AMZN-PAY-RSASSA-PSS', 'extended'],
    ['AMZN-PAY-RSASSA-PSS-V2', 'basic'],
    ['AMZN-PAY-RSASSA-PSS-V2', 'extended'],
  ] as const)('accepts %s with the %s date format', async (algorithm, dateFormat) => {
    const { call, idem } = setup();
    const res = await call('POST', '/checkoutSessions', body, { idempotencyKey: idem(), algorithm, dateFormat });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-amz-pay-request-id')).toBeTruthy();
  });

  it('rejects a signature made with the other salt length', async () => {
    const { sim } = setup();
    const url = '/sandbox/v2/checkoutSessions';
    const payload = JSON.stringify(body);
    const headers = signRequest({
      method: 'POST',
      url,
      body: payload,
      headers: { 'x-amz-pay-idempotency-key': 'abc' },
      publicKeyId: key.publicKeyId,
      privateKeyPem: key.privateKeyPem,
      host: 'h',
      algorithm: 'AMZN-PAY-RSASSA-PSS',
    });
    headers.authorization = headers.authorization!.replace('AMZN-PAY-RSASSA-PSS ', 'AMZN-PAY-RSASSA-PSS-V2 ');
    const res = await sim.app.request(`http://x${url}`, { method: 'POST', headers, body: payload });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { reasonCode: string }).reasonCode).toBe('InvalidRequestSignature');
  });

  it('rejects a tampered body and echoes the string to sign', async () => {
    const { sim } = setup();
    const url = '/sandbox/v2/checkoutSessions';
    const headers = signRequest({
      method: 'POST',
      url,
      body: JSON.stringify(body),
      headers: { 'x-amz-pay-idempotency-key': 'abc' },
      publicKeyId: key.publicKeyId,
      privateKeyPem: key.privateKeyPem,
      host: 'h',
    });
    const res = await sim.app.request(`http://x${url}`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ ...body, storeId: 'other' }),
    });
    expect(res.status).toBe(403);
    const json = await res.json();
    expect(json).toEqual({
      reasonCode: 'InvalidRequestSignature',
      message: expect.stringContaining('Unable to verify signature, signing String [AMZN-PAY-RSASSA-PSS-V2\n'),
    });
    expect(sim.engine.sessions.size).toBe(0);
  });

  it('rejects a tampered signed header and a changed path', async () => {
    const { sim } = setup();
    const url = '/sandbox/v2/checkoutSessions';
    const payload = JSON.stringify(body);
    const headers = signRequest({
      method: 'POST',
      url,
      body: payload,
      headers: { 'x-amz-pay-idempotency-key': 'abc' },
      publicKeyId: key.publicKeyId,
      privateKeyPem: key.privateKeyPem,
      host: 'h',
    });
    const tampered = await sim.app.request(`http://x${url}`, {
      method: 'POST',
      headers: { ...headers, 'x-amz-pay-idempotency-key': 'abd' },
      body: payload,
    });
    expect(tampered.status).toBe(403);
    const otherPath = await sim.app.request('http://x/v2/checkoutSessions', { method: 'POST', headers, body: payload });
    expect(otherPath.status).toBe(403);
  });

  it('verifies only the headers listed in SignedHeaders (PHP signs a fixed subset)', async () => {
    const { sim } = setup();
    const url = '/sandbox/v2/checkoutSessions';
    const payload = JSON.stringify(body);
    const headers = signRequest({
      method: 'POST',
      url,
      body: payload,
      headers: { 'x-amz-pay-idempotency-key': 'phpkey' },
      publicKeyId: key.publicKeyId,
      privateKeyPem: key.privateKeyPem,
      host: 'h',
    });
    const res = await sim.app.request(`http://x${url}`, {
      method: 'POST',
      headers: { ...headers, 'x-amz-pay-sdk-type': 'PHP', 'user-agent': 'anything' },
      body: payload,
    });
    expect(res.status).toBe(201);
  });

  it('tolerates a trailing slash (.NET) and signs the path as sent', async () => {
    const { call, idem } = setup();
    const created = await call('POST', '/checkoutSessions/', body, { idempotencyKey: idem() });
    expect(created.status).toBe(201);
    const got = await call('GET', `/checkoutSessions/${created.body.checkoutSessionId}/`);
    expect(got.status).toBe(200);
  });

  it('rejects unknown keys, missing and malformed authorization', async () => {
    const { sim } = setup();
    const stranger = createCaller(sim.app, strangerKey);
    const res = await stranger.call('GET', '/checkoutSessions/x');
    expect(res.status).toBe(403);
    expect(res.body.reasonCode).toBe('InvalidRequestSignature');
    expect(res.body.message).toContain('SANDBOX-STRANGER');

    const unsigned = await sim.app.request('http://x/sandbox/v2/checkoutSessions/x', {
      headers: { 'x-amz-pay-date': '20250101T000000Z' },
    });
    expect(unsigned.status).toBe(403);
    expect(await unsigned.json()).toEqual({ reasonCode: 'InvalidAuthentication', message: expect.any(String) });
    expect(unsigned.headers.get('x-amz-pay-request-id')).toBeTruthy();

    const malformed = await sim.app.request('http://x/sandbox/v2/checkoutSessions/x', {
      headers: { authorization: 'Bearer abc', 'x-amz-pay-date': '20250101T000000Z' },
    });
    expect(((await malformed.json()) as { reasonCode: string }).reasonCode).toBe('InvalidAuthentication');
  });

  it.each([
    ['an empty name', (signed: string) => signed.replace('x-amz-pay-date;', 'x-amz-pay-date;;')],
    ['a name with a space', (signed: string) => `a b;${signed}`],
    ['a name with a colon', (signed: string) => `${signed};x:y`],
  ])('answers 403 InvalidRequestSignature, not 500, when SignedHeaders holds %s', async (_what, edit) => {
    const { sim } = setup();
    const url = '/sandbox/v2/charges/S01-0000000-0000000-C000000';
    const headers = signRequest({
      method: 'GET',
      url,
      publicKeyId: key.publicKeyId,
      privateKeyPem: key.privateKeyPem,
      host: 'h',
    });
    headers.authorization = headers.authorization!.replace(
      /SignedHeaders=([^,]+)/,
      (_m, signed: string) => `SignedHeaders=${edit(signed)}`,
    );
    const res = await sim.app.request(`http://x${url}`, { headers });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { reasonCode: string }).reasonCode).toBe('InvalidRequestSignature');
  });

  it('rejects dates outside the skew window, measured on wall time not the simulator clock', async () => {
    const { call, sim } = setup();
    const old = await call('GET', '/checkoutSessions/x', undefined, { date: new Date(Date.now() - 16 * 60_000) });
    expect(old.status).toBe(403);
    expect(old.body.message).toMatch(/outside the allowed window/);
    const future = await call('GET', '/checkoutSessions/x', undefined, { date: new Date(Date.now() + 16 * 60_000) });
    expect(future.status).toBe(403);
    sim.clock.advance(40 * 24 * 3_600_000);
    const now = await call('GET', '/checkoutSessions/x');
    expect(now.status).toBe(404);
  });

  it('serves /sandbox/v2, /live/v2 and /v2, keeping environments apart', async () => {
    const { sim } = setup();
    const legacy = createCaller(sim.app, legacyKey, '/live/v2');
    const live = await legacy.call('POST', '/checkoutSessions', body, { idempotencyKey: legacy.idem() });
    expect(live.status).toBe(201);
    expect(live.body.releaseEnvironment).toBe('Live');
    const fromSandbox = await createCaller(sim.app, legacyKey, '/sandbox/v2').call(
      'GET',
      `/checkoutSessions/${live.body.checkoutSessionId}`,
    );
    expect(fromSandbox.status).toBe(404);
    const envKey = createCaller(sim.app, key, '/v2');
    const sandbox = await envKey.call('POST', '/checkoutSessions', body, { idempotencyKey: envKey.idem() });
    expect(sandbox.body.releaseEnvironment).toBe('Sandbox');
    const mismatch = await createCaller(sim.app, key, '/live/v2').call(
      'GET',
      `/checkoutSessions/${sandbox.body.checkoutSessionId}`,
    );
    expect(mismatch.status).toBe(401);
    expect(mismatch.body.reasonCode).toBe('UnauthorizedAccess');
  });

  it('answers unknown paths and methods with Amazon errors', async () => {
    const { call } = setup();
    expect((await call('GET', '/nothing/here')).body.reasonCode).toBe('ResourceNotFound');
    const wrongMethod = await call('PUT', '/charges/abc', {});
    expect(wrongMethod.status).toBe(405);
    // A malformed percent-escape in the id names nothing: 404, not a URIError turned into 500.
    for (const path of ['/charges/%E0%A4%A', '/checkoutSessions/%', '/chargePermissions/%ZZ']) {
      const bad = await call('GET', path);
      expect(bad.status, path).toBe(404);
      expect(bad.body.reasonCode, path).toBe('ResourceNotFound');
    }
    expect((await call('DELETE', '/charges/%E0%A4%A/cancel', {})).status).toBe(404);
  });
});
