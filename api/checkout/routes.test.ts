import { Client, Connection } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { auth, jsonHeaders, post, SESSION_ID, testApp } from './test-support';

const validAmount = {
  chargeAmount: { amount: '14.00', currencyCode: 'USD' },
  paymentIntent: 'Authorize',
  canHandlePendingAuthorization: false,
  merchantReferenceId: 'order-1042',
  checkoutResultReturnUrl: 'https://shop.example/checkout/result',
};
const amountPath = `/v1/checkouts/${SESSION_ID}/amount`;
const keyed = { ...jsonHeaders, 'idempotency-key': 'order-1042-op-1' };

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error;
}

describe('storefront routes: authentication', () => {
  const storefront: [string, string, unknown][] = [
    ['POST', '/v1/checkout-sessions/button-config', {}],
    ['POST', '/v1/checkout-sessions', {}],
    ['POST', `/v1/checkouts/${SESSION_ID}/review`, {}],
    ['GET', `/v1/checkouts/${SESSION_ID}`, undefined],
    ['POST', amountPath, validAmount],
    ['POST', `/v1/checkouts/${SESSION_ID}/complete`, undefined],
    ['POST', `/v1/checkouts/${SESSION_ID}/capture`, {}],
    ['POST', `/v1/checkouts/${SESSION_ID}/cancel`, {}],
    ['POST', `/v1/checkouts/${SESSION_ID}/refunds`, { amount: { amount: '1.00', currencyCode: 'USD' } }],
    ['POST', `/v1/checkouts/${SESSION_ID}/close`, {}],
  ];

  it.each(storefront)('%s %s without a key: 401, Temporal untouched', async (method, path, body) => {
    const { app, touched } = testApp();
    const res = await app.request(path, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    await expectError(res, 401, 'unauthorized');
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(touched).not.toHaveBeenCalled();
  });

  it.each([
    ['wrong bearer key', { authorization: 'Bearer sk_test_wrong' }],
    ['key differing in its last character', { authorization: 'Bearer sk_test_4242424242424243' }],
    ['prefix of a valid key', { authorization: 'Bearer sk_test_4242' }],
    ['valid key plus a suffix', { authorization: 'Bearer sk_test_4242424242424242x' }],
    ['wrong x-api-key', { 'x-api-key': 'nope' }],
    ['Basic scheme', { authorization: 'Basic c2tfdGVzdA==' }],
    ['empty bearer', { authorization: 'Bearer ' }],
  ])('%s: 401', async (_name, headers) => {
    const { app, touched } = testApp();
    const res = await post(app, amountPath, validAmount, { ...headers, 'content-type': 'application/json' });
    await expectError(res, 401, 'unauthorized');
    expect(touched).not.toHaveBeenCalled();
  });

  it.each([
    ['Authorization: Bearer', { authorization: 'Bearer sk_test_4242424242424242' }],
    ['lower-case bearer', { authorization: 'bearer sk_test_4242424242424242' }],
    ['x-api-key', { 'x-api-key': 'sk_test_4242424242424242' }],
    ['second configured key', { 'x-api-key': 'sk_test_other' }],
  ])('accepts the key via %s', async (_name, headers) => {
    const { app } = testApp();
    const res = await post(
      app,
      '/v1/checkout-sessions/button-config',
      { amount: { amount: '10.00', currencyCode: 'USD' }, checkoutReviewReturnUrl: 'https://shop.example/review' },
      { ...headers, 'content-type': 'application/json' },
    );
    expect(res.status).toBe(200);
  });

  it('with no keys configured, every storefront request is rejected', async () => {
    const { app } = testApp({ apiKeys: [] });
    const res = await post(app, amountPath, validAmount);
    await expectError(res, 401, 'unauthorized');
  });

  it('auth is checked before the body: an unauthenticated oversized body is a 401, not a 413', async () => {
    const { app } = testApp();
    const res = await post(app, amountPath, 'x'.repeat(10_000), { 'content-type': 'application/json' });
    await expectError(res, 401, 'unauthorized');
  });
});

describe('button-config', () => {
  it('signs the Create Checkout Session payload with the store id', async () => {
    const { app, touched } = testApp();
    const res = await post(app, '/v1/checkout-sessions/button-config', {
      amount: { amount: '25.50', currencyCode: 'EUR' },
      checkoutReviewReturnUrl: 'https://shop.example/review',
      checkoutCancelUrl: 'https://shop.example/cart',
      merchantReferenceId: 'cart-7',
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      storeId: 'amzn1.application-oa2-client.0123456789abcdef0123456789abcdef',
      publicKeyId: 'SANDBOX-KEY',
      algorithm: 'AMZN-PAY-RSASSA-PSS-V2',
      signature: 'c2lnbmF0dXJl',
      productType: 'PayAndShip',
      estimatedOrderAmount: { amount: '25.50', currencyCode: 'EUR' },
    });
    expect(JSON.parse(body.payloadJSON as string)).toEqual({
      webCheckoutDetails: {
        checkoutReviewReturnUrl: 'https://shop.example/review',
        checkoutCancelUrl: 'https://shop.example/cart',
      },
      storeId: 'amzn1.application-oa2-client.0123456789abcdef0123456789abcdef',
      chargePermissionType: 'OneTime',
      merchantMetadata: { merchantReferenceId: 'cart-7' },
    });
    expect(touched).not.toHaveBeenCalled();
  });

  it.each([
    ['missing return URL', { amount: { amount: '1.00', currencyCode: 'USD' } }],
    [
      'non-http return URL',
      { amount: { amount: '1.00', currencyCode: 'USD' }, checkoutReviewReturnUrl: 'javascript:alert(1)' },
    ],
    [
      'unknown currency',
      { amount: { amount: '1.00', currencyCode: 'XYZ' }, checkoutReviewReturnUrl: 'https://shop.example/r' },
    ],
    [
      'recurring is not offered here',
      {
        amount: { amount: '1.00', currencyCode: 'USD' },
        checkoutReviewReturnUrl: 'https://shop.example/r',
        chargePermissionType: 'Recurring',
      },
    ],
    [
      'SignIn product type',
      {
        amount: { amount: '1.00', currencyCode: 'USD' },
        checkoutReviewReturnUrl: 'https://shop.example/r',
        productType: 'SignIn',
      },
    ],
  ])('%s: 400', async (_name, body) => {
    const { app } = testApp();
    await expectError(await post(app, '/v1/checkout-sessions/button-config', body), 400, 'validation_error');
  });
});

describe('server-side session creation', () => {
  const body = { amount: { amount: '1.00', currencyCode: 'USD' }, checkoutReviewReturnUrl: 'https://shop.example/r' };

  it('requires an Idempotency-Key', async () => {
    const { app, touched } = testApp({ createSessionWorkflowType: 'createCheckoutSessionWorkflow' });
    await expectError(await post(app, '/v1/checkout-sessions', body), 400, 'idempotency_key_required');
    expect(touched).not.toHaveBeenCalled();
  });

  it('answers 501 when no creation workflow is configured, without touching Temporal', async () => {
    const { app, touched } = testApp();
    const res = await post(app, '/v1/checkout-sessions', body, { ...jsonHeaders, 'idempotency-key': 'create-1' });
    await expectError(res, 501, 'not_implemented');
    expect(touched).not.toHaveBeenCalled();
  });
});

describe('input validation: bad input changes nothing', () => {
  it('malformed JSON: 400 invalid_json', async () => {
    const { app, touched } = testApp();
    await expectError(await post(app, amountPath, '{"chargeAmount": '), 400, 'invalid_json');
    expect(touched).not.toHaveBeenCalled();
  });

  it('a body that is not application/json: 415', async () => {
    const { app, touched } = testApp();
    await expectError(
      await post(app, amountPath, 'chargeAmount=1', { ...auth, 'content-type': 'application/x-www-form-urlencoded' }),
      415,
      'unsupported_media_type',
    );
    await expectError(await post(app, amountPath, JSON.stringify(validAmount), auth), 415, 'unsupported_media_type');
    expect(touched).not.toHaveBeenCalled();
  });

  it.each([
    ['three decimals', '1.234'],
    ['negative', '-5'],
    ['not a number', 'abc'],
    ['zero', '0.00'],
    ['leading zero', '014.00'],
    ['exponent', '1e3'],
    ['trailing dot', '14.'],
    ['whitespace', ' 14.00'],
    ['above 150000', '150000.01'],
    ['empty', ''],
  ])('amount %s (%j): 400 naming the field', async (_name, amount) => {
    const { app, touched } = testApp();
    const res = await post(app, amountPath, { ...validAmount, chargeAmount: { amount, currencyCode: 'USD' } });
    const error = await expectError(res, 400, 'validation_error');
    expect(error.message).toContain('chargeAmount');
    expect(touched).not.toHaveBeenCalled();
  });

  it('accepts the maximum amounts: 150000 USD and 10,000,000 JPY (validation passes, so it reaches Temporal)', async () => {
    for (const chargeAmount of [
      { amount: '150000.00', currencyCode: 'USD' },
      { amount: '10000000', currencyCode: 'JPY' },
    ]) {
      const { app, touched } = testApp();
      await post(app, amountPath, { ...validAmount, chargeAmount });
      expect(touched).toHaveBeenCalled();
    }
  });

  it.each([
    ['JPY with decimals', { amount: '100.50', currencyCode: 'JPY' }],
    ['JPY above 10,000,000', { amount: '10000001', currencyCode: 'JPY' }],
    ['amount as a JSON number', { amount: 14, currencyCode: 'USD' }],
    ['lower-case currency', { amount: '14.00', currencyCode: 'usd' }],
    ['currency not offered by Amazon Pay', { amount: '14.00', currencyCode: 'CAD' }],
    ['extra field in the price', { amount: '14.00', currencyCode: 'USD', tax: '1.00' }],
  ])('%s: 400', async (_name, chargeAmount) => {
    const { app, touched } = testApp();
    await expectError(await post(app, amountPath, { ...validAmount, chargeAmount }), 400, 'validation_error');
    expect(touched).not.toHaveBeenCalled();
  });

  it.each([
    ['wrong type for a boolean', { canHandlePendingAuthorization: 'yes' }],
    ['unknown payment intent', { paymentIntent: 'Sale' }],
    ['unknown field (typo)', { chargeAmmount: { amount: '1.00', currencyCode: 'USD' } }],
    ['over-long merchantReferenceId', { merchantReferenceId: 'x'.repeat(257) }],
    ['over-long noteToBuyer', { noteToBuyer: 'x'.repeat(256) }],
    ['over-long merchantStoreName', { merchantStoreName: 'x'.repeat(51) }],
    ['relative return URL', { checkoutResultReturnUrl: '/result' }],
    ['totalOrderAmount in another currency', { totalOrderAmount: { amount: '14.00', currencyCode: 'EUR' } }],
    ['totalOrderAmount below chargeAmount', { totalOrderAmount: { amount: '13.99', currencyCode: 'USD' } }],
    ['softDescriptor without capture', { softDescriptor: 'SHOP' }],
    ['body is an array', null],
  ])('%s: 400', async (_name, patch) => {
    const { app, touched } = testApp();
    const body = patch === null ? [validAmount] : { ...validAmount, ...patch };
    await expectError(await post(app, amountPath, body), 400, 'validation_error');
    expect(touched).not.toHaveBeenCalled();
  });

  it('missing required fields: 400 listing each', async () => {
    const { app } = testApp();
    const error = (await expectError(await post(app, amountPath, {}), 400, 'validation_error')) as {
      details?: { issues: { path: string }[] };
    };
    const paths = error.details?.issues.map((i) => i.path) ?? [];
    expect(paths).toEqual(
      expect.arrayContaining([
        'chargeAmount',
        'paymentIntent',
        'canHandlePendingAuthorization',
        'merchantReferenceId',
        'checkoutResultReturnUrl',
      ]),
    );
  });

  it.each([
    ['capture', `/v1/checkouts/${SESSION_ID}/capture`, { amount: { amount: '1.234', currencyCode: 'USD' } }],
    [
      'capture with an unknown field',
      `/v1/checkouts/${SESSION_ID}/capture`,
      { amount: { amount: '1.00', currencyCode: 'USD' }, final: true },
    ],
    ['refund without amount', `/v1/checkouts/${SESSION_ID}/refunds`, {}],
    ['refund of -5', `/v1/checkouts/${SESSION_ID}/refunds`, { amount: { amount: '-5', currencyCode: 'USD' } }],
    ['cancel with an over-long reason', `/v1/checkouts/${SESSION_ID}/cancel`, { reason: 'x'.repeat(256) }],
    ['close with a numeric reason', `/v1/checkouts/${SESSION_ID}/close`, { reason: 42 }],
    ['review with an unknown field', `/v1/checkouts/${SESSION_ID}/review`, { amount: '1.00' }],
  ])('%s: 400', async (_name, path, body) => {
    const { app, touched } = testApp();
    await expectError(await post(app, path, body, keyed), 400, 'validation_error');
    expect(touched).not.toHaveBeenCalled();
  });

  it('a malformed checkout session id in the path: 400', async () => {
    const { app, touched } = testApp();
    await expectError(await app.request('/v1/checkouts/bad%20id%3B', { headers: auth }), 400, 'validation_error');
    await expectError(await post(app, `/v1/checkouts/${'a'.repeat(101)}/complete`, ''), 400, 'validation_error');
    expect(touched).not.toHaveBeenCalled();
  });

  it.each([
    ['charge', `/v1/checkouts/${SESSION_ID}/charge`, {}],
    ['capture', `/v1/checkouts/${SESSION_ID}/capture`, {}],
    ['refund', `/v1/checkouts/${SESSION_ID}/refunds`, { amount: { amount: '1.00', currencyCode: 'USD' } }],
  ])('a %s without an Idempotency-Key: 400 idempotency_key_required, nothing sent', async (_name, path, body) => {
    // Without a key a retry after a timeout cannot be told from a second charge, capture or refund.
    const { app, touched } = testApp();
    const error = await expectError(await post(app, path, body), 400, 'idempotency_key_required');
    expect(error.message).toMatch(/Idempotency-Key/);
    expect(touched).not.toHaveBeenCalled();
  });

  it('the OpenAPI document says charge, capture and refund require the key', async () => {
    const { openApiDocument } = await import('../openapi');
    const doc = openApiDocument() as unknown as {
      paths: Record<string, Record<string, { parameters?: { name: string; in: string; required?: boolean }[] }>>;
    };
    for (const op of ['charge', 'capture', 'refunds']) {
      const params = doc.paths[`/v1/checkouts/{checkoutSessionId}/${op}`]!.post!.parameters ?? [];
      expect(params.find((p) => p.in === 'header' && p.name === 'idempotency-key')).toMatchObject({ required: true });
    }
  });

  it('a malformed Idempotency-Key: 400', async () => {
    const { app, touched } = testApp();
    const res = await post(
      app,
      `/v1/checkouts/${SESSION_ID}/refunds`,
      { amount: { amount: '1.00', currencyCode: 'USD' } },
      { ...jsonHeaders, 'idempotency-key': 'has spaces' },
    );
    await expectError(res, 400, 'validation_error');
    expect(touched).not.toHaveBeenCalled();
  });

  it('a body over the limit: 413, with or without Content-Length', async () => {
    const { app, touched } = testApp();
    const big = JSON.stringify({ ...validAmount, noteToBuyer: 'x'.repeat(5000) });
    await expectError(
      await post(app, amountPath, big, { ...jsonHeaders, 'content-length': String(big.length) }),
      413,
      'payload_too_large',
    );
    const stream = new Blob([big]).stream();
    const res = await app.request(amountPath, {
      method: 'POST',
      headers: jsonHeaders,
      body: stream,
      duplex: 'half',
    } as RequestInit);
    await expectError(res, 413, 'payload_too_large');
    expect(touched).not.toHaveBeenCalled();
  });
});

describe('buyer return handler', () => {
  it('needs no API key but does need the session id', async () => {
    const { app, touched } = testApp();
    await expectError(await app.request('/v1/return/result'), 400, 'validation_error');
    await expectError(
      await app.request('/v1/return/result?amazonCheckoutSessionId=%3Cscript%3E'),
      400,
      'validation_error',
    );
    expect(touched).not.toHaveBeenCalled();
  });
});

describe('Temporal unreachable', () => {
  it('answers 503 temporal_unavailable in the error shape', async () => {
    // Nothing listens on port 1; no retry interceptor, so the failure is immediate.
    const connection = Connection.lazy({ address: '127.0.0.1:1', interceptors: [] });
    const temporal = new Client({ connection });
    const { app } = testApp({ temporal, temporalTimeoutMs: 5000 });
    try {
      await expectError(
        await app.request(`/v1/checkouts/${SESSION_ID}`, { headers: auth }),
        503,
        'temporal_unavailable',
      );
      const review = await post(app, `/v1/checkouts/${SESSION_ID}/review`, {});
      // A client told to retry is told when: Retry-After, as for every 503 and 504.
      expect(review.headers.get('retry-after')).toMatch(/^\d+$/);
      await expectError(review, 503, 'temporal_unavailable');
      await expectError(
        await app.request(`/v1/return/result?amazonCheckoutSessionId=${SESSION_ID}`),
        503,
        'temporal_unavailable',
      );
    } finally {
      await connection.close();
    }
  });
});
