import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AmazonPayClient, amazonPayClientFromCredentials, resolveEndpoint } from './client';
import { AmazonPayError, InvalidIdempotencyKeyError } from './errors';
import { idempotencyKeyFor } from './idempotency';
import { verifySignature } from './signing';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privatePem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();

interface Recorded {
  method: string;
  path: string;
  query: string;
  headers: IncomingHttpHeaders;
  body: string;
}

type Handler = (req: Recorded, res: ServerResponse) => void;

/** A tiny stand-in for pay-api.amazon.com: records every request, answers with the current handler. */
class FakeAmazon {
  readonly requests: Recorded[] = [];
  handler: Handler = (_req, res) => json(res, 500, { reasonCode: 'InternalServerError', message: 'no handler' });
  private server!: Server;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const [path = '', query = ''] = (req.url ?? '').split('?');
        const recorded = {
          method: req.method ?? '',
          path,
          query,
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        this.requests.push(recorded);
        this.handler(recorded, res);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amz-pay-request-id': 'req-0001', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

const checkoutSession = {
  checkoutSessionId: 'bd504926-f659-4ad7-a1a9-9a747aaf5275',
  webCheckoutDetails: {
    checkoutReviewReturnUrl: 'https://shop.example/review',
    checkoutResultReturnUrl: null,
    amazonPayRedirectUrl: null,
  },
  productType: 'PayAndShip',
  paymentDetails: {
    paymentIntent: null,
    canHandlePendingAuthorization: false,
    chargeAmount: { amount: '14.00', currencyCode: 'USD' },
    totalOrderAmount: null,
  },
  chargePermissionType: 'OneTime',
  recurringMetadata: null,
  buyer: {
    buyerId: 'amzn1.account.AH0EXAMPLE',
    name: 'Jane Doe',
    email: 'jane@example.com',
    phoneNumber: null,
    primeMembershipTypes: null,
  },
  paymentPreferences: [null],
  shippingAddressList: ['{"name":"Jane Doe","city":"Chicago","countryCode":"US"}'],
  statusDetails: { state: 'Open', reasonCode: null, reasonDescription: null, lastUpdatedTimestamp: '20250105T101414Z' },
  constraints: [{ constraintId: 'CheckoutResultReturnUrlNotSet', description: 'checkoutResultReturnUrl is not set.' }],
  chargePermissionId: null,
  chargeId: null,
  creationTimestamp: '20250105T101414Z',
  expirationTimestamp: '20250106T101414Z',
  releaseEnvironment: 'Sandbox',
  someFieldAmazonAddedLater: { nested: true },
};

const charge = {
  chargeId: 'S01-5105180-3221187-C056351',
  chargePermissionId: 'S01-5105180-3221187',
  chargeAmount: { amount: '14.00', currencyCode: 'USD' },
  captureAmount: null,
  refundedAmount: null,
  convertedAmount: null,
  conversionRate: null,
  softDescriptor: null,
  statusDetails: {
    state: 'Authorized',
    reasonCode: null,
    reasonDescription: null,
    lastUpdatedTimestamp: '20250205T102001Z',
  },
  creationTimestamp: '20250205T102000Z',
  expirationTimestamp: '20250307T102000Z',
  releaseEnvironment: 'Sandbox',
};

const chargePermission = {
  chargePermissionId: 'S01-5105180-3221187',
  chargePermissionReferenceId: null,
  chargePermissionType: 'Recurring',
  recurringMetadata: { frequency: { unit: 'Month', value: '1' }, amount: { amount: '14.00', currencyCode: 'USD' } },
  limits: {
    amountLimit: { amount: '1000.00', currencyCode: 'USD' },
    amountBalance: { amount: '986.00', currencyCode: 'USD' },
  },
  statusDetails: { state: 'Closed', reasons: null, lastUpdatedTimestamp: '20250105T102000Z' },
  creationTimestamp: '20250105T102000Z',
  expirationTimestamp: null,
  presentmentCurrency: 'USD',
  releaseEnvironment: 'Sandbox',
};

const amazon = new FakeAmazon();
let client: AmazonPayClient;

beforeAll(() => amazon.start());
afterAll(() => amazon.stop());
beforeEach(() => {
  amazon.requests.length = 0;
  client = new AmazonPayClient({
    publicKeyId: 'AHQFEVJWJAA5IVOODKT2TXUZ',
    privateKey: privatePem,
    region: 'eu',
    sandbox: true,
    baseUrl: `http://127.0.0.1:${amazon.port}`,
    timeoutMs: 2_000,
  });
});

function only(): Recorded {
  expect(amazon.requests).toHaveLength(1);
  return amazon.requests[0]!;
}

function signatureOf(req: Recorded) {
  return verifySignature(
    { method: req.method, path: req.path, rawQuery: req.query, headers: req.headers, body: req.body },
    publicKey,
  );
}

describe('endpoints', () => {
  it('puts the environment in the path for legacy key ids', () => {
    expect(resolveEndpoint({ publicKeyId: 'AHQFEVJWJAA5IVOODKT2TXUZ', region: 'eu', sandbox: true })).toEqual({
      origin: 'https://pay-api.amazon.eu',
      host: 'pay-api.amazon.eu',
      pathPrefix: '/sandbox/v2',
    });
    expect(resolveEndpoint({ publicKeyId: 'AHQFEVJWJAA5IVOODKT2TXUZ', region: 'na', sandbox: false })).toEqual({
      origin: 'https://pay-api.amazon.com',
      host: 'pay-api.amazon.com',
      pathPrefix: '/live/v2',
    });
  });

  it('uses /v2 for SANDBOX-/LIVE- key ids in any case, whatever the sandbox flag says', () => {
    expect(resolveEndpoint({ publicKeyId: 'LIVE-AFVX7ULWSGBZ5535PCUQOY7B', region: 'jp', sandbox: true })).toEqual({
      origin: 'https://pay-api.amazon.jp',
      host: 'pay-api.amazon.jp',
      pathPrefix: '/v2',
    });
    expect(
      resolveEndpoint({ publicKeyId: 'sandbox-afvx7ulwsgbz5535pcuqoy7b', region: 'na', sandbox: false }).pathPrefix,
    ).toBe('/v2');
  });

  it('takes host[:port] of a baseUrl override for x-amz-pay-host, dropping only a default port', () => {
    expect(
      resolveEndpoint({ publicKeyId: 'SANDBOX-X', region: 'na', sandbox: true, baseUrl: 'http://127.0.0.1:4010' }),
    ).toEqual({
      origin: 'http://127.0.0.1:4010',
      host: '127.0.0.1:4010',
      pathPrefix: '/v2',
    });
    expect(
      resolveEndpoint({ publicKeyId: 'AHQ', region: 'na', sandbox: false, baseUrl: 'https://sim.example:443/amazon/' }),
    ).toEqual({
      origin: 'https://sim.example',
      host: 'sim.example',
      pathPrefix: '/amazon/live/v2',
    });
  });

  it('rejects an unusable configuration at construction', () => {
    expect(
      () => new AmazonPayClient({ publicKeyId: 'K', privateKey: 'not a key', region: 'na', sandbox: true }),
    ).toThrow(/privateKey/);
    expect(
      () =>
        new AmazonPayClient({
          publicKeyId: 'K',
          privateKey: privatePem,
          region: 'na',
          sandbox: true,
          baseUrl: 'ftp://x',
        }),
    ).toThrow(/http/);
  });
});

describe('requests on the wire', () => {
  it('GET: signed headers with host:port, basic-format date, no body, no idempotency key; parses a tolerant response', async () => {
    amazon.handler = (_req, res) => json(res, 200, checkoutSession);
    const session = await client.getCheckoutSession(checkoutSession.checkoutSessionId);

    const req = only();
    expect(req.method).toBe('GET');
    expect(req.path).toBe(`/sandbox/v2/checkoutSessions/${checkoutSession.checkoutSessionId}`);
    expect(req.headers['x-amz-pay-host']).toBe(`127.0.0.1:${amazon.port}`);
    expect(req.headers['x-amz-pay-region']).toBe('eu');
    expect(req.headers['x-amz-pay-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(req.headers['x-amz-pay-idempotency-key']).toBeUndefined();
    expect(req.body).toBe('');
    expect(signatureOf(req)).toMatchObject({
      valid: true,
      algorithm: 'AMZN-PAY-RSASSA-PSS-V2',
      signedHeaders: ['accept', 'content-type', 'x-amz-pay-date', 'x-amz-pay-host', 'x-amz-pay-region'],
    });

    expect(session.statusDetails.state).toBe('Open');
    expect(session.paymentDetails?.chargeAmount).toEqual({ amount: '14.00', currencyCode: 'USD' });
    expect(session.expirationTimestamp).toBe('20250106T101414Z');
    expect(session.shippingAddressList?.[0]).toMatchObject({ name: 'Jane Doe', city: 'Chicago' });
    expect(session.constraints?.map((c) => c.constraintId)).toEqual(['CheckoutResultReturnUrlNotSet']);
    expect((session as Record<string, unknown>)['someFieldAmazonAddedLater']).toEqual({ nested: true });
  });

  it('POST: sends and signs the idempotency key and simulation code, body as JSON; parses a 201 Charge', async () => {
    amazon.handler = (_req, res) => json(res, 201, charge);
    const key = idempotencyKeyFor('subscription/sub-42/cycle/2');
    const body = {
      chargePermissionId: charge.chargePermissionId,
      chargeAmount: { amount: '14.00', currencyCode: 'USD' },
      captureNow: false,
    };
    const result = await client.createCharge(body, { idempotencyKey: key, simulationCode: 'HardDeclined' });

    const req = only();
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/sandbox/v2/charges');
    expect(req.headers['x-amz-pay-idempotency-key']).toBe(key);
    expect(req.headers['x-amz-pay-simulation-code']).toBe('HardDeclined');
    expect(JSON.parse(req.body)).toEqual(body);
    const verification = signatureOf(req);
    expect(verification.valid && verification.signedHeaders).toEqual(
      expect.arrayContaining(['x-amz-pay-idempotency-key', 'x-amz-pay-simulation-code']),
    );
    expect(result.statusDetails.state).toBe('Authorized');
    expect(result.chargeAmount.amount).toBe('14.00');
  });

  it.each([
    [
      'captureCharge',
      'POST',
      `/sandbox/v2/charges/${charge.chargeId}/capture`,
      () =>
        client.captureCharge(
          charge.chargeId,
          { captureAmount: { amount: '14.00', currencyCode: 'USD' } },
          { idempotencyKey: 'k1' },
        ),
    ],
    [
      'cancelCharge',
      'DELETE',
      `/sandbox/v2/charges/${charge.chargeId}/cancel`,
      () => client.cancelCharge(charge.chargeId, { cancellationReason: 'Out of stock' }),
    ],
  ] as const)('%s: %s %s with a JSON body', async (_name, method, path, run) => {
    amazon.handler = (_req, res) => json(res, 200, charge);
    await run();
    const req = only();
    expect([req.method, req.path]).toEqual([method, path]);
    expect(req.body).not.toBe('');
    expect(signatureOf(req).valid).toBe(true);
  });

  it('closeChargePermission: DELETE with a JSON body; null reasons become an empty array', async () => {
    amazon.handler = (_req, res) => json(res, 200, chargePermission);
    const cp = await client.closeChargePermission(chargePermission.chargePermissionId, {
      closureReason: 'Subscription Cancelled',
      cancelPendingCharges: false,
    });
    const req = only();
    expect(req.method).toBe('DELETE');
    expect(req.path).toBe(`/sandbox/v2/chargePermissions/${chargePermission.chargePermissionId}/close`);
    expect(JSON.parse(req.body)).toEqual({ closureReason: 'Subscription Cancelled', cancelPendingCharges: false });
    expect(cp.statusDetails).toEqual({ state: 'Closed', reasons: [], lastUpdatedTimestamp: '20250105T102000Z' });
    expect(cp.limits?.amountBalance?.amount).toBe('986.00');
  });

  it('parses Charge Permission reasons as an array', async () => {
    amazon.handler = (_req, res) =>
      json(res, 200, {
        ...chargePermission,
        statusDetails: {
          state: 'NonChargeable',
          reasons: [
            { reasonCode: 'PaymentMethodInvalid', reasonDescription: null },
            { reasonCode: 'ChargeInProgress' },
          ],
          lastUpdatedTimestamp: '20250106T000000Z',
        },
      });
    const cp = await client.getChargePermission(chargePermission.chargePermissionId);
    expect(cp.statusDetails.reasons.map((r) => r.reasonCode)).toEqual(['PaymentMethodInvalid', 'ChargeInProgress']);
  });

  it('completeCheckoutSession sends no idempotency key unless given one', async () => {
    amazon.handler = (_req, res) =>
      json(res, 200, { ...checkoutSession, statusDetails: { ...checkoutSession.statusDetails, state: 'Completed' } });
    await client.completeCheckoutSession(checkoutSession.checkoutSessionId, {
      chargeAmount: { amount: '14.00', currencyCode: 'USD' },
    });
    await client.completeCheckoutSession(
      checkoutSession.checkoutSessionId,
      { chargeAmount: { amount: '14.00', currencyCode: 'USD' } },
      { idempotencyKey: 'complete_1' },
    );
    expect(amazon.requests.map((r) => r.headers['x-amz-pay-idempotency-key'])).toEqual([undefined, 'complete_1']);
    expect(amazon.requests[0]!.path).toBe(`/sandbox/v2/checkoutSessions/${checkoutSession.checkoutSessionId}/complete`);
  });

  it('amazonPayClientFromCredentials honours region, environment, algorithm and baseUrl', async () => {
    amazon.handler = (_req, res) =>
      json(res, 200, {
        refundId: 'S01-1-R1',
        chargeId: 'S01-1-C1',
        refundAmount: { amount: '1', currencyCode: 'JPY' },
        statusDetails: { state: 'RefundInitiated', lastUpdatedTimestamp: '20250105T102000Z' },
        creationTimestamp: '20250105T102000Z',
      });
    const fromCreds = amazonPayClientFromCredentials({
      publicKeyId: 'LIVE-ABC',
      privateKey: privatePem,
      region: 'jp',
      sandbox: true,
      algorithm: 'AMZN-PAY-RSASSA-PSS',
      timeoutMs: 1_000,
      baseUrl: `http://127.0.0.1:${amazon.port}`,
    });
    const refund = await fromCreds.getRefund('S01-1-R1');
    const req = only();
    expect(req.path).toBe('/v2/refunds/S01-1-R1');
    expect(req.headers['x-amz-pay-region']).toBe('jp');
    expect(signatureOf(req)).toMatchObject({ valid: true, algorithm: 'AMZN-PAY-RSASSA-PSS', publicKeyId: 'LIVE-ABC' });
    expect(refund.statusDetails.state).toBe('RefundInitiated');
  });
});

async function failure(promise: Promise<unknown>): Promise<AmazonPayError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AmazonPayError);
  return err as AmazonPayError;
}

describe('error mapping', () => {
  it('429 TooManyRequests is retryable', async () => {
    amazon.handler = (_req, res) =>
      json(res, 429, { reasonCode: 'TooManyRequests', message: 'The request was throttled.' });
    const err = await failure(client.getCharge(charge.chargeId));
    expect(err).toMatchObject({
      name: 'AmazonPayError',
      status: 429,
      reasonCode: 'TooManyRequests',
      retryable: true,
      requestId: 'req-0001',
    });
  });

  it('422 InvalidCheckoutSessionStatus is not retryable and carries reasonCode, message and requestId', async () => {
    amazon.handler = (_req, res) =>
      json(
        res,
        422,
        {
          reasonCode: 'InvalidCheckoutSessionStatus',
          message:
            'You tried to call an operation on a Checkout Session that is in a state where that operation is not allowed',
        },
        { 'x-amz-pay-request-id': 'b1c2-request' },
      );
    const err = await failure(
      client.completeCheckoutSession(
        checkoutSession.checkoutSessionId,
        { chargeAmount: { amount: '14.00', currencyCode: 'USD' } },
        { idempotencyKey: 'k' },
      ),
    );
    expect(err).toMatchObject({
      status: 422,
      reasonCode: 'InvalidCheckoutSessionStatus',
      retryable: false,
      requestId: 'b1c2-request',
    });
    expect(err.message).toBe(
      'You tried to call an operation on a Checkout Session that is in a state where that operation is not allowed',
    );
  });

  it('500 is retryable', async () => {
    amazon.handler = (_req, res) => json(res, 500, { reasonCode: 'InternalServerError', message: 'boom' });
    expect(await failure(client.getRefund('S01-1-R1'))).toMatchObject({
      status: 500,
      reasonCode: 'InternalServerError',
      retryable: true,
    });
  });

  it('a gateway error page without an Amazon body stays retryable', async () => {
    amazon.handler = (_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>Bad Gateway</html>');
    };
    expect(await failure(client.getRefund('S01-1-R1'))).toMatchObject({
      status: 502,
      reasonCode: 'InvalidResponse',
      retryable: true,
    });
  });

  it('a 200 with a malformed JSON body is InvalidResponse, not retryable', async () => {
    amazon.handler = (_req, res) => json(res, 200, '{"chargeId": "S01-');
    expect(await failure(client.getCharge(charge.chargeId))).toMatchObject({
      status: 200,
      reasonCode: 'InvalidResponse',
      retryable: false,
      requestId: 'req-0001',
    });
  });

  it.each([
    ['an amount as a number', { ...charge, chargeAmount: { amount: 14, currencyCode: 'USD' } }],
    [
      'an extended-format timestamp',
      { ...charge, statusDetails: { ...charge.statusDetails, lastUpdatedTimestamp: '2025-02-05T10:20:01Z' } },
    ],
    ['an unknown state', { ...charge, statusDetails: { ...charge.statusDetails, state: 'Pending' } }],
    ['a missing id', { ...charge, chargeId: undefined }],
  ])('a response with %s is InvalidResponse', async (_what, body) => {
    amazon.handler = (_req, res) => json(res, 200, body);
    expect(await failure(client.getCharge(charge.chargeId))).toMatchObject({
      reasonCode: 'InvalidResponse',
      retryable: false,
    });
  });

  it('times out as Timeout, status 0, retryable', async () => {
    amazon.handler = () => undefined; // never answers
    const slow = new AmazonPayClient({
      publicKeyId: 'SANDBOX-X',
      privateKey,
      region: 'na',
      sandbox: true,
      baseUrl: `http://127.0.0.1:${amazon.port}`,
      timeoutMs: 150,
    });
    const started = Date.now();
    const err = await failure(slow.getCharge(charge.chargeId));
    expect(err).toMatchObject({ status: 0, reasonCode: 'Timeout', retryable: true });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('a refused connection is NetworkError, status 0, retryable', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const offline = new AmazonPayClient({
      publicKeyId: 'SANDBOX-X',
      privateKey,
      region: 'na',
      sandbox: true,
      baseUrl: `http://127.0.0.1:${closedPort}`,
    });
    expect(await failure(offline.getCharge(charge.chargeId))).toMatchObject({
      status: 0,
      reasonCode: 'NetworkError',
      retryable: true,
    });
  });
});

describe('call outcomes (metrics)', () => {
  it("tells onCall the operation, Amazon's status and reason code of every call, and status 0 when no answer came", async () => {
    const outcomes: Array<{ operation: string; status: number; reasonCode: string | undefined }> = [];
    const observed = new AmazonPayClient({
      publicKeyId: 'SANDBOX-X',
      privateKey,
      region: 'na',
      sandbox: true,
      baseUrl: `http://127.0.0.1:${amazon.port}`,
      timeoutMs: 2_000,
      onCall: ({ operation, status, reasonCode, durationMs }) => {
        expect(durationMs).toBeGreaterThanOrEqual(0);
        outcomes.push({ operation, status, reasonCode });
      },
    });
    amazon.handler = (_req, res) => json(res, 200, charge);
    await observed.getCharge(charge.chargeId);
    amazon.handler = (_req, res) => json(res, 429, { reasonCode: 'TooManyRequests', message: 'slow down' });
    await failure(
      observed.createRefund(
        { chargeId: charge.chargeId, refundAmount: { amount: '1.00', currencyCode: 'USD' } },
        { idempotencyKey: 'refund-key-1' },
      ),
    );
    amazon.handler = (_req, res) => json(res, 200, { not: 'a charge' });
    await failure(observed.getCharge(charge.chargeId));
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const offline = new AmazonPayClient({
      publicKeyId: 'SANDBOX-X',
      privateKey,
      region: 'na',
      sandbox: true,
      baseUrl: `http://127.0.0.1:${closedPort}`,
      onCall: (o) => outcomes.push(o),
    });
    await failure(offline.getCharge(charge.chargeId));
    expect(outcomes.map(({ operation, status, reasonCode }) => ({ operation, status, reasonCode }))).toEqual([
      { operation: 'getCharge', status: 200, reasonCode: undefined },
      { operation: 'createRefund', status: 429, reasonCode: 'TooManyRequests' },
      { operation: 'getCharge', status: 200, reasonCode: 'InvalidResponse' },
      { operation: 'getCharge', status: 0, reasonCode: 'NetworkError' },
    ]);
  });
});

describe('checked before sending', () => {
  const amount = { amount: '5.00', currencyCode: 'EUR' };

  it.each([
    ['empty', ''],
    ['33 characters', 'a'.repeat(33)],
    ['a space', 'abc def'],
    ['a slash', 'checkout/1/capture'],
  ])('rejects an idempotency key with %s and sends nothing', async (_what, key) => {
    const err = await failure(
      client.createRefund({ chargeId: charge.chargeId, refundAmount: amount }, { idempotencyKey: key }),
    );
    expect(err).toBeInstanceOf(InvalidIdempotencyKeyError);
    expect(err).toMatchObject({ reasonCode: 'InvalidIdempotencyKey', retryable: false, status: 0 });
    expect(amazon.requests).toHaveLength(0);
  });

  it('requires a key on createCheckoutSession, createCharge, captureCharge and createRefund', async () => {
    const missing = {} as { idempotencyKey: string };
    await failure(
      client.createCheckoutSession(
        { storeId: 's', webCheckoutDetails: { checkoutReviewReturnUrl: 'https://x' } },
        missing,
      ),
    );
    await failure(client.createCharge({ chargePermissionId: 'S01-1', chargeAmount: amount }, missing));
    await failure(client.captureCharge(charge.chargeId, { captureAmount: amount }, missing));
    await failure(client.createRefund({ chargeId: charge.chargeId, refundAmount: amount }, missing));
    expect(amazon.requests).toHaveLength(0);
  });

  it('rejects a malformed body or id as InvalidRequest and sends nothing', async () => {
    const numeric = {
      chargePermissionId: 'S01-1',
      chargeAmount: { amount: 5, currencyCode: 'EUR' },
    } as unknown as Parameters<AmazonPayClient['createCharge']>[0];
    expect(await failure(client.createCharge(numeric, { idempotencyKey: 'k' }))).toMatchObject({
      reasonCode: 'InvalidRequest',
      retryable: false,
    });
    const typo = { chargeId: charge.chargeId, refundAmmount: amount } as unknown as Parameters<
      AmazonPayClient['createRefund']
    >[0];
    expect(await failure(client.createRefund(typo, { idempotencyKey: 'k' }))).toMatchObject({
      reasonCode: 'InvalidRequest',
    });
    expect(await failure(client.getCharge('../refunds/x'))).toMatchObject({ reasonCode: 'InvalidRequest' });
    expect(await failure(client.getRefund('..'))).toMatchObject({ reasonCode: 'InvalidRequest' });
    expect(await failure(client.cancelCharge('', {}))).toMatchObject({ reasonCode: 'InvalidRequest' });
    expect(amazon.requests).toHaveLength(0);
  });

  it('rejects amounts with too many decimals for the currency and a soft descriptor without captureNow, sending nothing', async () => {
    const yen = { chargePermissionId: 'S01-1', chargeAmount: { amount: '1400.50', currencyCode: 'JPY' } };
    expect(await failure(client.createCharge(yen, { idempotencyKey: 'k' }))).toMatchObject({
      reasonCode: 'InvalidRequest',
      retryable: false,
    });
    const mills = { captureAmount: { amount: '5.005', currencyCode: 'EUR' } };
    expect(await failure(client.captureCharge(charge.chargeId, mills, { idempotencyKey: 'k' }))).toMatchObject({
      reasonCode: 'InvalidRequest',
    });
    const descriptor = { chargePermissionId: 'S01-1', chargeAmount: amount, softDescriptor: 'SHOP' };
    expect(await failure(client.createCharge(descriptor, { idempotencyKey: 'k' }))).toMatchObject({
      reasonCode: 'InvalidRequest',
    });
    expect(amazon.requests).toHaveLength(0);
  });
});
