import { constants, createHash, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { AmazonPayClient } from './client';
import {
  amzDate,
  buildCanonicalRequest,
  buildStringToSign,
  canonicalQueryString,
  canonicalUri,
  SALT_LENGTH,
  sha256Hex,
  signRequest,
  verifySignature,
  type QueryParams,
  type SigningAlgorithm,
} from './signing';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function pssVerify(key: KeyObject, message: string, signatureB64: string, saltLength: number): boolean {
  return verify(
    'sha256',
    Buffer.from(message),
    { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength },
    Buffer.from(signatureB64, 'base64'),
  );
}

describe('canonical request (§6.3)', () => {
  it('reproduces the documented example byte for byte, blank line after the headers included', () => {
    const documented = [
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
      '0b6c19dc5bc1883ebd68d3c77ee929922c6b4a59e0a506d96c45e0c024c3295b',
    ].join('\n');
    // Header order and case on input must not matter: they are lower-cased and sorted.
    const { canonicalRequest, signedHeaders } = buildCanonicalRequest({
      method: 'post',
      path: '/live/v2/checkoutSessions',
      headers: {
        'x-amz-pay-region': 'na',
        'X-Amz-Pay-Idempotency-Key': 'cllHyiNvS8cJ8Zas',
        'x-amz-pay-host': 'pay-api.amazon.com',
        'Content-Type': 'application/json',
        'x-amz-pay-date': '20190923T231908Z',
        Accept: 'application/json',
      },
      payloadHash: '0b6c19dc5bc1883ebd68d3c77ee929922c6b4a59e0a506d96c45e0c024c3295b',
    });
    expect(canonicalRequest).toBe(documented);
    expect(signedHeaders).toBe(
      'accept;content-type;x-amz-pay-date;x-amz-pay-host;x-amz-pay-idempotency-key;x-amz-pay-region',
    );
  });

  it('hashes the exact body sent as the last line, and the empty string for a GET', () => {
    const headers = { accept: 'application/json', 'x-amz-pay-date': '20250101T000000Z' };
    const body = '{"chargeAmount":{"amount":"14.00","currencyCode":"USD"}}';
    const post = signRequest({
      algorithm: 'AMZN-PAY-RSASSA-PSS-V2',
      publicKeyId: 'K',
      privateKey,
      method: 'POST',
      path: '/v2/charges',
      headers,
      body,
    });
    expect(post.canonicalRequest.split('\n').at(-1)).toBe(createHash('sha256').update(body).digest('hex'));
    const get = signRequest({
      algorithm: 'AMZN-PAY-RSASSA-PSS-V2',
      publicKeyId: 'K',
      privateKey,
      method: 'GET',
      path: '/v2/charges/x',
      headers,
      body: '',
    });
    expect(get.canonicalRequest.split('\n').at(-1)).toBe(EMPTY_SHA256);
    expect(get.stringToSign).toBe(`AMZN-PAY-RSASSA-PSS-V2\n${sha256Hex(get.canonicalRequest)}`);
  });

  it('formats x-amz-pay-date in basic format', () => {
    expect(amzDate(new Date('2019-09-23T23:19:08.512Z'))).toBe('20190923T231908Z');
  });
});

// From amzn/amazon-pay-api-sdk-java tst/com/amazon/pay/api/testdata.js (Java's CreateStringToSignTest feeds these headers).
describe('Java SDK test vectors', () => {
  const headers = {
    accept: 'application/json',
    'content-type': 'application/json',
    'x-amz-pay-date': '20180524T223710Z',
    'x-amz-pay-host': 'pay-api.amazon.eu',
    'x-amz-pay-region': 'EU',
  };
  const headerBlock =
    'accept:application/json\ncontent-type:application/json\nx-amz-pay-date:20180524T223710Z\nx-amz-pay-host:pay-api.amazon.eu\nx-amz-pay-region:EU\n\n' +
    `accept;content-type;x-amz-pay-date;x-amz-pay-host;x-amz-pay-region\n${EMPTY_SHA256}`;
  const vectors: Array<{
    name: string;
    uri: string;
    method: string;
    params: QueryParams;
    canonicalUri: string;
    query: string;
    hash: string;
  }> = [
    {
      name: 'get-vanilla',
      uri: '/',
      method: 'GET',
      params: {},
      canonicalUri: '/',
      query: '',
      hash: 'bb49552975c396f1e49d5510e1555b8b0627dc491bc61aaefdb561f202ad8020',
    },
    {
      name: 'get-slashes',
      uri: '//foo//',
      method: 'GET',
      params: {},
      canonicalUri: '/',
      query: '',
      hash: 'bb49552975c396f1e49d5510e1555b8b0627dc491bc61aaefdb561f202ad8020',
    },
    {
      name: 'get-empty',
      uri: '',
      method: 'GET',
      params: {},
      canonicalUri: '/',
      query: '',
      hash: 'bb49552975c396f1e49d5510e1555b8b0627dc491bc61aaefdb561f202ad8020',
    },
    {
      name: 'get-unreserved',
      uri: '/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
      method: 'GET',
      params: {},
      canonicalUri: '/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
      query: '',
      hash: 'a0e5dd63e175587f29d51c6b08be5c746a568209ac66ab1f967e0ba515aa80bc',
    },
    {
      name: 'get-utf8',
      uri: '/\u1234',
      method: 'GET',
      params: {},
      canonicalUri: '/%E1%88%B4',
      query: '',
      hash: '77f6544c8fb336d430895659da1e30415a1558b4b013f4d7926bb3a6275f701d',
    },
    {
      name: 'get-vanilla-utf8-query',
      uri: '/',
      method: 'GET',
      params: { '\u1234': ['bar'] },
      canonicalUri: '/',
      query: '%E1%88%B4=bar',
      hash: 'ef1007307504f2ca9f0b6310b04056f5d3d6d18e7bf3d90663133f19ec132ecc',
    },
    {
      name: 'post-vanilla',
      uri: '/',
      method: 'POST',
      params: {},
      canonicalUri: '/',
      query: '',
      hash: '54156f5badd6da7fa630b2c334c808ad376530001d334ae9960457215aa626d3',
    },
    {
      name: 'post-vanilla-query',
      uri: '/',
      method: 'POST',
      params: { foo: ['bar'] },
      canonicalUri: '/',
      query: 'foo=bar',
      hash: 'cc82525870b2d03666c287fd8b2c0d2fc6fa1693d9f357d27f7cac8cbcc12832',
    },
    {
      name: 'get-vanilla-empty-query-key',
      uri: '/',
      method: 'GET',
      params: { foo: ['bar'] },
      canonicalUri: '/',
      query: 'foo=bar',
      hash: '6837f80baf1801c75db8119cffbadc26a89d20adb9cf3f3de4ce0fac31b4ae52',
    },
    {
      name: 'get-vanilla-query-order-value',
      uri: '/',
      method: 'GET',
      params: { foo: ['b', 'a'] },
      canonicalUri: '/',
      query: 'foo=a&foo=b',
      hash: 'a33266ec31c7f0ca8a0738eb49fb8c81319f14374a0b86d52e6911a9748a6d42',
    },
    {
      name: 'get-vanilla-query-order-key',
      uri: '/',
      method: 'GET',
      params: { b: ['foo'], a: ['foo'] },
      canonicalUri: '/',
      query: 'a=foo&b=foo',
      hash: '6615ba7ca3734e97b35013f77c74d111ce2fa63ab52be161ad41bcd4b010120f',
    },
    {
      name: 'get-vanilla-query-order-sort-by-key',
      uri: '/',
      method: 'GET',
      params: { 'A.2': ['foo'], 'A.10': ['foo'], 'A.1': ['foo'] },
      canonicalUri: '/',
      query: 'A.1=foo&A.10=foo&A.2=foo',
      hash: '29d908d70c4bb50d62272976787245b52ed52e569fdae56ef3aa6d8979978ee7',
    },
    {
      name: 'get-vanilla-query-order-key-case',
      uri: '/',
      method: 'GET',
      params: { foo: ['aha', 'Zoo'] },
      canonicalUri: '/',
      query: 'foo=Zoo&foo=aha',
      hash: 'f379cbd2e2fc9d5d50667a07ec22996335f731b474bb8bd366647d05d958c9d5',
    },
    {
      name: 'get-vanilla-query-unreserved',
      uri: '/',
      method: 'GET',
      params: {
        '-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz': [
          '-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
        ],
      },
      canonicalUri: '/',
      query:
        '-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
      hash: '892abddd6e79db3feb5695b318af639c3e863494f6b4df32ec24fff4c1562a73',
    },
    {
      name: 'post-vanilla-query-nonunreserved',
      uri: '/',
      method: 'POST',
      params: { '@#$%^&+=/,?><`";:\\|][{} ': ['@#$%^&+=/,?><`";:\\|][{} '] },
      canonicalUri: '/',
      query:
        '%40%23%24%25%5E%26%2B%3D%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D%20=%40%23%24%25%5E%26%2B%3D%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D%20',
      hash: '66bbbf2b5d6d297a9393abbc0b4f9d62e30666bb0ec0dea8f1d4e45551440e4c',
    },
    {
      name: 'post-vanilla-query-space',
      uri: '/',
      method: 'POST',
      params: { 'f oo': ['b ar'] },
      canonicalUri: '/',
      query: 'f%20oo=b%20ar',
      hash: '99be3aeb19b5a1aebafc807d59f3740d3e604ae31cf928592fa70739ea64bb32',
    },
  ];

  it.each(vectors)('$name', (v) => {
    expect(canonicalUri(v.uri)).toBe(v.canonicalUri);
    expect(canonicalQueryString(v.params)).toBe(v.query);
    const { canonicalRequest } = buildCanonicalRequest({
      method: v.method,
      path: v.uri,
      canonicalQuery: canonicalQueryString(v.params),
      headers,
      payloadHash: EMPTY_SHA256,
    });
    expect(canonicalRequest).toBe(`${v.method}\n${v.canonicalUri}\n${v.query}\n${headerBlock}`);
    expect(buildStringToSign('AMZN-PAY-RSASSA-PSS', canonicalRequest)).toBe(`AMZN-PAY-RSASSA-PSS\n${v.hash}`);
  });

  it('collapses repeated slashes inside a path', () => {
    expect(canonicalUri('/sandbox//v2///charges')).toBe('/sandbox/v2/charges');
  });
});

describe('RSASSA-PSS signatures', () => {
  const headers = {
    accept: 'application/json',
    'content-type': 'application/json',
    'x-amz-pay-date': amzDate(),
    'x-amz-pay-host': 'pay-api.amazon.eu',
    'x-amz-pay-region': 'eu',
  };
  const body = '{"chargePermissionId":"S01-0000000-0000000","chargeAmount":{"amount":"1.00","currencyCode":"EUR"}}';

  it.each<[SigningAlgorithm, number, number]>([
    ['AMZN-PAY-RSASSA-PSS-V2', 32, 20],
    ['AMZN-PAY-RSASSA-PSS', 20, 32],
  ])('%s verifies with salt %i and not with salt %i', (algorithm, rightSalt, wrongSalt) => {
    expect(SALT_LENGTH[algorithm]).toBe(rightSalt);
    const signed = signRequest({
      algorithm,
      publicKeyId: 'PK',
      privateKey,
      method: 'POST',
      path: '/sandbox/v2/charges',
      headers,
      body,
    });
    const signature = /Signature=(.+)$/.exec(signed.authorization)![1]!;
    expect(pssVerify(publicKey, signed.stringToSign, signature, rightSalt)).toBe(true);
    expect(pssVerify(publicKey, signed.stringToSign, signature, wrongSalt)).toBe(false);

    const received = {
      method: 'POST',
      path: '/sandbox/v2/charges',
      headers: { ...headers, authorization: signed.authorization },
      body,
    };
    expect(verifySignature(received, publicKey)).toMatchObject({ valid: true, algorithm, publicKeyId: 'PK' });
    expect(verifySignature(received, publicKey, { saltLength: wrongSalt }).valid).toBe(false);
    expect(verifySignature({ ...received, body: body.replace('1.00', '9.00') }, publicKey).valid).toBe(false);
    expect(verifySignature({ ...received, path: '/sandbox/v2/refunds' }, publicKey).valid).toBe(false);
    expect(
      verifySignature({ ...received, headers: { ...received.headers, 'x-amz-pay-host': 'evil.example' } }, publicKey)
        .valid,
    ).toBe(false);
    expect(verifySignature(received, otherKeys.publicKey).valid).toBe(false);
  });

  it('lists exactly the signed headers in the authorization header', () => {
    const signed = signRequest({
      algorithm: 'AMZN-PAY-RSASSA-PSS-V2',
      publicKeyId: 'SANDBOX-ABC',
      privateKey,
      method: 'GET',
      path: '/v2/charges/x',
      headers,
      body: '',
    });
    expect(signed.authorization).toMatch(
      /^AMZN-PAY-RSASSA-PSS-V2 PublicKeyId=SANDBOX-ABC, SignedHeaders=accept;content-type;x-amz-pay-date;x-amz-pay-host;x-amz-pay-region, Signature=[A-Za-z0-9+/]+=*$/,
    );
  });
});

interface SdkClient {
  getSignedHeaders(options: {
    method: string;
    urlFragment: string;
    payload: unknown;
    headers?: Record<string, string>;
    queryParams?: Record<string, string>;
  }): Record<string, string>;
  generateButtonSignature(payload: unknown): string;
}
type SdkClientCtor = new (config: Record<string, unknown>) => SdkClient;
const sdk = createRequire(import.meta.url)('@amazonpay/amazon-pay-api-sdk-nodejs') as { WebStoreClient: SdkClientCtor };

describe('interoperability with the official Node SDK', () => {
  const cases = [
    {
      algorithm: 'AMZN-PAY-RSASSA-PSS' as const,
      publicKeyId: 'AHQFEVJWJAA5IVOODKT2TXUZ',
      region: 'eu' as const,
      sandbox: true,
      path: '/sandbox/v2/charges',
      host: 'pay-api.amazon.eu',
    },
    {
      algorithm: 'AMZN-PAY-RSASSA-PSS-V2' as const,
      publicKeyId: 'LIVE-AFVX7ULWSGBZ5535PCUQOY7B',
      region: 'jp' as const,
      sandbox: false,
      path: '/v2/charges',
      host: 'pay-api.amazon.jp',
    },
  ];

  it.each(cases)('SDK and our client, $algorithm: both verify under the same recipe', async (c) => {
    const body = {
      chargePermissionId: 'S01-5105180-3221187',
      chargeAmount: { amount: '14.00', currencyCode: 'USD' },
      captureNow: true,
    };
    const idempotencyKey = 'abcDEF0123456789abcDEF0123456789';

    const sdkClient = new sdk.WebStoreClient({
      publicKeyId: c.publicKeyId,
      privateKey: privatePem,
      region: c.region,
      sandbox: c.sandbox,
      algorithm: c.algorithm,
    });
    const sdkPayload = JSON.stringify(body);
    const sdkHeaders = sdkClient.getSignedHeaders({
      method: 'POST',
      urlFragment: 'charges',
      payload: sdkPayload,
      headers: { 'x-amz-pay-idempotency-key': idempotencyKey },
    });
    expect(sdkHeaders['authorization']).toContain(`${c.algorithm} PublicKeyId=${c.publicKeyId}`);
    const sdkResult = verifySignature(
      { method: 'POST', path: c.path, headers: sdkHeaders, body: sdkPayload },
      publicKey,
    );
    expect(sdkResult).toMatchObject({ valid: true, algorithm: c.algorithm });
    // The SDK signs user-agent and extended-format dates; the verifier trusts the SignedHeaders list as sent.
    expect(sdkResult.valid && sdkResult.signedHeaders).toContain('user-agent');

    let sent: { url: string; init: RequestInit } | undefined;
    const client = new AmazonPayClient({
      publicKeyId: c.publicKeyId,
      privateKey: privatePem,
      region: c.region,
      sandbox: c.sandbox,
      algorithm: c.algorithm,
      fetch: async (url, init) => {
        sent = { url: String(url), init: init! };
        return new Response('{"reasonCode":"InvalidRequest","message":"stop here"}', { status: 400 });
      },
    });
    await expect(client.createCharge(body, { idempotencyKey })).rejects.toMatchObject({ reasonCode: 'InvalidRequest' });
    const url = new URL(sent!.url);
    expect(`${url.protocol}//${url.host}${url.pathname}`).toBe(`https://${c.host}${c.path}`);
    const ours = {
      method: sent!.init.method!,
      path: url.pathname,
      headers: sent!.init.headers as Record<string, string>,
      body: sent!.init.body as string,
    };
    expect(verifySignature(ours, publicKey)).toMatchObject({
      valid: true,
      algorithm: c.algorithm,
      publicKeyId: c.publicKeyId,
    });
    // The SDK's canonical request, rebuilt from our headers, yields the same SignedHeaders recipe (minus user-agent).
    expect(ours.headers['authorization']).toContain(
      'SignedHeaders=accept;content-type;x-amz-pay-date;x-amz-pay-host;x-amz-pay-idempotency-key;x-amz-pay-region,',
    );
  });

  it('button signatures: ours and the SDK both verify over alg + "\\n" + hex(sha256(payloadJSON))', () => {
    const payload = {
      storeId: 'amzn1.application-oa2-client.8b5e45312b5248b69eeaEXAMPLE',
      webCheckoutDetails: { checkoutReviewReturnUrl: 'https://shop.example/review?x=1&y=/é' },
    };
    for (const algorithm of ['AMZN-PAY-RSASSA-PSS-V2', 'AMZN-PAY-RSASSA-PSS'] as const) {
      const client = new AmazonPayClient({
        publicKeyId: 'SANDBOX-KEY',
        privateKey: privatePem,
        region: 'na',
        sandbox: true,
        algorithm,
      });
      const config = client.buttonConfig(payload);
      expect(config).toMatchObject({ payloadJSON: JSON.stringify(payload), publicKeyId: 'SANDBOX-KEY', algorithm });
      const message = `${algorithm}\n${sha256Hex(config.payloadJSON)}`;
      expect(pssVerify(publicKey, message, config.signature, SALT_LENGTH[algorithm])).toBe(true);
      expect(
        pssVerify(
          publicKey,
          `${algorithm}\n${sha256Hex(config.payloadJSON + ' ')}`,
          config.signature,
          SALT_LENGTH[algorithm],
        ),
      ).toBe(false);

      const sdkSignature = new sdk.WebStoreClient({
        publicKeyId: 'SANDBOX-KEY',
        privateKey: privatePem,
        region: 'us',
        sandbox: true,
        algorithm,
      }).generateButtonSignature(config.payloadJSON);
      expect(pssVerify(publicKey, message, sdkSignature, SALT_LENGTH[algorithm])).toBe(true);
    }
  });

  it('a payload string is signed exactly as given, not re-serialised', () => {
    const client = new AmazonPayClient({
      publicKeyId: 'SANDBOX-KEY',
      privateKey: privatePem,
      region: 'eu',
      sandbox: true,
    });
    const exact = '{"storeId":"s", "webCheckoutDetails":{"checkoutReviewReturnUrl":"https:\\/\\/shop.example\\/r"}}';
    const config = client.buttonConfig(exact);
    expect(config.payloadJSON).toBe(exact);
    expect(pssVerify(publicKey, `AMZN-PAY-RSASSA-PSS-V2\n${sha256Hex(exact)}`, config.signature, 32)).toBe(true);
  });
});
