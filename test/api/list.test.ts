import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from '../support/stack';
import { until } from '../support/until';
import { openCheckout, finalAmount, paidCheckout } from '../checkout/helpers';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
});

const get = async (path: string) => {
  const res = await stack.app.request(path, { headers: { authorization: `Bearer ${stack.apiKey}` } });
  return {
    status: res.status,
    body: (await res.json()) as {
      data: Array<{ id: string; status: string; merchantReferenceId: string }>;
      nextCursor: string | null;
      error?: { code: string };
    },
  };
};

describe('GET /v1/checkouts (Temporal visibility)', () => {
  it('filters by merchant reference and status, pages with a cursor, refuses a forged cursor', async () => {
    const ref = `order-${randomUUID().slice(0, 8)}`;
    const opened = [];
    for (let i = 0; i < 3; i++) opened.push(await openCheckout(stack, { merchantReferenceId: ref }));
    const paid = await paidCheckout(
      stack,
      finalAmount('3.00', 'AuthorizeWithCapture', { merchantReferenceId: ref }),
      'happy',
      { merchantReferenceId: ref },
    );
    const all = await until(async () => {
      const r = await get(`/v1/checkouts?merchantReferenceId=${ref}&limit=100`);
      return r.body.data.length === 4 && r.body.data;
    }, 'all four in visibility');
    expect(new Set(all.map((c) => c.id))).toEqual(
      new Set([...opened.map((o) => o.checkoutSessionId), paid.checkoutSessionId]),
    );
    expect(all.every((c) => c.merchantReferenceId === ref)).toBe(true);

    const captured = await until(async () => {
      const r = await get(`/v1/checkouts?merchantReferenceId=${ref}&status=Captured`);
      return r.body.data.length === 1 && r.body.data;
    }, 'the captured one');
    expect(captured[0]!.id).toBe(paid.checkoutSessionId);

    const first = await get(`/v1/checkouts?merchantReferenceId=${ref}&limit=3`);
    expect(first.body.data).toHaveLength(3);
    expect(first.body.nextCursor).toBeTruthy();
    const second = await get(`/v1/checkouts?merchantReferenceId=${ref}&limit=3&cursor=${first.body.nextCursor}`);
    expect(second.body.data).toHaveLength(1);
    expect(new Set([...first.body.data, ...second.body.data].map((c) => c.id)).size).toBe(4);

    const future = await get(
      `/v1/checkouts?merchantReferenceId=${ref}&createdAfter=${new Date(Date.now() + 3600_000).toISOString()}`,
    );
    expect(future.body.data).toHaveLength(0);
    // limit=0x10 and limit=1e1 were read as 16 and 10 (found by the chaos suite's hostile input).
    for (const bad of [
      'limit=0',
      'limit=abc',
      'limit=0x10',
      'limit=1e1',
      'limit=%205',
      'createdAfter=yesterday',
      "status=x'%20OR%20'1",
      'cursor=%00%01',
    ]) {
      const r = await get(`/v1/checkouts?${bad}`);
      expect(r.status, bad).toBe(400);
    }
    const forged = await get('/v1/checkouts?cursor=AAAAAAAAAAAA');
    expect(forged.status).toBe(400);
    for (const o of opened) await o.handle.terminate('test done');
  });
});
