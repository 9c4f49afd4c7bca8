import { describe, expect, it } from 'vitest';
import { InvalidIdempotencyKeyError } from './errors';
import { assertIdempotencyKey, idempotencyKeyFor } from './idempotency';

describe('idempotencyKeyFor', () => {
  it('is deterministic: the same operation always gets the same key', () => {
    const op = 'checkout/bd504926-f659-4ad7-a1a9-9a747aaf5275/capture/2';
    expect(idempotencyKeyFor(op)).toBe(idempotencyKeyFor(op));
    // Pinned: a change of derivation would re-key operations Amazon already stored and allow double charges.
    expect(idempotencyKeyFor(op)).toBe('4o0BgfgnKioqn32KYEAomr4xzZtZd8Rs');
  });

  it('gives 32 characters of [A-Za-z0-9], accepted by assertIdempotencyKey', () => {
    for (const op of ['a', 'checkout/x/complete', 'subscription/sub-42/cycle/9999', 'ü/ñ/🙂', 'x'.repeat(10_000)]) {
      const key = idempotencyKeyFor(op);
      expect(key).toMatch(/^[A-Za-z0-9]{32}$/);
      expect(() => assertIdempotencyKey(key)).not.toThrow();
    }
  });

  it('gives different keys to different operations, including near-identical ones', () => {
    const ops = Array.from({ length: 2_000 }, (_, i) => `subscription/sub-42/cycle/${i}`);
    ops.push('checkout/1/capture/1', 'checkout/1/capture/1 ', 'Checkout/1/capture/1', 'checkout/1/refund/1');
    expect(new Set(ops.map(idempotencyKeyFor)).size).toBe(ops.length);
  });

  it('refuses an empty operation id', () => {
    expect(() => idempotencyKeyFor('')).toThrow(InvalidIdempotencyKeyError);
  });
});

describe('assertIdempotencyKey', () => {
  it.each(['a', 'A-b_c', 'x'.repeat(32), '0123456789abcdef0123456789ABCDEF'])('accepts %s', (key) => {
    expect(() => assertIdempotencyKey(key)).not.toThrow();
  });

  it.each(['', 'x'.repeat(33), 'has space', 'slash/y', 'dot.y', 'ümlaut'])('rejects %j', (key) => {
    expect(() => assertIdempotencyKey(key)).toThrow(InvalidIdempotencyKeyError);
  });
});
