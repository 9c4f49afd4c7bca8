// Every route of the composed API, taken from its own OpenAPI document, answers bad input with a
// 4xx in our error shape and never reaches Temporal: the Temporal client here points at a port
// where nothing listens, so any request that got through would surface as a 5xx.
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from './app';
import { silentIpnLogger } from './ipn';

const connection = await Connection.connect({ address: '127.0.0.1:1', connectTimeout: 100 }).catch(() => undefined);
const client = new Client({ connection: connection ?? Connection.lazy({ address: '127.0.0.1:1' }) });
afterAll(async () => {
  await connection?.close();
});

const apiKey = 'unit-test-key';
const app = createApp({
  checkout: {
    temporal: client,
    taskQueue: 'never-used',
    apiKeys: [apiKey],
    buttonSigner: {
      buttonConfig: () => ({
        payloadJSON: '{}',
        signature: 's',
        publicKeyId: 'k',
        algorithm: 'AMZN-PAY-RSASSA-PSS-V2',
      }),
    },
    storeId: 'amzn1.application-oa2-client.00000000000000000000000000000000',
    bodyLimitBytes: 1024,
    temporalTimeoutMs: 2000,
  },
  ipn: {
    temporal: client,
    taskQueue: 'never-used',
    path: '/amazon-pay/ipn',
    certHostPattern: /^127\.0\.0\.1$/,
    confirmSubscriptions: false,
    bodyLimitBytes: 1024,
    logger: silentIpnLogger,
  },
  onUnexpectedError: (err) => {
    throw new Error(`unexpected error reached the global handler: ${String(err)}`);
  },
});

const doc = (await (await app.request('/openapi.json')).json()) as {
  paths: Record<string, { post?: { requestBody?: unknown } }>;
};
const concrete = (path: string) => path.replace(/\{[^}]+\}/g, '6f3f1f0e-0000-4000-8000-000000000000');
const postRoutes = Object.entries(doc.paths)
  .filter(([, ops]) => ops.post)
  .map(([path]) => concrete(path));
// Routes that take no body (complete) ignore one, as GETs do; every route that takes one validates it.
const routesWithBody = Object.entries(doc.paths)
  .filter(([, ops]) => ops.post?.requestBody)
  .map(([path]) => concrete(path));

const auth = { authorization: `Bearer ${apiKey}`, 'idempotency-key': 'fuzz-key-1' };
const badBodies: Array<[string, string, Record<string, string>]> = [
  ['malformed JSON', '{"amount": ', { 'content-type': 'application/json' }],
  ['a JSON array', '[1,2,3]', { 'content-type': 'application/json' }],
  [
    'wrong types',
    '{"chargeAmount": 12, "amount": true, "paymentIntent": 7, "checkoutReviewReturnUrl": 5}',
    { 'content-type': 'application/json' },
  ],
  ['an oversized body', JSON.stringify({ pad: 'x'.repeat(4096) }), { 'content-type': 'application/json' }],
];

async function expectClientError(res: Response) {
  expect(res.status, await res.clone().text()).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  const body = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
  expect(typeof body.error?.code).toBe('string');
  expect(typeof body.error?.message).toBe('string');
  expect(JSON.stringify(body)).not.toMatch(/\n\s+at /);
}

describe('the composed API under bad input', () => {
  it('documents the storefront routes it serves', () => {
    expect(postRoutes.length).toBeGreaterThanOrEqual(9);
    expect(routesWithBody.length).toBeGreaterThanOrEqual(8);
  });

  for (const [name, body, headers] of badBodies) {
    it(`answers ${name} with a 4xx in the error shape on every POST route with a body, without reaching Temporal`, async () => {
      for (const path of routesWithBody) {
        await expectClientError(await app.request(path, { method: 'POST', body, headers: { ...auth, ...headers } }));
      }
    });
  }

  it('refuses every storefront POST without an API key (401), whatever the body', async () => {
    for (const path of postRoutes) {
      const res = await app.request(path, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status).toBe(401);
      await expectClientError(res);
    }
  });

  it('answers unknown routes and methods with 404 in the error shape', async () => {
    await expectClientError(await app.request('/v1/nothing-here'));
    await expectClientError(await app.request('/v1/checkouts', { method: 'DELETE' }));
  });

  it('answers malformed IPNs with 400 and oversized ones with 413, never signaling anything', async () => {
    const ipn = (body: string) =>
      app.request('/amazon-pay/ipn', {
        method: 'POST',
        body,
        headers: { 'content-type': 'text/plain; charset=UTF-8' },
      });
    await expectClientError(await ipn('not json'));
    await expectClientError(await ipn('{"Type":"Notification"}'));
    const big = await ipn(JSON.stringify({ pad: 'x'.repeat(4096) }));
    expect(big.status).toBe(413);
  });
});

describe('the API reference', () => {
  it('serves an interactive page at /docs that loads the very document /openapi.json serves', async () => {
    const page = await app.request('/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('SwaggerUIBundle');
    expect(html).toMatch(/swagger-ui-dist@5\/swagger-ui-bundle\.js/);
    const specUrl = /url: '([^']+)'/.exec(html)?.[1];
    expect(specUrl).toBeDefined();
    // The page resolves the document relative to itself, as a browser does.
    const resolved = new URL(specUrl!, 'http://api.example/docs');
    const spec = await app.request(resolved.pathname);
    expect(spec.status).toBe(200);
    expect(await spec.json()).toEqual(doc);
    expect(Object.keys(doc.paths)).toContain('/v1/checkouts/{checkoutSessionId}/capture');
  });
});
