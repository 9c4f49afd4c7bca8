import { createHash } from 'node:crypto';
import { InvalidIdempotencyKeyError } from './errors';

const KEY_LENGTH = 32;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
// Amazon documents [A-Za-z0-9_-], but the .NET SDK says dashes are unsupported: generated keys stay alphanumeric.
const ACCEPTED_KEY = /^[A-Za-z0-9_-]{1,32}$/;
// Versioned so a future change of derivation can never collide with keys Amazon already stored (it keeps them forever).
const DOMAIN = 'amazon-pay-idempotency/v1\n';

/**
 * Deterministic 32-char [A-Za-z0-9] key for a business operation chosen by a workflow,
 * e.g. 'checkout/<sessionId>/capture/2'. Every retry of that operation sends the same key, so Amazon
 * replays the first answer instead of charging twice.
 */
export function idempotencyKeyFor(operationId: string): string {
  if (operationId.length === 0) throw new InvalidIdempotencyKeyError('operationId must not be empty');
  const digest = createHash('sha256')
    .update(DOMAIN + operationId, 'utf8')
    .digest();
  // 256 bits give 43 base62 digits; the first 32 keep about 190 bits.
  let n = BigInt(`0x${digest.toString('hex')}`);
  let key = '';
  while (key.length < KEY_LENGTH) {
    key += BASE62[Number(n % 62n)];
    n /= 62n;
  }
  return key;
}

/** Throws InvalidIdempotencyKeyError unless `key` is 1..32 chars of [A-Za-z0-9_-]. */
export function assertIdempotencyKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || !ACCEPTED_KEY.test(key)) {
    const shown = typeof key === 'string' ? `'${key.slice(0, 40)}' (${key.length} chars)` : String(key);
    throw new InvalidIdempotencyKeyError(
      `x-amz-pay-idempotency-key must be 1..32 characters of [A-Za-z0-9_-], got ${shown}`,
    );
  }
}
