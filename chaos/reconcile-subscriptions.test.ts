// The per-cycle verdict is only worth something if it fails when a subscription's promise is
// broken: each case feeds it the shapes a chaos run collects (the simulator's money movements on
// the permission, `GET /v1/subscriptions/{id}` and its events, the storefront's record) with one
// broken promise, and expects exactly that anomaly.
import { describe, expect, it } from 'vitest';
import type { MoneyMovementView } from '../simulator/admin-client';
import type { CheckoutRecord } from './load';
import { SIMULATOR_BUYER_PII } from './pii';
import { reconcile } from './reconcile';
import {
  reconcileSubscriptions,
  type ObservedEvent,
  type ObservedSubscription,
  type SubscriptionInput,
} from './reconcile-subscriptions';
import type { SubscriptionRecord } from './subscriptions';

const CS = 'a1b2c3d4-0000-4000-8000-000000000001';
const CP = 'S01-2222222-2222222';
const SUB = `subscription-${CP}`;
const charge = (n: number) => `${CP}-C0000${n}`;

function signUp(sub: Partial<SubscriptionRecord> = {}, overrides: Partial<CheckoutRecord> = {}): CheckoutRecord {
  return {
    n: 7,
    scenario: 'subscription',
    checkoutSessionId: CS,
    subscriptionId: SUB,
    amountMinor: 1299,
    expected: { charges: 1, capturedMinor: 1299, refundedMinor: 0, refunds: 0, statuses: [], final: true },
    keys: {},
    problem: null,
    unfinished: false,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:20.000Z',
    subscription: {
      lifecycle: 'keepActive',
      trial: false,
      paymentMethod: 'happy',
      frequency: { unit: 'Day', value: 1 },
      planAmountsMinor: [1299],
      chargePermissionId: CP,
      actions: [],
      expected: { statuses: ['active'], cancelAtPeriodEnd: false },
      noChargeAfter: null,
      pausedWindows: [],
      ...sub,
    },
    ...overrides,
  };
}

/** A captureNow charge as the simulator lists it: its authorization and its capture. */
const charged = (n: number, amount: string, at: string, checkoutSessionId: string | null = CS): MoneyMovementView[] =>
  (['authorization', 'capture'] as const).map((kind) => ({
    kind,
    amount,
    currencyCode: 'USD',
    chargePermissionId: CP,
    checkoutSessionId,
    chargeId: charge(n),
    at,
  }));

const paid = (n: number, amount = '12.99', dueAt = `2026-01-0${n + 1}T00:00:00.000Z`) => ({
  n,
  dueAt,
  state: 'Paid',
  attempts: 1,
  chargeId: charge(n),
  reasonCode: null,
  amount: { amount, currencyCode: 'USD' },
});

function status(overrides: Partial<ObservedSubscription> = {}): ObservedSubscription {
  return {
    status: 'active',
    cancelAtPeriodEnd: false,
    nextBillingAt: '2026-01-03T00:00:00.000Z',
    lastReasonCode: null,
    updatePaymentMethodUrl: null,
    cycles: [paid(0), paid(1)],
    ...overrides,
  };
}

const event = (i: number, type: string, data: ObservedEvent['data'] = {}): ObservedEvent => ({
  id: `evt_${SUB}_${i}`,
  type,
  data,
});
const EVENTS = [
  event(1, 'subscription.created', { cycle: 0 }),
  event(2, 'subscription.renewal_upcoming', { cycle: 1 }),
  event(3, 'subscription.charged', { cycle: 1, chargeId: charge(1) }),
];

function input(overrides: Partial<SubscriptionInput> = {}): SubscriptionInput {
  return {
    record: signUp(),
    observed: status(),
    events: EVENTS,
    movements: [...charged(0, '12.99', '2026-01-01T00:00:05.000Z'), ...charged(1, '12.99', '2026-01-02T00:00:01.000Z')],
    ...overrides,
  };
}

const kinds = (i: SubscriptionInput) => reconcileSubscriptions([i]).anomalies.map((a) => a.kind);

describe('reconcileSubscriptions', () => {
  it('cycle 0 at checkout and cycle 1 by the subscription, each once at the plan amount: no anomaly', () => {
    const { anomalies, totals } = reconcileSubscriptions([input()]);
    expect(anomalies).toEqual([]);
    expect(totals).toMatchObject({ subscriptions: 1, cyclesCharged: 2, chargedMinor: 2598, movements: 4 });
  });

  it('a cycle charged twice at Amazon (a second charge no cycle recorded) is a duplicate money movement', () => {
    const i = input({
      movements: [...input().movements, ...charged(2, '12.99', '2026-01-02T00:00:03.000Z')],
    });
    const { anomalies } = reconcileSubscriptions([i]);
    expect(anomalies.map((a) => a.kind)).toEqual(['duplicate_money_movement']);
    expect(anomalies[0]!.detail).toContain(`charge ${charge(2)} of 12.99`);
    expect(anomalies[0]!.detail).toContain('is no cycle');
  });

  it('one charge captured twice is a duplicate money movement', () => {
    const twice = charged(1, '12.99', '2026-01-02T00:00:01.000Z');
    expect(kinds(input({ movements: [...input().movements, twice[1]!] }))).toEqual(['duplicate_money_movement']);
  });

  it('two subscription.charged events for one cycle are reported', () => {
    const events = [...EVENTS, event(4, 'subscription.charged', { cycle: 1, chargeId: charge(1) })];
    const { anomalies } = reconcileSubscriptions([input({ events })]);
    expect(anomalies.map((a) => a.kind)).toEqual(['subscription_events', 'subscription_events']);
    expect(anomalies[0]!.detail).toContain('cycle 1: 2 subscription.charged events');
  });

  it('a charge after the cancel was answered is a charge after cancel', () => {
    const record = signUp({
      lifecycle: 'cancelNow',
      noChargeAfter: '2026-01-01T12:00:00.000Z',
      expected: { statuses: ['canceled'] },
      actions: [
        {
          op: 'cancel',
          key: 'chaos-x-7-subscription-cancel-1',
          requestedAt: '2026-01-01T11:59:59.000Z',
          answeredAt: '2026-01-01T12:00:00.000Z',
          status: 200,
          attempts: 1,
        },
      ],
    });
    const { anomalies } = reconcileSubscriptions([
      input({
        record,
        observed: status({ status: 'canceled', nextBillingAt: null }),
        events: [...EVENTS, event(4, 'subscription.canceled')],
      }),
    ]);
    expect(anomalies.map((a) => a.kind)).toEqual(['charge_after_cancel']);
    expect(anomalies[0]!.detail).toContain(`charge ${charge(1)} (12.99) at 2026-01-02T00:00:01.000Z, after the cancel`);
  });

  it('a charge while paused is reported; one after the resume is not', () => {
    const paused = signUp({
      lifecycle: 'pauseResume',
      pausedWindows: [{ from: '2026-01-01T18:00:00.000Z', to: '2026-01-02T06:00:00.000Z' }],
    });
    expect(kinds(input({ record: paused }))).toEqual(['charge_while_paused']);
    const resumedBefore = signUp({
      lifecycle: 'pauseResume',
      pausedWindows: [{ from: '2026-01-01T18:00:00.000Z', to: '2026-01-01T20:00:00.000Z' }],
    });
    expect(kinds(input({ record: resumedBefore }))).toEqual([]);
  });

  it("a cycle charged another amount than the plan's is a money mismatch", () => {
    const i = input({
      observed: status({ cycles: [paid(0), paid(1, '15.00')] }),
      movements: [
        ...charged(0, '12.99', '2026-01-01T00:00:05.000Z'),
        ...charged(1, '15.00', '2026-01-02T00:00:01.000Z'),
      ],
    });
    const { anomalies } = reconcileSubscriptions([i]);
    expect(anomalies.map((a) => a.kind)).toEqual(['money_mismatch']);
    expect(anomalies[0]!.detail).toContain("cycle 1 recorded 15.00; the plan's amounts were 12.99");
    // The storefront changed the plan to 15.00: then it is the plan's amount.
    expect(kinds({ ...i, record: signUp({ planAmountsMinor: [1299, 1500] }) })).toEqual([]);
  });

  it('a free trial charged at sign-up is a money mismatch', () => {
    const record = signUp({ trial: true, expected: { statuses: ['trialing'] } }, { scenario: 'trial' });
    const i = input({
      record,
      observed: status({ status: 'trialing', cycles: [{ ...paid(0), state: 'Skipped' }] }),
      events: [EVENTS[0]!],
      movements: charged(0, '12.99', '2026-01-01T00:00:05.000Z'),
    });
    expect(kinds(i)).toContain('money_mismatch');
    // Nothing charged: fine.
    expect(
      kinds({
        ...i,
        observed: status({ status: 'trialing', cycles: [{ ...paid(0), state: 'Skipped', chargeId: null }] }),
        movements: [],
      }),
    ).toEqual([]);
  });

  it('a cycle recorded Paid whose charge Amazon does not have is a money mismatch', () => {
    expect(kinds(input({ movements: charged(0, '12.99', '2026-01-01T00:00:05.000Z') }))).toEqual([
      'money_mismatch',
      'subscription_events',
    ]);
  });

  it('past_due with no reason, or active with nothing scheduled, is a subscription stuck', () => {
    const { anomalies } = reconcileSubscriptions([
      input({
        record: signUp({ expected: { statuses: ['active', 'past_due'] } }),
        observed: status({ status: 'past_due', lastReasonCode: null, nextBillingAt: null }),
      }),
    ]);
    expect(anomalies.map((a) => a.kind)).toEqual(['subscription_state']);
    expect(anomalies[0]!.detail).toContain('past_due without a reason code');
    expect(kinds(input({ observed: status({ nextBillingAt: null }) }))).toEqual(['subscription_state']);
    // Past due with its reason and the buyer's page: an expected state (dunning).
    expect(
      kinds(
        input({
          record: signUp({ expected: { statuses: ['past_due'] } }),
          observed: status({
            status: 'past_due',
            lastReasonCode: 'HardDeclined',
            nextBillingAt: null,
            updatePaymentMethodUrl: `https://payments.amazon.com/jr/your-account/ba/${CP}`,
          }),
        }),
      ),
    ).toEqual([]);
  });

  it('a subscription not in the state the storefront led it to is reported', () => {
    const record = signUp({ lifecycle: 'cancelNow', expected: { statuses: ['canceled'] } });
    const { anomalies } = reconcileSubscriptions([input({ record })]);
    expect(anomalies.map((a) => a.kind)).toEqual(['subscription_state']);
    expect(anomalies[0]!.detail).toContain('status active, expected canceled');
  });
});

describe('reconcile with subscriptions', () => {
  it("a subscription's later cycles are neither the checkout's extra charges nor foreign money", () => {
    const sub = input();
    const { anomalies, money, cycles } = reconcile({
      checkouts: [{ record: sub.record, observed: { status: 'Completed', final: true }, movements: sub.movements }],
      allMovements: sub.movements,
      notable: [],
      texts: [],
      pii: SIMULATOR_BUYER_PII,
      subscriptions: [sub],
    });
    expect(anomalies).toEqual([]);
    expect(money.capturedMinor).toBe(2598);
    expect(cycles.cyclesCharged).toBe(2);
  });

  it('a double charge of a cycle fails the whole verdict', () => {
    const sub = input({ movements: [...input().movements, ...charged(2, '12.99', '2026-01-02T00:00:02.000Z')] });
    const { anomalies } = reconcile({
      checkouts: [{ record: sub.record, observed: { status: 'Completed', final: true }, movements: sub.movements }],
      allMovements: sub.movements,
      notable: [],
      texts: [],
      pii: SIMULATOR_BUYER_PII,
      subscriptions: [sub],
    });
    expect(anomalies.map((a) => a.kind)).toEqual(['duplicate_money_movement']);
  });
});
