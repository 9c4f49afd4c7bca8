import { Writable } from 'node:stream';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../observability/logger';
import { requestLog } from './request-log';

function app() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const hono = new Hono();
  hono.use(requestLog(createLogger({ level: 'debug', destination })));
  hono.get('/health', (c) => c.json({ ok: true }));
  hono.post('/v1/checkouts/:checkoutSessionId/refunds', (c) => c.json({ requestId: c.get('requestId') }, 201));
  hono.get('/boom', (c) => c.json({}, 503));
  return { hono, lines };
}

describe('request log', () => {
  it('one line per request: id, method, route pattern, status and duration; never the path, query, headers or body', async () => {
    const { hono, lines } = app();
    const res = await hono.request('/v1/checkouts/s-123/refunds?email=jane.doe@example.com', {
      method: 'POST',
      headers: { authorization: 'Bearer sk_secret', 'content-type': 'application/json' },
      body: JSON.stringify({ buyer: 'Jane Doe' }),
    });
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await res.json()).toEqual({ requestId: id });
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'info',
        msg: 'request',
        requestId: id,
        method: 'POST',
        route: '/v1/checkouts/:checkoutSessionId/refunds',
        status: 201,
        durationMs: expect.any(Number),
      }),
    ]);
    expect(JSON.stringify(lines)).not.toMatch(/s-123|jane|sk_secret|Jane/);
  });

  it('keeps a caller’s plain X-Request-Id and replaces anything else', async () => {
    const { hono } = app();
    expect(
      (await hono.request('/health', { headers: { 'x-request-id': 'shop-42.a' } })).headers.get('x-request-id'),
    ).toBe('shop-42.a');
    const odd = (await hono.request('/health', { headers: { 'x-request-id': 'x'.repeat(200) } })).headers.get(
      'x-request-id',
    );
    expect(odd).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('logs probes at debug and 5xx at error', async () => {
    const { hono, lines } = app();
    await hono.request('/health');
    await hono.request('/boom');
    expect(lines.map((l) => [l.level, l.route, l.msg])).toEqual([
      ['debug', '/health', 'request'],
      ['error', '/boom', 'request failed'],
    ]);
  });
});
