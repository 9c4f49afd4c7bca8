import { describe, expect, it } from 'vitest';
import { captureChargeRequestSchema, createChargeRequestSchema, updateCheckoutSessionRequestSchema } from './schemas';

const price = (amount: string, currencyCode: string) => ({ amount, currencyCode });
const issuePaths = (result: { success: boolean; error?: { issues: Array<{ path: PropertyKey[] }> } }) =>
  result.success ? [] : result.error!.issues.map((i) => i.path.map(String).join('.'));

describe('request prices (§2.1: JPY has no decimals, the other currencies two)', () => {
  it.each([
    ['1400', 'JPY'],
    ['14', 'USD'],
    ['14.5', 'EUR'],
    ['14.00', 'GBP'],
  ])('accepts %s %s', (amount, currencyCode) => {
    expect(captureChargeRequestSchema.safeParse({ captureAmount: price(amount, currencyCode) }).success).toBe(true);
  });

  it.each([
    ['1400.5', 'JPY'],
    ['1400.00', 'JPY'],
    ['1.234', 'USD'],
    ['1.001', 'EUR'],
    ['9.999', 'GBP'],
  ])('rejects %s %s before it is sent', (amount, currencyCode) => {
    const result = captureChargeRequestSchema.safeParse({ captureAmount: price(amount, currencyCode) });
    expect(issuePaths(result)).toEqual(['captureAmount.amount']);
  });

  it('applies to nested prices too (paymentDetails)', () => {
    const result = updateCheckoutSessionRequestSchema.safeParse({
      paymentDetails: { chargeAmount: price('10.5', 'JPY') },
    });
    expect(issuePaths(result)).toEqual(['paymentDetails.chargeAmount.amount']);
  });
});

describe('Create Charge softDescriptor (§2.5: only with captureNow true)', () => {
  const base = { chargePermissionId: 'S01-0000000-0000000', chargeAmount: price('14.00', 'USD') };

  it('accepts it with captureNow true', () => {
    expect(
      createChargeRequestSchema.safeParse({ ...base, captureNow: true, softDescriptor: 'EXAMPLE SUB' }).success,
    ).toBe(true);
  });

  it.each([
    ['captureNow absent', {}],
    ['captureNow false', { captureNow: false }],
  ])('rejects it with %s', (_what, extra) => {
    const result = createChargeRequestSchema.safeParse({ ...base, ...extra, softDescriptor: 'EXAMPLE SUB' });
    expect(issuePaths(result)).toEqual(['softDescriptor']);
  });

  it('still accepts a charge without a descriptor either way', () => {
    expect(createChargeRequestSchema.safeParse({ ...base, captureNow: false }).success).toBe(true);
    expect(createChargeRequestSchema.safeParse(base).success).toBe(true);
  });
});
