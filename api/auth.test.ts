import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { describe, expect, it, vi } from 'vitest';
import { apiKeyAuth, matchesAnyKey, presentedKey } from './auth';

const { timingSafeEqual } = vi.hoisted(() => ({ timingSafeEqual: vi.fn() }));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  timingSafeEqual.mockImplementation(actual.timingSafeEqual);
  return { ...actual, timingSafeEqual };
});

const digest = (s: string) => createHash('sha256').update(s).digest();

describe('matchesAnyKey', () => {
  it('compares equal-length digests with timingSafeEqual, against every key, even after a match', () => {
    timingSafeEqual.mockClear();
    const keys = ['first-key', 'second', 'a-much-longer-third-key-value'].map(digest);
    expect(matchesAnyKey('first-key', keys)).toBe(true);
    expect(timingSafeEqual).toHaveBeenCalledTimes(3);
    for (const [a, b] of timingSafeEqual.mock.calls as [Buffer, Buffer][]) {
      expect(a.length).toBe(32);
      expect(b.length).toBe(32);
    }
  });

  it('a key of another length is compared the same way (no early length check) and rejected', () => {
    timingSafeEqual.mockClear();
    expect(matchesAnyKey('x', [digest('first-key')])).toBe(false);
    expect(matchesAnyKey('first-key-and-more', [digest('first-key')])).toBe(false);
    expect(timingSafeEqual).toHaveBeenCalledTimes(2);
  });

  it('no configured key matches nothing', () => {
    expect(matchesAnyKey('', [])).toBe(false);
  });
});

describe('presentedKey', () => {
  it.each([
    ['Bearer abc', undefined, 'abc'],
    ['bearer abc', undefined, 'abc'],
    ['Bearer  abc ', undefined, 'abc'],
    [undefined, 'abc', 'abc'],
    ['Bearer abc', 'other', 'abc'],
    ['Basic abc', undefined, null],
    ['Bearer', undefined, null],
    ['Bearer a b', undefined, null],
    [undefined, '', null],
    [undefined, undefined, null],
  ])('Authorization %j, x-api-key %j -> %j', (authorization, apiKey, expected) => {
    expect(presentedKey(authorization, apiKey)).toBe(expected);
  });
});

describe('apiKeyAuth', () => {
  const app = new Hono().get('/p', apiKeyAuth(['k1', 'k2']), (c) => c.json({ ok: true }));

  it('401 in the error shape without a key, with a wrong key, with an empty configuration', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }, { 'x-api-key': 'k' }] as Record<string, string>[]) {
      const res = await app.request('/p', { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    }
    const closed = new Hono().get('/p', apiKeyAuth(['']), (c) => c.text('ok'));
    expect((await closed.request('/p', { headers: { 'x-api-key': '' } })).status).toBe(401);
  });

  it('passes with either configured key in either header', async () => {
    expect((await app.request('/p', { headers: { authorization: 'Bearer k2' } })).status).toBe(200);
    expect((await app.request('/p', { headers: { 'x-api-key': 'k1' } })).status).toBe(200);
  });
});
