import { describe, expect, it } from 'vitest';
import type { MerchantEvent, MerchantEventData, MerchantEventType } from './messages';
import { eventCounts } from './metrics';
import type { StoredEvent } from './outbox';

const usd = (amount: string) => ({ amount, currencyCode: 'USD' });
let n = 0;
function event(type: MerchantEventType, data: Partial<MerchantEventData>): MerchantEvent {
  n++;
  return {
    id: `evt_x_${n}`,
    type,
    timestamp: '2025-01-01T00:00:00.000Z',
    data: {
      object: 'checkout',
      checkoutSessionId: 'cs',
      merchantReferenceId: null,
      chargePermissionId: 'P01',
      chargeId: 'C01',
      refundId: null,
      subscriptionId: null,
      status: 'Authorized',
      state: null,
      amount: usd('30.00'),
      reasonCode: null,
      detail: null,
      expiresAt: null,
      ...data,
    },
  };
}

/** Counts each event after the ones before it, as the outbox does. */
function countAll(events: MerchantEvent[]) {
  const stored: StoredEvent[] = [];
  return events.flatMap((e) => {
    const counts = eventCounts(e, stored);
    stored.push({ event: e, deliveries: [] });
    return counts.map((c) => `${c.name}${JSON.stringify(c.tags)} ${c.value}`);
  });
}

describe('business counters from merchant events', () => {
  it('an Authorize checkout: each new status once, money authorized, captured and refunded in minor units', () => {
    expect(
      countAll([
        event('checkout.completed', { state: null }),
        event('payment.authorized', { state: 'Authorized' }),
        event('payment.authorization_expiring', { state: 'Authorized' }),
        event('payment.captured', { status: 'Captured', state: 'Captured', amount: usd('25.50') }),
        event('refund.pending', { status: 'Captured', state: 'RefundInitiated', amount: usd('10.00') }),
        event('refund.succeeded', { status: 'Captured', state: 'Refunded', amount: usd('10.00') }),
        event('order.closed', { status: 'Closed' }),
      ]),
    ).toEqual([
      'amazon_pay_checkout_transitions_total{"status":"Authorized"} 1',
      'amazon_pay_money_authorized_minor_total{"currency":"USD","object":"checkout"} 3000',
      'amazon_pay_checkout_transitions_total{"status":"Captured"} 1',
      'amazon_pay_money_captured_minor_total{"currency":"USD","object":"checkout"} 2550',
      'amazon_pay_money_refunded_minor_total{"currency":"USD","object":"checkout"} 1000',
      'amazon_pay_checkout_transitions_total{"status":"Closed"} 1',
    ]);
  });

  it('a charge captured at once counts as authorized too, once; a declined one moves no money', () => {
    expect(
      countAll([
        event('checkout.completed', { status: 'CapturePending' }),
        event('payment.capture_pending', { status: 'CapturePending', state: 'CaptureInitiated' }),
        event('payment.captured', { status: 'Captured', state: 'Captured' }),
      ]),
    ).toEqual([
      'amazon_pay_checkout_transitions_total{"status":"CapturePending"} 1',
      'amazon_pay_money_authorized_minor_total{"currency":"USD","object":"checkout"} 3000',
      'amazon_pay_checkout_transitions_total{"status":"Captured"} 1',
      'amazon_pay_money_captured_minor_total{"currency":"USD","object":"checkout"} 3000',
    ]);
    expect(
      countAll([event('checkout.declined', { status: 'Declined', chargeId: null, reasonCode: 'HardDeclined' })]),
    ).toEqual(['amazon_pay_checkout_transitions_total{"status":"Declined"} 1']);
  });

  it('a subscription: its statuses, and each cycle charged by its own charge (JPY has no minor unit)', () => {
    const sub = (type: MerchantEventType, data: Partial<MerchantEventData>) =>
      event(type, {
        object: 'subscription',
        chargeId: null,
        status: 'active',
        amount: { amount: '500', currencyCode: 'JPY' },
        ...data,
      });
    expect(
      countAll([
        sub('subscription.created', {}),
        sub('subscription.renewal_upcoming', {}),
        sub('subscription.charged', { chargeId: 'C1', state: 'Captured' }),
        sub('subscription.charge_failed', { status: 'past_due', reasonCode: 'SoftDeclined' }),
        sub('subscription.charged', { chargeId: 'C2', state: 'Authorized' }),
        sub('subscription.recovered', { chargeId: 'C2' }),
      ]),
    ).toEqual([
      'amazon_pay_subscription_transitions_total{"status":"active"} 1',
      'amazon_pay_money_authorized_minor_total{"currency":"JPY","object":"subscription"} 500',
      'amazon_pay_money_captured_minor_total{"currency":"JPY","object":"subscription"} 500',
      'amazon_pay_subscription_transitions_total{"status":"past_due"} 1',
      'amazon_pay_subscription_transitions_total{"status":"active"} 1',
      'amazon_pay_money_authorized_minor_total{"currency":"JPY","object":"subscription"} 500',
    ]);
  });
});
