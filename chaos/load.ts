// Storefronts driving checkouts through the public HTTP API, as a shop's backend and its buyers do:
// button config -> the buyer clicks at Amazon -> review -> final amount -> the buyer pays at Amazon
// -> complete -> capture / partial capture / cancel / refund / charge / close, and recurring
// sign-ups (chaos/subscriptions.ts runs their lives). Each checkout records what the storefront
// asked for, which the reconciler compares with the simulator's money movements at the end.
import { SimulatorAdmin, type PaymentMethodChoice } from '../simulator/admin-client';
import { retrying, StorefrontClient, type Answer } from './http';
import { pickWeighted, type Scenario } from './options';
import { pickLifecycle, runSubscriptionLife, type SubscriptionRecord } from './subscriptions';

export interface CheckoutRecord {
  n: number;
  scenario: Scenario;
  checkoutSessionId: string | null;
  subscriptionId: string | null;
  /** Minor units (cents). */
  amountMinor: number;
  /** What the storefront asked for and Amazon accepted, in minor units. */
  expected: {
    charges: number;
    capturedMinor: number;
    refundedMinor: number;
    refunds: number;
    /** Any of these (empty: any status); with `final`, the checkout must also have ended. */
    statuses: string[];
    final?: boolean;
    subscriptionStatuses?: string[];
  };
  /** Each money-moving request's Idempotency-Key, by operation. */
  keys: Record<string, string>;
  /** Recurring sign-ups: what the storefront did with the subscription (chaos/subscriptions.ts). */
  subscription?: SubscriptionRecord;
  /** Set when the storefront got an answer it did not expect (the reconciler reports it). */
  problem: string | null;
  /** The load ended (or the storefront gave up) before the scenario finished; not reconciled as a failure. */
  unfinished: boolean;
  startedAt: string;
  finishedAt: string | null;
}

export const money = (minor: number) => ({ amount: (minor / 100).toFixed(2), currencyCode: 'USD' });

export class Unexpected extends Error {}

export function expectOk(what: string, a: Answer, statuses: number[] = [200, 201]): Record<string, unknown> {
  if (!statuses.includes(a.status))
    throw new Unexpected(`${what}: ${a.status} ${JSON.stringify(a.json).slice(0, 300)}`);
  return a.json;
}

export interface LoadDeps {
  client: StorefrontClient;
  admin: SimulatorAdmin;
  random: () => number;
  runId: string;
  mix: Record<Scenario, number>;
  /** drop-ipn: no IPN arrives, so what only an IPN tells (a buyer's close at Amazon) is learned later. */
  ipnsDropped?: boolean;
}

/** One checkout of the given scenario, start to end. Never throws: problems go into the record. */
export async function runCheckout(
  deps: LoadDeps,
  n: number,
  scenario: Scenario,
  shouldStop: () => boolean,
): Promise<CheckoutRecord> {
  const { client, admin, random } = deps;
  const amountMinor = 500 + Math.floor(random() * 19_500);
  const partMinor = Math.max(100, Math.floor(amountMinor * (0.3 + random() * 0.4)));
  const record: CheckoutRecord = {
    n,
    scenario,
    checkoutSessionId: null,
    subscriptionId: null,
    amountMinor,
    expected: { charges: 0, capturedMinor: 0, refundedMinor: 0, refunds: 0, statuses: [] },
    keys: {},
    problem: null,
    unfinished: false,
    startedAt: new Date().toISOString(),
    finishedAt: null,
  };
  const key = (op: string) => (record.keys[op] = `chaos-${deps.runId}-${n}-${op}`);
  const ref = `chaos-${deps.runId}-order-${n}`;
  const recurring = scenario === 'subscription' || scenario === 'trial';
  // A trial signs up with Confirm: nothing is charged until cycle 1.
  const intent =
    scenario === 'refund' || scenario === 'subscription'
      ? 'AuthorizeWithCapture'
      : scenario === 'confirmCharge' || scenario === 'trial'
        ? 'Confirm'
        : 'Authorize';
  const frequency = (
    [
      { unit: 'Day', value: 1 },
      { unit: 'Week', value: 1 },
      { unit: 'Month', value: 1 },
    ] as const
  )[Math.floor(random() * 3)]!;
  if (recurring) {
    const lifecycle = pickLifecycle(random);
    record.subscription = {
      lifecycle,
      trial: intent === 'Confirm',
      // The buyer's instrument: later merchant charges soft/hard decline (dunning), or the checkout itself does.
      paymentMethod:
        lifecycle === 'declined'
          ? 'declinedAtAmazon'
          : lifecycle === 'buyerFixesMethod'
            ? random() < 0.5
              ? 'softDecline'
              : 'hardDecline'
            : 'happy',
      frequency,
      planAmountsMinor: [amountMinor],
      chargePermissionId: null,
      actions: [],
      expected: { statuses: [] },
      noChargeAfter: null,
      pausedWindows: [],
    };
  }
  const method: PaymentMethodChoice =
    scenario === 'declined' ? 'declinedAtAmazon' : (record.subscription?.paymentMethod ?? 'happy');
  try {
    const button = expectOk(
      'button-config',
      await client.send('POST', '/v1/checkout-sessions/button-config', {
        amount: money(amountMinor),
        checkoutReviewReturnUrl: 'https://shop.example/review',
        merchantReferenceId: ref,
        ...(recurring
          ? {
              chargePermissionType: 'Recurring',
              recurringMetadata: { frequency, amount: money(amountMinor) },
            }
          : {}),
      }),
      [200],
    );
    const { checkoutSessionId: id } = await retrying('clickButton', () => admin.clickButton(button as never));
    record.checkoutSessionId = id;
    expectOk('review', await client.send('POST', `/v1/checkouts/${id}/review`, { merchantReferenceId: ref }), [200]);
    const amount = expectOk(
      'amount',
      await client.send('POST', `/v1/checkouts/${id}/amount`, {
        chargeAmount: money(amountMinor),
        paymentIntent: intent,
        canHandlePendingAuthorization: false,
        merchantReferenceId: ref,
        checkoutResultReturnUrl: 'https://shop.example/result',
        ...(recurring
          ? { subscription: { timeZone: ['UTC', 'Europe/Berlin', 'America/New_York'][Math.floor(random() * 3)] } }
          : {}),
      }),
      [200],
    );
    await retrying('pay', () => admin.pay(amount.amazonPayRedirectUrl as string, method));
    const outcome = expectOk('complete', await client.send('POST', `/v1/checkouts/${id}/complete`), [200]);

    if (scenario === 'declined' || record.subscription?.lifecycle === 'declined') {
      if (outcome.completed !== false)
        throw new Unexpected(`complete of a declined payment: ${JSON.stringify(outcome)}`);
      record.expected.statuses = ['Declined'];
      record.expected.final = true;
      return done(record);
    }
    if (outcome.completed !== true) throw new Unexpected(`complete: ${JSON.stringify(outcome)}`);
    if (intent !== 'Confirm') record.expected.charges = 1;
    if (intent === 'AuthorizeWithCapture') record.expected.capturedMinor = amountMinor;
    if (shouldStop()) return unfinishedButSettling(record, intent, recurring);

    switch (scenario) {
      case 'capture':
        expectOk('capture', await client.send('POST', `/v1/checkouts/${id}/capture`, {}, key('capture')));
        record.expected.capturedMinor = amountMinor;
        break;
      case 'partialCapture':
        expectOk(
          'partial capture',
          await client.send('POST', `/v1/checkouts/${id}/capture`, { amount: money(partMinor) }, key('capture')),
        );
        record.expected.capturedMinor = partMinor;
        break;
      case 'cancel':
        expectOk(
          'cancel',
          await client.send('POST', `/v1/checkouts/${id}/cancel`, { reason: 'out of stock' }, key('cancel')),
        );
        break;
      case 'refund':
        expectOk(
          'refund',
          await client.send('POST', `/v1/checkouts/${id}/refunds`, { amount: money(partMinor) }, key('refund-1')),
        );
        record.expected.refundedMinor = partMinor;
        record.expected.refunds = 1;
        break;
      case 'confirmCharge':
        expectOk(
          'charge',
          await client.send('POST', `/v1/checkouts/${id}/charge`, { captureNow: true }, key('charge')),
        );
        record.expected.charges = 1;
        record.expected.capturedMinor = amountMinor;
        break;
      case 'subscription':
      case 'trial': {
        const status = expectOk('status', await client.send('GET', `/v1/checkouts/${id}`), [200]);
        const sub = status.subscriptionId;
        if (typeof sub !== 'string')
          throw new Unexpected(`recurring checkout without subscriptionId: ${JSON.stringify(status).slice(0, 300)}`);
        record.subscriptionId = sub;
        record.subscription!.chargePermissionId =
          typeof status.chargePermissionId === 'string' ? status.chargePermissionId : null;
        // The checkout hands the permission to the subscription and ends.
        record.expected.statuses = [];
        record.expected.final = true;
        await runSubscriptionLife(deps, record, key, shouldStop);
        return done(record);
      }
      default:
        break;
    }
    expectOk('close', await client.send('POST', `/v1/checkouts/${id}/close`, {}, key('close')));
    // A canceled authorization ends the order (Amazon closes a OneTime permission with nothing
    // left to charge), so its close answers the final Canceled.
    record.expected.statuses = scenario === 'cancel' ? ['Closed', 'Canceled'] : ['Closed'];
    record.expected.final = true;
    return done(record);
  } catch (err) {
    if (err instanceof Unexpected) record.problem = err.message;
    else {
      // The storefront gave up retrying (the service never answered within its patience).
      record.problem = `gave up: ${(err as Error).message}`;
    }
    record.finishedAt = new Date().toISOString();
    return record;
  }
}

function done(record: CheckoutRecord): CheckoutRecord {
  record.finishedAt = new Date().toISOString();
  return record;
}

/** The load ended after the buyer paid: what Amazon did so far must still reconcile. */
function unfinishedButSettling(record: CheckoutRecord, intent: string, recurring: boolean): CheckoutRecord {
  record.unfinished = true;
  record.expected.statuses = recurring
    ? []
    : intent === 'AuthorizeWithCapture'
      ? ['Captured']
      : intent === 'Confirm'
        ? ['Confirmed']
        : ['Authorized'];
  if (record.subscription) {
    // Signed up, nothing more asked: it runs on as it started.
    record.subscription.lifecycle = 'keepActive';
    record.subscription.expected = { statuses: [record.subscription.trial ? 'trialing' : 'active'] };
  }
  return done(record);
}

export interface LoadResult {
  checkouts: CheckoutRecord[];
  started: number;
}

/**
 * Runs storefronts until `endAt`: closed loop (each storefront starts its next checkout when one
 * ends), or open loop at `ratePerSecond` starts (storefronts take the next slot when free).
 */
export async function runLoad(
  deps: LoadDeps,
  opts: {
    storefronts: number;
    ratePerSecond: number | undefined;
    endAt: number;
    onCheckout?: (r: CheckoutRecord) => void;
  },
): Promise<LoadResult> {
  const checkouts: CheckoutRecord[] = [];
  let next = 0;
  const t0 = Date.now();
  const shouldStop = () => Date.now() >= opts.endAt;
  await Promise.all(
    Array.from({ length: opts.storefronts }, async () => {
      while (!shouldStop()) {
        const n = next++;
        if (opts.ratePerSecond) {
          const slot = t0 + (n / opts.ratePerSecond) * 1000;
          if (slot >= opts.endAt) return;
          if (slot > Date.now()) await new Promise((r) => setTimeout(r, slot - Date.now()));
        }
        const scenario = pickWeighted(deps.random, deps.mix);
        const record = await runCheckout(deps, n, scenario, shouldStop);
        checkouts.push(record);
        opts.onCheckout?.(record);
      }
    }),
  );
  return { checkouts, started: next };
}
