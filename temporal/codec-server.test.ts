import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec, generateCodecKey, parseCodecKeys } from './codec';
import { createCodecRoutes } from './codec-server';

const token = 'operator-token-0123456789';
const codec = new EncryptionCodec(parseCodecKeys(generateCodecKey('k1')));
const app = createCodecRoutes({
  codec,
  tokens: [token],
  allowedOrigins: ['http://127.0.0.1:8233'],
  bodyLimitBytes: 64 * 1024,
});

const toJson = (value: unknown) => {
  const p = defaultPayloadConverter.toPayload(value);
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
    data: Buffer.from(p.data!).toString('base64'),
  };
};
const post = (path: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${token}` }) =>
  app.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('codec server (Temporal remote codec protocol)', () => {
  it('encodes and decodes {payloads:[...]} in order', async () => {
    const payloads = [toJson({ name: 'Jane Doe' }), toJson('second')];
    const encoded = await post('/codec/encode', { payloads });
    expect(encoded.status).toBe(200);
    const encBody = (await encoded.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
    expect(encBody.payloads).toHaveLength(2);
    expect(Buffer.from(encBody.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('binary/encrypted');
    expect(Buffer.from(encBody.payloads[0]!.data, 'base64').includes('Jane')).toBe(false);
    const decoded = await post('/codec/decode', encBody);
    expect(decoded.status).toBe(200);
    expect(await decoded.json()).toEqual({ payloads });
  });

  it('accepts the credential in the path, for the Web UI whose codec setting is a URL', async () => {
    const encoded = (await (await post(`/codec/${token}/encode`, { payloads: [toJson(1)] }, {})).json()) as {
      payloads: unknown[];
    };
    const decoded = await post(`/codec/${token}/decode`, encoded, { 'x-namespace': 'default' });
    expect(decoded.status).toBe(200);
    expect(await decoded.json()).toEqual({ payloads: [toJson(1)] });
  });

  it('refuses without the credential, with a wrong one, or a wrong one in the path: 401', async () => {
    for (const [path, headers] of [
      ['/codec/decode', {}],
      ['/codec/decode', { authorization: 'Bearer nope' }],
      ['/codec/encode', { authorization: token }],
      ['/codec/wrong-token-0123456789/decode', {}],
    ] as const) {
      const res = await post(path, { payloads: [] }, headers);
      expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    }
  });

  it('answers the Web UI preflight for its origin only, without a credential', async () => {
    const preflight = (origin: string) =>
      app.request('/codec/decode', {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,x-namespace,authorization',
        },
      });
    const ok = await preflight('http://127.0.0.1:8233');
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8233');
    expect(ok.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-namespace');
    expect(ok.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(ok.headers.get('access-control-allow-methods')).toContain('POST');
    const other = await preflight('https://attacker.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const answered = await post(
      '/codec/decode',
      { payloads: [] },
      { authorization: `Bearer ${token}`, origin: 'http://127.0.0.1:8233' },
    );
    expect(answered.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8233');
  });

  it('400 on a malformed body, 413 over the size cap, 400 on a payload it cannot decrypt', async () => {
    expect((await post('/codec/decode', 'not json')).status).toBe(400);
    expect((await post('/codec/decode', { payload: [] })).status).toBe(400);
    expect((await post('/codec/decode', { payloads: [{ data: 'not base64!' }] })).status).toBe(400);
    expect((await post('/codec/decode', { payloads: Array.from({ length: 1001 }, () => ({})) })).status).toBe(400);
    expect((await post('/codec/decode', { payloads: [{ data: 'A'.repeat(70 * 1024) }] })).status).toBe(413);
    const foreign = await new EncryptionCodec(parseCodecKeys(generateCodecKey('other'))).encode([
      defaultPayloadConverter.toPayload(1),
    ]);
    const res = await post('/codec/decode', {
      payloads: foreign.map((p) => ({
        metadata: Object.fromEntries(
          Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')]),
        ),
        data: Buffer.from(p.data!).toString('base64'),
      })),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('key "other"');
  });

  it('serves nothing when no credential is configured', async () => {
    const closed = createCodecRoutes({ codec, tokens: [], allowedOrigins: [] });
    expect((await closed.request('/codec/decode', { method: 'POST', body: '{"payloads":[]}' })).status).toBe(401);
  });
});
