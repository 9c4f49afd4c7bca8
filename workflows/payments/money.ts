import type { Price } from '../checkout-messages';

/** Amounts in minor units (cents; JPY has none), so sums and limits never suffer float rounding. */
export const decimalsOf = (currencyCode: string): number => (currencyCode === 'JPY' ? 0 : 2);

export function toMinor(price: Price): number {
  const decimals = decimalsOf(price.currencyCode);
  const m = /^(\d+)(?:\.(\d+))?$/.exec(String(price.amount).trim());
  if (!m || (m[2] ?? '').length > decimals)
    throw new RangeError(`invalid amount ${price.amount} ${price.currencyCode}`);
  return Number(m[1]) * 10 ** decimals + Number((m[2] ?? '').padEnd(decimals, '0') || '0');
}

export function fromMinor(minor: number, currencyCode: string): Price {
  const decimals = decimalsOf(currencyCode);
  if (decimals === 0) return { amount: String(minor), currencyCode };
  return { amount: `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`, currencyCode };
}

export const samePrice = (a: Price | null | undefined, b: Price | null | undefined): boolean =>
  !!a && !!b && a.currencyCode === b.currencyCode && toMinor(a) === toMinor(b);

/**
 * Amazon lets the refunds of a charge exceed the captured amount by 15% or 75 units of
 * USD/GBP/EUR, whichever is less; anything above is answered with TransactionAmountExceeded.
 */
export function refundLimitMinor(captured: Price): number {
  const capturedMinor = toMinor(captured);
  const tolerance = Math.floor(capturedMinor * 0.15);
  const cap = ['USD', 'GBP', 'EUR'].includes(captured.currencyCode)
    ? 75 * 10 ** decimalsOf(captured.currencyCode)
    : tolerance;
  return capturedMinor + Math.min(tolerance, cap);
}
