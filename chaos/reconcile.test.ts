// The chaos run is only worth something if its verdict fails when a promise is broken: each case
// feeds the reconciler one broken promise and expects exactly that anomaly.
import { describe, expect, it } from 'vitest';
import type { MoneyMovementView } from '../simulator/admin-client';
import type { NotableAnswer } from './http';
import type { CheckoutRecord } from './load';
import { SIMULATOR_BUYER_PII } from './pii';
import { reconcile, type ReconcileInput } from './reconcile';

const ID = 'cs-1';
const CP = 'S01-1111111-1111111';

function captured(overrides: Partial<CheckoutRecord> = {}): CheckoutRecord {
  return {
    n: 1,
    scenario: 'capture',
    checkoutSessionId: ID,
    subscriptionId: null,
    amountMinor: 2500,
    expected: { charges: 1, capturedMinor: 2500, refundedMinor: 0, refunds: 0, statuses: ['Closed'], final: true },
    keys: { capture: 'chaos-x-1-capture', close: 'chaos-x-1-close' },
    problem: null,
    unfinished: false,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:10.000Z',
    ...overrides,
  };
}

const movement = (
  kind: MoneyMovementView['kind'],
  amount: string,
  extra: Partial<MoneyMovementView> = {},
): MoneyMovementView => ({
  kind,
  amount,
  currencyCode: 'USD',
  chargePermissionId: CP,
  checkoutSessionId: ID,
  chargeId: `${CP}-C00001`,
  at: '2026-01-01T00:00:05.000Z',
  ...extra,
});

function input(overrides: Partial<ReconcileInput> = {}): ReconcileInput {
  const movements = [movement('authorization', '25.00'), movement('capture', '25.00')];
  return {
    checkouts: [{ record: captured(), observed: { status: 'Closed', final: true }, movements }],
    allMovements: movements,
    notable: [],
    texts: [{ source: 'api.log', text: '{"level":"info","msg":"request","status":200}\n' }],
    pii: SIMULATOR_BUYER_PII,
    ...overrides,
  };
}

describe('reconcile', () => {
  it('a checkout captured once, as asked, closed: no anomaly', () => {
    const { anomalies, money } = reconcile(input());
    expect(anomalies).toEqual([]);
    expect(money).toMatchObject({ checkouts: 1, movements: 2, capturedMinor: 2500 });
  });

  it('a double capture is a duplicate money movement and a money mismatch', () => {
    const movements = [movement('authorization', '25.00'), movement('capture', '25.00'), movement('capture', '25.00')];
    const { anomalies } = reconcile(
      input({
        checkouts: [{ record: captured(), observed: { status: 'Closed', final: true }, movements }],
        allMovements: movements,
      }),
    );
    expect(anomalies.map((a) => a.kind).sort()).toEqual(['duplicate_money_movement', 'money_mismatch']);
    expect(anomalies.find((a) => a.kind === 'money_mismatch')!.detail).toContain(
      'captured 50.00, the storefront asked 25.00',
    );
  });

  it('a second charge (two authorizations) is a duplicate money movement', () => {
    const movements = [
      movement('authorization', '25.00'),
      movement('authorization', '25.00', { chargeId: `${CP}-C00002` }),
      movement('capture', '25.00'),
    ];
    const { anomalies } = reconcile(
      input({
        checkouts: [{ record: captured(), observed: { status: 'Closed', final: true }, movements }],
        allMovements: movements,
      }),
    );
    expect(anomalies.map((a) => a.kind)).toContain('duplicate_money_movement');
  });

  it('a refund twice is a duplicate even when the storefront stopped early', () => {
    const record = captured({
      scenario: 'refund',
      problem: 'gave up: POST /refunds: still 0',
      expected: { charges: 1, capturedMinor: 2500, refundedMinor: 1000, refunds: 1, statuses: ['Closed'] },
    });
    const movements = [
      movement('authorization', '25.00'),
      movement('capture', '25.00'),
      movement('refund', '10.00', { refundId: 'R1' }),
      movement('refund', '10.00', { refundId: 'R2' }),
    ];
    const { anomalies } = reconcile(
      input({
        checkouts: [{ record, observed: { status: 'Captured', final: false }, movements }],
        allMovements: movements,
      }),
    );
    expect(anomalies.map((a) => a.kind).sort()).toEqual([
      'duplicate_money_movement',
      'money_mismatch',
      'storefront_refused',
    ]);
  });

  it('a 500 to a valid request is an anomaly; hostile input answered 5xx too', () => {
    const notable: NotableAnswer[] = [
      {
        kind: 'valid',
        method: 'POST',
        route: '/v1/checkouts/{id}/capture',
        status: 500,
        retryAfter: null,
        body: '{"error":{"code":"internal_error"}}',
        at: '',
      },
      {
        kind: 'hostile',
        method: 'POST',
        route: 'IPN',
        status: 502,
        retryAfter: null,
        body: '{}',
        expect: '4xx',
        what: 'forged',
        at: '',
      },
    ];
    const { anomalies } = reconcile(input({ notable }));
    expect(anomalies.map((a) => a.kind)).toEqual(['server_error_to_valid_request', 'hostile_input_not_refused']);
    expect(anomalies[0]!.detail).toContain('500');
    expect(anomalies[0]!.detail).toContain('no Retry-After');
  });

  it("the buyer's name or email in a log line is a personal data leak", () => {
    const texts = [
      {
        source: 'worker-1.log',
        text: '{"level":"info","msg":"review"}\n{"level":"warn","msg":"buyer","buyer":{"name":"Jane Doe"}}\n',
      },
    ];
    const { anomalies } = reconcile(input({ texts }));
    expect(anomalies).toHaveLength(1);
    expect(anomalies[0]).toMatchObject({ kind: 'personal_data_leak' });
    expect(anomalies[0]!.detail).toContain('worker-1.log: Jane Doe');
  });

  it('a checkout left pending, or with a subscription still active, is not settled', () => {
    const sub = captured({
      scenario: 'subscription',
      subscriptionId: `subscription-${CP}`,
      expected: {
        charges: 1,
        capturedMinor: 2500,
        refundedMinor: 0,
        refunds: 0,
        statuses: [],
        final: true,
        subscriptionStatuses: ['canceled', 'ended'],
      },
    });
    const movements = [movement('authorization', '25.00'), movement('capture', '25.00')];
    const pending = reconcile(
      input({ checkouts: [{ record: captured(), observed: { status: 'Closing', final: false }, movements }] }),
    );
    expect(pending.anomalies.map((a) => a.kind)).toEqual(['not_settled']);
    const active = reconcile(
      input({
        checkouts: [
          { record: sub, observed: { status: 'Captured', final: true, subscriptionStatus: 'active' }, movements },
        ],
      }),
    );
    expect(active.anomalies.map((a) => a.detail)).toEqual([
      expect.stringContaining('is active, expected canceled or ended'),
    ]);
  });

  it('money no storefront asked for is an anomaly', () => {
    const stray = movement('capture', '9.99', {
      checkoutSessionId: 'cs-unknown',
      chargePermissionId: 'S01-2222222-2222222',
    });
    const { anomalies } = reconcile(input({ allMovements: [...input().allMovements, stray] }));
    expect(anomalies.map((a) => a.kind)).toEqual(['foreign_money_movement']);
  });
});
