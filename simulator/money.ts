import { AmazonPayApiError } from './errors';

export const CURRENCIES = ['AUD', 'GBP', 'DKK', 'EUR', 'HKD', 'JPY', 'NZD', 'NOK', 'ZAR', 'SEK', 'CHF', 'USD'] as const;
export type CurrencyCode = (typeof CURRENCIES)[number];

/** Amounts are kept in minor units so that totals and the refund tolerance never suffer float rounding. */
export interface Money {
  minor: number;
  currencyCode: CurrencyCode;
}

export interface Price {
  amount: string;
  currencyCode: string;
}

export const decimalsOf = (currency: CurrencyCode) => (currency === 'JPY' ? 0 : 2);

/** Accepts a JSON number or a numeric string, as .NET sends numbers and the other SDKs strings. */
export function parsePrice(input: { amount: string | number; currencyCode: string }, field: string): Money {
  const currencyCode = input.currencyCode as CurrencyCode;
  if (!CURRENCIES.includes(currencyCode)) {
    throw new AmazonPayApiError(
      400,
      'InvalidParameterValue',
      `The value provided for ${field}.currencyCode is invalid.`,
    );
  }
  const raw = typeof input.amount === 'number' ? String(input.amount) : input.amount.trim();
  const decimals = decimalsOf(currencyCode);
  const match = /^(\d+)(?:\.(\d+))?$/.exec(raw);
  if (!match || (match[2] ?? '').length > decimals) {
    throw new AmazonPayApiError(400, 'InvalidParameterValue', `The value provided for ${field}.amount is invalid.`);
  }
  const whole = Number(match[1]);
  const fraction = Number((match[2] ?? '').padEnd(decimals, '0') || '0');
  const minor = whole * 10 ** decimals + fraction;
  if (minor <= 0) {
    throw new AmazonPayApiError(400, 'InvalidParameterValue', `The value provided for ${field}.amount is invalid.`);
  }
  return { minor, currencyCode };
}

export function formatMinor(minor: number, currencyCode: CurrencyCode): string {
  const decimals = decimalsOf(currencyCode);
  if (decimals === 0) return String(minor);
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

export const toPrice = (m: Money): Price => ({
  amount: formatMinor(m.minor, m.currencyCode),
  currencyCode: m.currencyCode,
});

export const money = (minor: number, currencyCode: CurrencyCode): Money => ({ minor, currencyCode });

/** Maximum single charge/refund amount per currency (docs: US $150,000, JP ¥10,000,000). */
export const maxTransactionMinor = (currency: CurrencyCode) => (currency === 'JPY' ? 10_000_000 : 150_000 * 100);
