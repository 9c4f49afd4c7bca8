/*
 * Contract: our AmazonPayClient (amazon-pay/) and the simulator (simulator/) agree with the reference,
 * ../shared/docs/amazon-pay-v2.md (section numbers below), over real HTTP. Neither side imports the other,
 * so a fact both get wrong the same way is the only thing these tests cannot catch.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AmazonPayError, idempotencyKeyFor, type AmazonPayClient, type Charge } from '../../amazon-pay';
import { startSimulator, type RunningSimulator } from '../../simulator';
import { SimulatorAdmin, SimulatorAdminError } from '../../simulator/admin-client';
import {
  CHARGE_ID,
  CP_ID,
  DAY,
  HOUR,
  REFUND_ID,
  RESULT_URL,
  REVIEW_URL,
  STORE_ID,
  TIMESTAMP,
  UUID,
  authorizedCharge,
  expectAmazonError,
  makeClient,
  newKey,
  rawSignedRequest,
  rejection,
  rsaKey,
  runCheckout,
  sleep,
  usd,
  type KeyPair,
} from './support';

const SANDBOX_KEY_ID = 'SANDBOX-CONTRACTKEY0000001';
const LEGACY_KEY_ID = 'AHQFEVJWJAA5IVOODKT2TXUZ';
const REFUND_MS = 5_000;
const CAPTURE_INITIATED_MS = 5_000;

let sim: RunningSimulator;
let admin: SimulatorAdmin;
let sandboxKey: KeyPair;
let legacyKey: KeyPair;
let client: AmazonPayClient;

beforeAll(async () => {
  sandboxKey = rsaKey(SANDBOX_KEY_ID);
  legacyKey = rsaKey(LEGACY_KEY_ID);
  sim = await startSimulator({
    port: 0,
    publicKeys: { [sandboxKey.publicKeyId]: sandboxKey.publicKeyPem, [legacyKey.publicKeyId]: legacyKey.publicKeyPem },
    delays: { refundMs: REFUND_MS, captureInitiatedMs: CAPTURE_INITIATED_MS, pendingAuthorizationMs: 5_000 },
  });
  admin = new SimulatorAdmin(sim.url);
  client = makeClient(sim.url, sandboxKey);
});

afterAll(async () => {
  await sim?.close();
});

// Clock, faults, throttling, idempotency store and objects back to the start for every test.
afterEach(async () => {
  await admin.reset();
});

function recordingFetch(): { fetch: typeof fetch; paths: string[] } {
  const paths: string[] = [];
  return {
    paths,
    fetch: (input, init) => {
      paths.push(new URL(input instanceof Request ? input.url : String(input)).pathname);
      return fetch(input, init);
    },
  };
}

const createSession = (c: AmazonPayClient = client) =>
  c.createCheckoutSession(
    { storeId: STORE_ID, webCheckoutDetails: { checkoutReviewReturnUrl: REVIEW_URL } },
    { idempotencyKey: newKey('create') },
  );

describe('authentication (§1.2, §6)', () => {
  it.each([
    {
      label: 'SANDBOX- key, PSS',
      keyId: 'sandbox',
      sandbox: true,
      algorithm: 'AMZN-PAY-RSASSA-PSS',
      path: '/v2/checkoutSessions',
      env: 'Sandbox',
    },
    {
      label: 'SANDBOX- key, PSS-V2',
      keyId: 'sandbox',
      sandbox: true,
      algorithm: 'AMZN-PAY-RSASSA-PSS-V2',
      path: '/v2/checkoutSessions',
      env: 'Sandbox',
    },
    // The sandbox flag is ignored for prefixed keys.
    {
      label: 'SANDBOX- key, sandbox=false',
      keyId: 'sandbox',
      sandbox: false,
      algorithm: 'AMZN-PAY-RSASSA-PSS-V2',
      path: '/v2/checkoutSessions',
      env: 'Sandbox',
    },
    {
      label: 'legacy key, sandbox, PSS',
      keyId: 'legacy',
      sandbox: true,
      algorithm: 'AMZN-PAY-RSASSA-PSS',
      path: '/sandbox/v2/checkoutSessions',
      env: 'Sandbox',
    },
    {
      label: 'legacy key, live, PSS-V2',
      keyId: 'legacy',
      sandbox: false,
      algorithm: 'AMZN-PAY-RSASSA-PSS-V2',
      path: '/live/v2/checkoutSessions',
      env: 'Live',
    },
    {
      label: 'legacy key, live, PSS',
      keyId: 'legacy',
      sandbox: false,
      algorithm: 'AMZN-PAY-RSASSA-PSS',
      path: '/live/v2/checkoutSessions',
      env: 'Live',
    },
  ] as const)('$label authenticates on $path', async ({ keyId, sandbox, algorithm, path, env }) => {
    const recorder = recordingFetch();
    const c = makeClient(sim.url, keyId === 'sandbox' ? sandboxKey : legacyKey, {
      sandbox,
      algorithm,
      fetch: recorder.fetch,
    });
    const created = await createSession(c);
    const read = await c.getCheckoutSession(created.checkoutSessionId);
    expect(recorder.paths).toEqual([path, `${path}/${created.checkoutSessionId}`]);
    expect(created.releaseEnvironment).toBe(env);
    expect(read.checkoutSessionId).toBe(created.checkoutSessionId);
  });

  it('accepts both x-amz-pay-date formats and a trailing slash (§6.2, §12.1)', async () => {
    const body = JSON.stringify({ storeId: STORE_ID, webCheckoutDetails: { checkoutReviewReturnUrl: REVIEW_URL } });
    for (const [dateFormat, path] of [
      ['basic', '/v2/checkoutSessions'],
      ['extended', '/v2/checkoutSessions'],
      ['basic', '/v2/checkoutSessions/'],
    ] as const) {
      const response = await rawSignedRequest(sim.url, sandboxKey, 'POST', path, body, {
        dateFormat,
        headers: { 'x-amz-pay-idempotency-key': newKey('raw') },
      });
      expect({ dateFormat, path, status: response.status }).toEqual({ dateFormat, path, status: 201 });
      // What the simulator created, our client reads.
      expect((await client.getCheckoutSession(response.body.checkoutSessionId)).statusDetails.state).toBe('Open');
    }
  });

  it('keeps Sandbox and Live objects apart (a Live session is 404 to a Sandbox caller)', async () => {
    const live = makeClient(sim.url, legacyKey, { sandbox: false });
    const sandbox = makeClient(sim.url, legacyKey, { sandbox: true });
    const created = await createSession(live);
    await expectAmazonError(sandbox.getCheckoutSession(created.checkoutSessionId), {
      status: 404,
      reasonCode: 'ResourceNotFound',
    });
    expect((await live.getCheckoutSession(created.checkoutSessionId)).statusDetails.state).toBe('Open');
  });

  it('rejects a key id the simulator does not know with 403 InvalidRequestSignature, not retryable', async () => {
    const stranger = rsaKey('SANDBOX-NOTREGISTERED000000');
    const error = await expectAmazonError(createSession(makeClient(sim.url, stranger)), {
      status: 403,
      reasonCode: 'InvalidRequestSignature',
    });
    expect(error.requestId).toMatch(UUID);
    expect((await admin.objects()).checkoutSessions).toHaveLength(0);
  });

  it.each(['AMZN-PAY-RSASSA-PSS', 'AMZN-PAY-RSASSA-PSS-V2'] as const)(
    'rejects a request signed (%s) with another private key than the registered one',
    async (algorithm) => {
      const impostor = { publicKeyId: SANDBOX_KEY_ID, privateKeyPem: rsaKey('unused').privateKeyPem };
      const error = await expectAmazonError(createSession(makeClient(sim.url, impostor, { algorithm })), {
        status: 403,
        reasonCode: 'InvalidRequestSignature',
      });
      // §4.1: the message echoes the string to sign Amazon computed.
      expect(error.message).toContain(`Unable to verify signature, signing String [${algorithm}\n`);
      expect((await admin.objects()).checkoutSessions).toHaveLength(0);
    },
  );
});

describe('one-time checkout (§2, §3)', () => {
  it('create -> sign in -> update until no constraints -> pay -> complete -> capture -> refund', async () => {
    const created = await createSession();
    expect(created.checkoutSessionId).toMatch(UUID);
    expect(created.statusDetails.state).toBe('Open');
    expect(created.constraints?.map((c) => c.constraintId)).toEqual([
      'BuyerNotAssociated',
      'ChargeAmountNotSet',
      'CheckoutResultReturnUrlNotSet',
      'PaymentIntentNotSet',
    ]);
    expect(created.constraints?.[0]?.description).toBe(
      'There is no buyer associated with the Checkout Session. Return the checkout session id to the Amazon Pay Button to allow buyer to login.',
    );
    expect(created.paymentPreferences).toEqual([null]);
    expect(created.webCheckoutDetails?.amazonPayRedirectUrl).toBeNull();
    expect(created.creationTimestamp).toMatch(TIMESTAMP);
    expect(created.statusDetails.lastUpdatedTimestamp).toMatch(TIMESTAMP);
    // §2.3: expires 24 h after creation.
    const created24h = Date.parse(isoOf(created.creationTimestamp!)) + DAY;
    expect(Date.parse(isoOf(created.expirationTimestamp!))).toBe(created24h);

    const { location } = await admin.signIn(created.checkoutSessionId);
    expect(location).toBe(`${REVIEW_URL}?amazonCheckoutSessionId=${created.checkoutSessionId}`);
    const signedIn = await client.getCheckoutSession(created.checkoutSessionId);
    expect(signedIn.buyer?.buyerId).toMatch(/^amzn1\.account\./);
    expect(signedIn.paymentPreferences?.[0]?.paymentDescriptor).toBe('Visa ****1111');

    const halfway = await client.updateCheckoutSession(created.checkoutSessionId, {
      webCheckoutDetails: { checkoutResultReturnUrl: RESULT_URL },
    });
    expect(halfway.constraints?.map((c) => c.constraintId)).toEqual(['ChargeAmountNotSet', 'PaymentIntentNotSet']);
    expect(halfway.webCheckoutDetails?.amazonPayRedirectUrl).toBeNull();

    const ready = await client.updateCheckoutSession(created.checkoutSessionId, {
      paymentDetails: { paymentIntent: 'Authorize', chargeAmount: usd('100.00') },
    });
    expect(ready.constraints).toEqual([]);
    const redirectUrl = ready.webCheckoutDetails?.amazonPayRedirectUrl;
    expect(redirectUrl).toEqual(expect.stringContaining(created.checkoutSessionId));
    expect(ready.paymentDetails?.chargeAmount).toEqual({ amount: '100.00', currencyCode: 'USD' });

    const paid = await admin.pay(redirectUrl!, 'happy');
    expect(paid.location).toBe(`${RESULT_URL}?amazonCheckoutSessionId=${created.checkoutSessionId}`);

    const completed = await client.completeCheckoutSession(created.checkoutSessionId, { chargeAmount: usd('100.00') });
    expect(completed.statusDetails.state).toBe('Completed');
    expect(completed.chargePermissionId).toMatch(CP_ID);
    expect(completed.chargePermissionId).toMatch(/^S01-/);
    expect(completed.chargeId).toMatch(CHARGE_ID);
    expect(completed.chargeId!.startsWith(`${completed.chargePermissionId}-C`)).toBe(true);
    // §2.3: buyer and addresses only while Open.
    expect(completed.buyer ?? null).toBeNull();

    const chargeId = completed.chargeId!;
    const cpId = completed.chargePermissionId!;
    const authorized = await client.getCharge(chargeId);
    expect(authorized.statusDetails.state).toBe('Authorized');
    expect(authorized.chargeAmount).toEqual({ amount: '100.00', currencyCode: 'USD' });
    expectTimestamps(authorized);
    // §2.5: the authorization is valid for 30 days.
    expect(Date.parse(isoOf(authorized.expirationTimestamp!)) - Date.parse(isoOf(authorized.creationTimestamp!))).toBe(
      30 * DAY,
    );

    const cp = await client.getChargePermission(cpId);
    expect(cp.statusDetails).toMatchObject({ state: 'Chargeable', reasons: [] });
    expect(cp.chargePermissionType).toBe('OneTime');
    expect(cp.limits?.amountLimit).toEqual({ amount: '100.00', currencyCode: 'USD' });
    // §2.4: a one-time permission expires 180 days after creation.
    expect(Date.parse(isoOf(cp.expirationTimestamp!)) - Date.parse(isoOf(cp.creationTimestamp!))).toBe(180 * DAY);

    const captured = await client.captureCharge(
      chargeId,
      { captureAmount: usd('100.00') },
      { idempotencyKey: newKey('capture') },
    );
    expect(captured.statusDetails.state).toBe('Captured');
    expect(captured.captureAmount).toEqual({ amount: '100.00', currencyCode: 'USD' });
    // §3.2: a one-time permission closes once its amount is captured.
    const closed = await client.getChargePermission(cpId);
    expect(closed.statusDetails.state).toBe('Closed');
    expect(closed.statusDetails.reasons.map((r) => r.reasonCode)).toEqual(['AmazonClosed']);

    const refund = await client.createRefund(
      { chargeId, refundAmount: usd('30.00') },
      { idempotencyKey: newKey('refund') },
    );
    expect(refund.refundId).toMatch(REFUND_ID);
    expect(refund.refundId.startsWith(`${cpId}-R`)).toBe(true);
    expect(refund.chargeId).toBe(chargeId);
    // §2.6: refunds are always asynchronous.
    expect(refund.statusDetails.state).toBe('RefundInitiated');
    expect(refund.refundAmount).toEqual({ amount: '30.00', currencyCode: 'USD' });
    expect(refund.creationTimestamp).toMatch(TIMESTAMP);
    expect((await client.getRefund(refund.refundId)).statusDetails.state).toBe('RefundInitiated');

    await admin.advanceClock(REFUND_MS + 1_000);
    const settled = await client.getRefund(refund.refundId);
    expect(settled.statusDetails.state).toBe('Refunded');
    expect(settled.statusDetails.lastUpdatedTimestamp).toMatch(TIMESTAMP);
    const afterRefund = await client.getCharge(chargeId);
    expect(afterRefund.refundedAmount).toEqual({ amount: '30.00', currencyCode: 'USD' });
    expect(afterRefund.statusDetails.state).toBe('Captured');

    const money = await admin.moneyMovements({ chargePermissionId: cpId });
    expect(money.movements.map((m) => [m.kind, m.amount])).toEqual([
      ['authorization', '100.00'],
      ['capture', '100.00'],
      ['refund', '30.00'],
    ]);
    expect(money.totals).toMatchObject({
      captured: '100.00',
      refunded: '30.00',
      net: '70.00',
      outstandingAuthorization: '0.00',
    });
  });

  it('a partial capture releases the rest; the remainder is charged on a new charge for limits.amountBalance', async () => {
    const { chargeId, chargePermissionId } = await authorizedCharge(client, admin, '100.00');
    const partial = await client.captureCharge(
      chargeId,
      { captureAmount: usd('60.00') },
      { idempotencyKey: newKey('capture') },
    );
    expect(partial.statusDetails.state).toBe('Captured');
    expect(partial.captureAmount).toEqual({ amount: '60.00', currencyCode: 'USD' });
    // One capture per charge (§3.3): the charge is no longer Authorized.
    await expectAmazonError(
      client.captureCharge(chargeId, { captureAmount: usd('40.00') }, { idempotencyKey: newKey('capture') }),
      {
        status: 422,
        reasonCode: 'InvalidChargeStatus',
      },
    );

    const cp = await client.getChargePermission(chargePermissionId);
    expect(cp.statusDetails.state).toBe('Chargeable');
    expect(cp.limits?.amountBalance).toEqual({ amount: '40.00', currencyCode: 'USD' });

    const rest = await client.createCharge(
      { chargePermissionId, chargeAmount: cp.limits!.amountBalance!, captureNow: true },
      { idempotencyKey: newKey('charge') },
    );
    expect(rest.chargeId).toMatch(CHARGE_ID);
    expect(rest.chargeId).not.toBe(chargeId);
    expect(rest.statusDetails.state).toBe('Captured');
    const closed = await client.getChargePermission(chargePermissionId);
    expect(closed.statusDetails).toMatchObject({
      state: 'Closed',
      reasons: [expect.objectContaining({ reasonCode: 'AmazonClosed' })],
    });

    const money = await admin.moneyMovements({ chargePermissionId });
    expect(money.totals).toMatchObject({
      authorized: '140.00',
      released: '40.00',
      captured: '100.00',
      outstandingAuthorization: '0.00',
    });
  });

  it('AuthorizeWithCapture: Complete returns a Captured charge (§3.3)', async () => {
    const { completed } = await runCheckout(client, admin, { intent: 'AuthorizeWithCapture', amount: '42.00' });
    const charge = await client.getCharge(completed!.chargeId!);
    expect(charge.statusDetails.state).toBe('Captured');
    expect(charge.captureAmount).toEqual({ amount: '42.00', currencyCode: 'USD' });
    const money = await admin.moneyMovements({ checkoutSessionId: completed!.checkoutSessionId });
    expect(money.movements.map((m) => m.kind)).toEqual(['authorization', 'capture']);
  });

  it('the …0701 instrument with canHandlePendingAuthorization: Completed, AuthorizationInitiated, then Authorized (§11)', async () => {
    const { completed } = await runCheckout(client, admin, {
      method: 'pendingThenAuthorized',
      update: {
        webCheckoutDetails: { checkoutResultReturnUrl: RESULT_URL },
        paymentDetails: {
          paymentIntent: 'Authorize',
          chargeAmount: usd('100.00'),
          canHandlePendingAuthorization: true,
        },
      },
    });
    expect(completed?.statusDetails.state).toBe('Completed');
    const chargeId = completed!.chargeId!;
    expect((await client.getCharge(chargeId)).statusDetails.state).toBe('AuthorizationInitiated');
    await admin.advanceClock(30_000);
    expect((await client.getCharge(chargeId)).statusDetails.state).toBe('Authorized');
  });

  it('the …4354 instrument: the session is Completed and the charge later Declined/HardDeclined (§3.1, §11)', async () => {
    const { completed } = await runCheckout(client, admin, {
      method: 'pendingThenDeclined',
      update: {
        webCheckoutDetails: { checkoutResultReturnUrl: RESULT_URL },
        paymentDetails: {
          paymentIntent: 'Authorize',
          chargeAmount: usd('100.00'),
          canHandlePendingAuthorization: true,
        },
      },
    });
    expect(completed?.statusDetails.state).toBe('Completed');
    await admin.advanceClock(30_000);
    expect((await client.getCharge(completed!.chargeId!)).statusDetails).toMatchObject({
      state: 'Declined',
      reasonCode: 'HardDeclined',
    });
  });

  it('the …0701 instrument without canHandlePendingAuthorization cannot complete (§11: "otherwise an error")', async () => {
    const { checkoutSessionId } = await runCheckout(client, admin, {
      method: 'pendingThenAuthorized',
      complete: false,
    });
    const error = await rejection(client.completeCheckoutSession(checkoutSessionId, { chargeAmount: usd('100.00') }));
    expect(error.retryable).toBe(false);
    expect(error.status).toBeGreaterThanOrEqual(400);
    expect(error.status).toBeLessThan(500);
  });

  it('…3434 and …3064: the session is Canceled with Declined / BuyerCanceled (§11)', async () => {
    const declined = await runCheckout(client, admin, { method: 'declinedAtAmazon', complete: false });
    expect((await client.getCheckoutSession(declined.checkoutSessionId)).statusDetails).toMatchObject({
      state: 'Canceled',
      reasonCode: 'Declined',
    });
    const canceled = await runCheckout(client, admin, { method: 'buyerCancel', complete: false });
    const session = await client.getCheckoutSession(canceled.checkoutSessionId);
    expect(session.statusDetails).toMatchObject({ state: 'Canceled', reasonCode: 'BuyerCanceled' });
    // §2.3: a Canceled session gives back no buyer details.
    expect(session.buyer ?? null).toBeNull();
  });

  it('a Closed one-time permission: only empty merchantMetadata fields can be updated, else 422 ChargePermissionNotModifiable (§3.2)', async () => {
    const { chargeId, chargePermissionId } = await runCheckout(client, admin, {
      create: { merchantMetadata: { merchantReferenceId: 'order-7' } },
    }).then((r) => ({ chargeId: r.completed!.chargeId!, chargePermissionId: r.completed!.chargePermissionId! }));
    await client.captureCharge(chargeId, { captureAmount: usd('100.00') }, { idempotencyKey: newKey('capture') });
    expect((await client.getChargePermission(chargePermissionId)).statusDetails.state).toBe('Closed');
    const updated = await client.updateChargePermission(chargePermissionId, {
      merchantMetadata: { noteToBuyer: 'Thanks' },
    });
    expect(updated.merchantMetadata).toMatchObject({ merchantReferenceId: 'order-7', noteToBuyer: 'Thanks' });
    await expectAmazonError(
      client.updateChargePermission(chargePermissionId, { merchantMetadata: { merchantReferenceId: 'order-8' } }),
      {
        status: 422,
        reasonCode: 'ChargePermissionNotModifiable',
      },
    );
  });

  it('JPY has no decimals: amounts are answered as whole strings (§2.1)', async () => {
    const { completed } = await runCheckout(client, admin, { amount: '1500', currencyCode: 'JPY' });
    const charge = await client.getCharge(completed!.chargeId!);
    expect(charge.chargeAmount).toEqual({ amount: '1500', currencyCode: 'JPY' });
    const captured = await client.captureCharge(
      charge.chargeId,
      { captureAmount: { amount: '1500', currencyCode: 'JPY' } },
      { idempotencyKey: newKey() },
    );
    expect(captured.captureAmount).toEqual({ amount: '1500', currencyCode: 'JPY' });
    // Our client refuses yen decimals before sending; Amazon (the simulator) answers them with 400.
    const before = await admin.requestCounts();
    await expectAmazonError(
      client.createRefund(
        { chargeId: charge.chargeId, refundAmount: { amount: '10.5', currencyCode: 'JPY' } },
        { idempotencyKey: newKey() },
      ),
      { status: 0, reasonCode: 'InvalidRequest' },
    );
    expect((await admin.requestCounts()).byOperation).toEqual(before.byOperation);
    const raw = await rawSignedRequest(
      sim.url,
      sandboxKey,
      'POST',
      '/v2/refunds',
      JSON.stringify({ chargeId: charge.chargeId, refundAmount: { amount: '10.5', currencyCode: 'JPY' } }),
      {
        headers: { 'x-amz-pay-idempotency-key': newKey('raw') },
      },
    );
    expect(raw.status).toBe(400);
    expect(raw.body).toMatchObject({ reasonCode: 'InvalidParameterValue' });
  });

  it('accepts amounts as JSON numbers and always answers strings (§2.1)', async () => {
    const response = await rawSignedRequest(
      sim.url,
      sandboxKey,
      'POST',
      '/v2/checkoutSessions',
      JSON.stringify({
        storeId: STORE_ID,
        webCheckoutDetails: { checkoutReviewReturnUrl: REVIEW_URL },
        paymentDetails: { paymentIntent: 'Authorize', chargeAmount: { amount: 14.5, currencyCode: 'USD' } },
      }),
      { headers: { 'x-amz-pay-idempotency-key': newKey('raw') } },
    );
    expect(response.status).toBe(201);
    expect(response.body.paymentDetails.chargeAmount).toEqual({ amount: '14.50', currencyCode: 'USD' });
    // And our client reads that session back with the typed schema.
    const read = await client.getCheckoutSession(response.body.checkoutSessionId);
    expect(read.paymentDetails?.chargeAmount?.amount).toBe('14.50');
  });
});

describe('business errors (§4.2): documented status and reasonCode, never retryable', () => {
  it('Complete with another amount: 409 AmountMismatch; the right amount still completes', async () => {
    const { checkoutSessionId } = await runCheckout(client, admin, { amount: '100.00', complete: false });
    await expectAmazonError(client.completeCheckoutSession(checkoutSessionId, { chargeAmount: usd('99.99') }), {
      status: 409,
      reasonCode: 'AmountMismatch',
    });
    await expectAmazonError(
      client.completeCheckoutSession(checkoutSessionId, { chargeAmount: { amount: '100.00', currencyCode: 'EUR' } }),
      {
        status: 409,
        reasonCode: 'AmountMismatch',
      },
    );
    expect(
      (await client.completeCheckoutSession(checkoutSessionId, { chargeAmount: usd('100.00') })).statusDetails.state,
    ).toBe('Completed');
  });

  it('Complete twice and Update after completion: 422 InvalidCheckoutSessionStatus', async () => {
    const { checkoutSessionId } = await runCheckout(client, admin);
    await expectAmazonError(client.completeCheckoutSession(checkoutSessionId, { chargeAmount: usd('100.00') }), {
      status: 422,
      reasonCode: 'InvalidCheckoutSessionStatus',
    });
    await expectAmazonError(
      client.updateCheckoutSession(checkoutSessionId, { merchantMetadata: { merchantReferenceId: 'late' } }),
      {
        status: 422,
        reasonCode: 'InvalidCheckoutSessionStatus',
      },
    );
  });

  it('Complete before the buyer returned: 422 InvalidCheckoutSessionStatus (§3.1)', async () => {
    const created = await createSession();
    await client.updateCheckoutSession(created.checkoutSessionId, {
      webCheckoutDetails: { checkoutResultReturnUrl: RESULT_URL },
      paymentDetails: { paymentIntent: 'Authorize', chargeAmount: usd('10.00') },
    });
    await expectAmazonError(client.completeCheckoutSession(created.checkoutSessionId, { chargeAmount: usd('10.00') }), {
      status: 422,
      reasonCode: 'InvalidCheckoutSessionStatus',
    });
  });

  it('Capture or refund of a charge in the wrong state: 422 InvalidChargeStatus', async () => {
    const { chargeId } = await authorizedCharge(client, admin);
    // Refund needs a Captured charge (§3.3).
    await expectAmazonError(
      client.createRefund({ chargeId, refundAmount: usd('1.00') }, { idempotencyKey: newKey('refund') }),
      {
        status: 422,
        reasonCode: 'InvalidChargeStatus',
      },
    );
    const canceled = await client.cancelCharge(chargeId, { cancellationReason: 'out of stock' });
    expect(canceled.statusDetails).toMatchObject({ state: 'Canceled', reasonCode: 'MerchantCanceled' });
    await expectAmazonError(
      client.captureCharge(chargeId, { captureAmount: usd('100.00') }, { idempotencyKey: newKey('capture') }),
      {
        status: 422,
        reasonCode: 'InvalidChargeStatus',
      },
    );
  });

  it('Capture above the authorization and refunds above captured + min(15 %, 75): 400 TransactionAmountExceeded', async () => {
    const { chargeId } = await authorizedCharge(client, admin, '100.00');
    await expectAmazonError(
      client.captureCharge(chargeId, { captureAmount: usd('100.01') }, { idempotencyKey: newKey('capture') }),
      {
        status: 400,
        reasonCode: 'TransactionAmountExceeded',
      },
    );
    await client.captureCharge(chargeId, { captureAmount: usd('100.00') }, { idempotencyKey: newKey('capture') });
    await expectAmazonError(
      client.createRefund({ chargeId, refundAmount: usd('115.01') }, { idempotencyKey: newKey('refund') }),
      {
        status: 400,
        reasonCode: 'TransactionAmountExceeded',
      },
    );
    // 15 % over the capture is allowed (§2.6), in several refunds, and nothing beyond it.
    await client.createRefund({ chargeId, refundAmount: usd('100.00') }, { idempotencyKey: newKey('refund') });
    await client.createRefund({ chargeId, refundAmount: usd('15.00') }, { idempotencyKey: newKey('refund') });
    await expectAmazonError(
      client.createRefund({ chargeId, refundAmount: usd('0.01') }, { idempotencyKey: newKey('refund') }),
      {
        status: 400,
        reasonCode: 'TransactionAmountExceeded',
      },
    );
  });

  it('Charge or capture in another currency: 400 CurrencyMismatch', async () => {
    const { chargeId, chargePermissionId } = await authorizedCharge(client, admin, '100.00');
    await client.captureCharge(chargeId, { captureAmount: usd('50.00') }, { idempotencyKey: newKey('capture') });
    await expectAmazonError(
      client.createCharge(
        { chargePermissionId, chargeAmount: { amount: '10.00', currencyCode: 'EUR' } },
        { idempotencyKey: newKey('charge') },
      ),
      { status: 400, reasonCode: 'CurrencyMismatch' },
    );
    const second = await client.createCharge(
      { chargePermissionId, chargeAmount: usd('10.00') },
      { idempotencyKey: newKey('charge') },
    );
    await expectAmazonError(
      client.captureCharge(
        second.chargeId,
        { captureAmount: { amount: '10.00', currencyCode: 'EUR' } },
        { idempotencyKey: newKey('capture') },
      ),
      { status: 400, reasonCode: 'CurrencyMismatch' },
    );
  });

  it('Unknown ids: 404 ResourceNotFound on every read', async () => {
    const notFound = { status: 404, reasonCode: 'ResourceNotFound' };
    await expectAmazonError(client.getCheckoutSession(randomUUID()), notFound);
    await expectAmazonError(client.getChargePermission('S01-0000000-0000000'), notFound);
    await expectAmazonError(client.getCharge('S01-0000000-0000000-C000000'), notFound);
    await expectAmazonError(client.getRefund('S01-0000000-0000000-R000000'), notFound);
    await expectAmazonError(
      client.captureCharge('S01-0000000-0000000-C000000', { captureAmount: usd('1.00') }, { idempotencyKey: newKey() }),
      notFound,
    );
  });

  it('Missing required values: 400 MissingParameterValue', async () => {
    const error = await expectAmazonError(
      client.createCheckoutSession({ storeId: STORE_ID, webCheckoutDetails: {} }, { idempotencyKey: newKey('create') }),
      { status: 400, reasonCode: 'MissingParameterValue' },
    );
    expect(error.message).toMatch(/^Value is missing for the required parameter /);
    // §2.8: totalOrderAmount is required on Complete once it was set on the session.
    const { checkoutSessionId } = await runCheckout(client, admin, {
      update: {
        webCheckoutDetails: { checkoutResultReturnUrl: RESULT_URL },
        paymentDetails: { paymentIntent: 'Authorize', chargeAmount: usd('50.00'), totalOrderAmount: usd('80.00') },
      },
      amount: '50.00',
      complete: false,
    });
    await expectAmazonError(client.completeCheckoutSession(checkoutSessionId, { chargeAmount: usd('50.00') }), {
      status: 400,
      reasonCode: 'MissingParameterValue',
    });
  });

  it('Unknown fields: our client refuses them before sending; the simulator answers 400 UnrecognizedField', async () => {
    const created = await createSession();
    const before = await admin.requestCounts();
    const refused = await rejection(
      client.updateCheckoutSession(created.checkoutSessionId, {
        webCheckoutDetails: { checkoutResultReturnUrl: RESULT_URL, checkoutMode: 'ProcessOrder' },
      } as unknown as Parameters<AmazonPayClient['updateCheckoutSession']>[1]),
    );
    expect(refused).toMatchObject({ status: 0, reasonCode: 'InvalidRequest', retryable: false });
    expect(refused.message).toContain('checkoutMode');
    expect((await admin.requestCounts()).byOperation).toEqual(before.byOperation);

    // The same body signed by the simulator's own signer: the exact answer of §2.8 / §4.1.
    const raw = await rawSignedRequest(
      sim.url,
      sandboxKey,
      'PATCH',
      `/v2/checkoutSessions/${created.checkoutSessionId}`,
      JSON.stringify({ webCheckoutDetails: { checkoutResultReturnUrl: RESULT_URL, checkoutMode: 'ProcessOrder' } }),
    );
    expect(raw.status).toBe(400);
    expect(raw.body).toEqual({
      reasonCode: 'UnrecognizedField',
      message: "The field 'checkoutMode' is invalid for this API.",
    });
    const topLevel = await rawSignedRequest(
      sim.url,
      sandboxKey,
      'PATCH',
      `/v2/checkoutSessions/${created.checkoutSessionId}`,
      JSON.stringify({ color: 'red' }),
    );
    expect(topLevel.body).toEqual({
      reasonCode: 'UnrecognizedField',
      message: "The field 'color' is invalid for this API.",
    });
    // Nothing was applied.
    expect(
      (await client.getCheckoutSession(created.checkoutSessionId)).webCheckoutDetails?.checkoutResultReturnUrl,
    ).toBeNull();
  });

  it('Unknown simulation code: 400 InvalidSandboxSimulationSpecified, and nothing happens', async () => {
    const { chargeId } = await authorizedCharge(client, admin);
    await expectAmazonError(
      client.captureCharge(
        chargeId,
        { captureAmount: usd('100.00') },
        { idempotencyKey: newKey('capture'), simulationCode: 'NoSuchSimulation' },
      ),
      { status: 400, reasonCode: 'InvalidSandboxSimulationSpecified' },
    );
    expect((await client.getCharge(chargeId)).statusDetails.state).toBe('Authorized');
    // A known code that belongs to another operation is rejected too (§11: "or a simulation not allowed for that call").
    await expectAmazonError(
      client.captureCharge(
        chargeId,
        { captureAmount: usd('100.00') },
        { idempotencyKey: newKey('capture'), simulationCode: 'RefundDeclined' },
      ),
      { status: 400, reasonCode: 'InvalidSandboxSimulationSpecified' },
    );
  });

  it('Sandbox simulation codes our client forwards take effect (§11: HardDeclined on Create Charge, CaptureInitiated on Capture)', async () => {
    const { chargeId, chargePermissionId } = await authorizedCharge(client, admin, '100.00');
    const pending = await client.captureCharge(
      chargeId,
      { captureAmount: usd('40.00') },
      {
        idempotencyKey: newKey('capture'),
        simulationCode: 'CaptureInitiated',
      },
    );
    expect(pending.statusDetails.state).toBe('CaptureInitiated');
    await admin.advanceClock(CAPTURE_INITIATED_MS + 1_000);
    expect((await client.getCharge(chargeId)).statusDetails.state).toBe('Captured');
    await expectAmazonError(
      client.createCharge(
        { chargePermissionId, chargeAmount: usd('10.00') },
        { idempotencyKey: newKey('charge'), simulationCode: 'HardDeclined' },
      ),
      { status: 422, reasonCode: 'HardDeclined' },
    );
  });
});

describe('idempotency (§5)', () => {
  it('the same key and body replay the capture: same charge, one capture movement', async () => {
    const { chargeId, chargePermissionId } = await authorizedCharge(client, admin);
    const key = newKey('capture');
    const first = await client.captureCharge(chargeId, { captureAmount: usd('100.00') }, { idempotencyKey: key });
    const second = await client.captureCharge(chargeId, { captureAmount: usd('100.00') }, { idempotencyKey: key });
    expect(second).toEqual(first);
    expect(second.statusDetails.state).toBe('Captured');
    const counts = await admin.requestCounts();
    expect(counts.byIdempotencyKey[key]).toBe(2);
    const money = await admin.moneyMovements({ chargePermissionId });
    expect(money.movements.filter((m) => m.kind === 'capture')).toHaveLength(1);
    expect(money.totals.captured).toBe('100.00');
  });

  it('the same key and body replay the refund: same refundId, one refund movement', async () => {
    const { chargeId, chargePermissionId } = await authorizedCharge(client, admin);
    await client.captureCharge(chargeId, { captureAmount: usd('100.00') }, { idempotencyKey: newKey('capture') });
    const key = newKey('refund');
    const first = await client.createRefund({ chargeId, refundAmount: usd('25.00') }, { idempotencyKey: key });
    const second = await client.createRefund({ chargeId, refundAmount: usd('25.00') }, { idempotencyKey: key });
    expect(second.refundId).toBe(first.refundId);
    await admin.advanceClock(REFUND_MS + 1_000);
    const third = await client.createRefund({ chargeId, refundAmount: usd('25.00') }, { idempotencyKey: key });
    expect(third.refundId).toBe(first.refundId);
    expect((await admin.objects()).refunds).toHaveLength(1);
    const money = await admin.moneyMovements({ chargePermissionId });
    expect(money.movements.filter((m) => m.kind === 'refund')).toEqual([
      expect.objectContaining({ refundId: first.refundId, amount: '25.00' }),
    ]);
    expect((await client.getCharge(chargeId)).refundedAmount?.amount).toBe('25.00');
  });

  it('the same key replays Create Checkout Session and Create Charge (same ids)', async () => {
    const key = newKey('create');
    const body = { storeId: STORE_ID, webCheckoutDetails: { checkoutReviewReturnUrl: REVIEW_URL } };
    const a = await client.createCheckoutSession(body, { idempotencyKey: key });
    const b = await client.createCheckoutSession(body, { idempotencyKey: key });
    expect(b.checkoutSessionId).toBe(a.checkoutSessionId);
    expect((await admin.objects()).checkoutSessions).toHaveLength(1);

    const { chargeId, chargePermissionId } = await authorizedCharge(client, admin, '100.00');
    await client.captureCharge(chargeId, { captureAmount: usd('50.00') }, { idempotencyKey: newKey('capture') });
    const chargeKey = newKey('charge');
    const c1 = await client.createCharge(
      { chargePermissionId, chargeAmount: usd('20.00') },
      { idempotencyKey: chargeKey },
    );
    const c2 = await client.createCharge(
      { chargePermissionId, chargeAmount: usd('20.00') },
      { idempotencyKey: chargeKey },
    );
    expect(c2.chargeId).toBe(c1.chargeId);
    const money = await admin.moneyMovements({ chargePermissionId });
    expect(money.movements.filter((m) => m.kind === 'authorization').map((m) => m.amount)).toEqual(['100.00', '20.00']);
  });

  it('the same key with another body: 400 DuplicateIdempotencyKey, not retryable, nothing captured twice', async () => {
    const { chargeId, chargePermissionId } = await authorizedCharge(client, admin);
    const key = newKey('capture');
    await client.captureCharge(chargeId, { captureAmount: usd('40.00') }, { idempotencyKey: key });
    await expectAmazonError(client.captureCharge(chargeId, { captureAmount: usd('50.00') }, { idempotencyKey: key }), {
      status: 400,
      reasonCode: 'DuplicateIdempotencyKey',
    });
    const refundKey = newKey('refund');
    await client.createRefund({ chargeId, refundAmount: usd('10.00') }, { idempotencyKey: refundKey });
    await expectAmazonError(
      client.createRefund({ chargeId, refundAmount: usd('11.00') }, { idempotencyKey: refundKey }),
      {
        status: 400,
        reasonCode: 'DuplicateIdempotencyKey',
      },
    );
    expect((await admin.moneyMovements({ chargePermissionId })).totals.captured).toBe('40.00');
  });

  it('our client refuses a missing or over-long key before sending; the simulator rejects them too (§5)', async () => {
    const body = { storeId: STORE_ID, webCheckoutDetails: { checkoutReviewReturnUrl: REVIEW_URL } };
    const before = await admin.requestCounts();
    for (const idempotencyKey of [undefined, '', 'a'.repeat(33), 'has space']) {
      const refused = await rejection(
        client.createCheckoutSession(body, { idempotencyKey } as unknown as { idempotencyKey: string }),
      );
      expect(refused).toMatchObject({ status: 0, reasonCode: 'InvalidIdempotencyKey', retryable: false });
    }
    expect((await admin.requestCounts()).byOperation).toEqual(before.byOperation);
    for (const headers of [{}, { 'x-amz-pay-idempotency-key': 'a'.repeat(33) }] as Array<Record<string, string>>) {
      const raw = await rawSignedRequest(sim.url, sandboxKey, 'POST', '/v2/checkoutSessions', JSON.stringify(body), {
        headers,
      });
      expect(raw.status).toBe(400);
    }
    // 32 characters is the limit, not over it.
    expect((await client.createCheckoutSession(body, { idempotencyKey: 'a'.repeat(32) })).statusDetails.state).toBe(
      'Open',
    );
  });

  it('a 5xx is not stored: the retryable ProcessingFailure is retried with the same key and then succeeds once (§4.3)', async () => {
    const { completed } = await runCheckout(client, admin, {
      intent: 'Confirm',
      create: { chargePermissionType: 'Recurring', recurringMetadata: { frequency: { unit: 'Month', value: '1' } } },
    });
    const chargePermissionId = completed!.chargePermissionId!;
    const key = newKey('cycle');
    await expectAmazonError(
      client.createCharge(
        { chargePermissionId, chargeAmount: usd('14.00'), captureNow: true },
        { idempotencyKey: key, simulationCode: 'ProcessingFailure' },
      ),
      { status: 500, reasonCode: 'ProcessingFailure', retryable: true },
    );
    const retried = await client.createCharge(
      { chargePermissionId, chargeAmount: usd('14.00'), captureNow: true },
      { idempotencyKey: key },
    );
    const again = await client.createCharge(
      { chargePermissionId, chargeAmount: usd('14.00'), captureNow: true },
      { idempotencyKey: key },
    );
    expect(again.chargeId).toBe(retried.chargeId);
    expect((await admin.moneyMovements({ chargePermissionId })).totals.captured).toBe('14.00');
  });

  it('a 4xx decline is stored under its key: only a new key makes a new attempt (§5, §8.3)', async () => {
    const { completed } = await runCheckout(client, admin, {
      intent: 'Confirm',
      method: 'softDecline',
      create: { chargePermissionType: 'Recurring', recurringMetadata: { frequency: { unit: 'Month', value: '1' } } },
    });
    const chargePermissionId = completed!.chargePermissionId!;
    const key = newKey('cycle');
    const body = { chargePermissionId, chargeAmount: usd('14.00'), captureNow: true };
    await expectAmazonError(client.createCharge(body, { idempotencyKey: key }), {
      status: 422,
      reasonCode: 'SoftDeclined',
      retryable: false,
    });
    // §8.3: after a soft decline the permission stays Chargeable.
    expect((await client.getChargePermission(chargePermissionId)).statusDetails.state).toBe('Chargeable');
    await admin.fixPaymentMethod(chargePermissionId, 'happy');
    await expectAmazonError(client.createCharge(body, { idempotencyKey: key }), {
      status: 422,
      reasonCode: 'SoftDeclined',
    });
    expect((await client.createCharge(body, { idempotencyKey: newKey('cycle-retry') })).statusDetails.state).toBe(
      'Captured',
    );
  });

  it('keys from idempotencyKeyFor (32 alphanumerics, stable per operation) are accepted', async () => {
    const key = idempotencyKeyFor(`contract/checkout/${randomUUID()}/create`);
    expect(key).toMatch(/^[A-Za-z0-9]{32}$/);
    const created = await client.createCheckoutSession(
      { storeId: STORE_ID, webCheckoutDetails: { checkoutReviewReturnUrl: REVIEW_URL } },
      { idempotencyKey: key },
    );
    expect(created.statusDetails.state).toBe('Open');
    expect((await admin.requestCounts()).byIdempotencyKey[key]).toBe(1);
  });
});

describe('throttling (§9)', () => {
  it("'sandbox' quotas: a burst of Create Checkout Session gets 429 TooManyRequests (retryable), then succeeds after the restore rate", async () => {
    await admin.setFaults({ throttling: 'sandbox' });
    const keys = Array.from({ length: 8 }, () => newKey('create'));
    const body = { storeId: STORE_ID, webCheckoutDetails: { checkoutReviewReturnUrl: REVIEW_URL } };
    const outcomes = await Promise.allSettled(
      keys.map((idempotencyKey) => client.createCheckoutSession(body, { idempotencyKey })),
    );
    const rejected = outcomes.flatMap((o, i) =>
      o.status === 'rejected' ? [{ error: o.reason as unknown, key: keys[i]! }] : [],
    );
    // Max quota 5, restore 1/s: at least 5 of 8 pass, and some are throttled.
    expect(outcomes.length - rejected.length).toBeGreaterThanOrEqual(5);
    expect(rejected.length).toBeGreaterThan(0);
    for (const { error } of rejected) {
      expect(error).toBeInstanceOf(AmazonPayError);
      expect(error).toMatchObject({ status: 429, reasonCode: 'TooManyRequests', retryable: true });
    }
    await sleep(1_100);
    // The retry reuses the throttled call's key: a 429 was not stored as that key's answer.
    const retried = await client.createCheckoutSession(body, { idempotencyKey: rejected[0]!.key });
    expect(retried.statusDetails.state).toBe('Open');
  });

  it('a per-operation bucket throttles only its operation and refills at its restore rate', async () => {
    const created = await createSession();
    await admin.setFaults({ throttling: { getCheckoutSession: { maxQuota: 2, restorePerSecond: 1 } } });
    await client.getCheckoutSession(created.checkoutSessionId);
    await client.getCheckoutSession(created.checkoutSessionId);
    await expectAmazonError(client.getCheckoutSession(created.checkoutSessionId), {
      status: 429,
      reasonCode: 'TooManyRequests',
      retryable: true,
    });
    // Other operations have no bucket.
    await client.updateCheckoutSession(created.checkoutSessionId, {
      merchantMetadata: { merchantReferenceId: 'order-1' },
    });
    await sleep(1_100);
    expect((await client.getCheckoutSession(created.checkoutSessionId)).merchantMetadata?.merchantReferenceId).toBe(
      'order-1',
    );
  });
});

describe('transport faults (§4.3)', () => {
  it('errorRate 1: every call fails with 5xx, retryable, before anything is processed', async () => {
    await admin.setFaults({ errorRate: 1 });
    for (let i = 0; i < 4; i += 1) {
      const error = await rejection(createSession());
      expect([500, 503]).toContain(error.status);
      expect(['InternalServerError', 'ServiceUnavailable']).toContain(error.reasonCode);
      expect(error.retryable).toBe(true);
    }
    expect((await admin.objects()).checkoutSessions).toHaveLength(0);
    await admin.setFaults({ errorRate: 0 });
    expect((await createSession()).statusDetails.state).toBe('Open');
  });

  it('latency longer than timeoutMs: reasonCode Timeout, status 0, retryable', async () => {
    const created = await createSession();
    const impatient = makeClient(sim.url, sandboxKey, { timeoutMs: 250 });
    await admin.setFaults({ latencyMs: 1_000 });
    const started = performance.now();
    await expectAmazonError(impatient.getCheckoutSession(created.checkoutSessionId), {
      status: 0,
      reasonCode: 'Timeout',
      retryable: true,
    });
    expect(performance.now() - started).toBeLessThan(900);
    await admin.setFaults({ latencyMs: 0 });
    expect((await impatient.getCheckoutSession(created.checkoutSessionId)).checkoutSessionId).toBe(
      created.checkoutSessionId,
    );
  });

  it('a held capture times out at the client but took effect; the retry with the same key replays it without a second capture', async () => {
    const { chargeId, chargePermissionId } = await authorizedCharge(client, admin);
    const impatient = makeClient(sim.url, sandboxKey, { timeoutMs: 300 });
    await admin.setFaults({ holdResponses: { operation: 'captureCharge', ms: 1_500, count: 1 } });
    const key = newKey('capture');
    await expectAmazonError(
      impatient.captureCharge(chargeId, { captureAmount: usd('100.00') }, { idempotencyKey: key }),
      {
        status: 0,
        reasonCode: 'Timeout',
        retryable: true,
      },
    );
    expect((await client.getCharge(chargeId)).statusDetails.state).toBe('Captured');
    const retried = await impatient.captureCharge(chargeId, { captureAmount: usd('100.00') }, { idempotencyKey: key });
    expect(retried).toMatchObject({
      chargeId,
      statusDetails: expect.objectContaining({ state: 'Captured' }) as unknown,
    });
    const money = await admin.moneyMovements({ chargePermissionId });
    expect(money.movements.filter((m) => m.kind === 'capture')).toHaveLength(1);
    expect(money.totals.captured).toBe('100.00');
  });
});

describe('deadlines on the simulator clock (§3.5)', () => {
  it('an Open session is Canceled/Expired 24 h after creation, and its payment-page authorization is released', async () => {
    const open = await createSession();
    const paidNotCompleted = await runCheckout(client, admin, { complete: false });
    await admin.advanceClock(DAY - HOUR);
    expect((await client.getCheckoutSession(open.checkoutSessionId)).statusDetails.state).toBe('Open');
    await admin.advanceClock(HOUR + 1_000);
    for (const id of [open.checkoutSessionId, paidNotCompleted.checkoutSessionId]) {
      const session = await client.getCheckoutSession(id);
      expect(session.statusDetails).toMatchObject({ state: 'Canceled', reasonCode: 'Expired' });
    }
    // §3.1: "also cancels any authorization made".
    const money = await admin.moneyMovements({ checkoutSessionId: paidNotCompleted.checkoutSessionId });
    expect(money.totals).toMatchObject({ authorized: '100.00', released: '100.00', outstandingAuthorization: '0.00' });
    // §4.2: CheckoutSessionCanceled is 400 or 422 (UNCONFIRMED which).
    const canceled = await rejection(
      client.completeCheckoutSession(paidNotCompleted.checkoutSessionId, { chargeAmount: usd('100.00') }),
    );
    expect(canceled).toMatchObject({ reasonCode: 'CheckoutSessionCanceled', retryable: false });
    expect([400, 422]).toContain(canceled.status);
  });

  it('an Authorized charge is Canceled/ExpiredUnused 30 days after authorization', async () => {
    const { chargeId, chargePermissionId } = await authorizedCharge(client, admin);
    await admin.advanceClock(29 * DAY);
    expect((await client.getCharge(chargeId)).statusDetails.state).toBe('Authorized');
    await admin.advanceClock(DAY + 1_000);
    expect((await client.getCharge(chargeId)).statusDetails).toMatchObject({
      state: 'Canceled',
      reasonCode: 'ExpiredUnused',
    });
    expect((await admin.moneyMovements({ chargePermissionId })).totals.outstandingAuthorization).toBe('0.00');
  });

  it('a capture more than 7 days after authorization is CaptureInitiated, then Captured after the delay', async () => {
    const { chargeId, chargePermissionId } = await authorizedCharge(client, admin);
    await admin.advanceClock(7 * DAY + HOUR);
    const pending = await client.captureCharge(
      chargeId,
      { captureAmount: usd('100.00') },
      { idempotencyKey: newKey('capture') },
    );
    expect(pending.statusDetails.state).toBe('CaptureInitiated');
    expect((await admin.moneyMovements({ chargePermissionId })).totals.captured).toBe('0.00');
    await admin.advanceClock(CAPTURE_INITIATED_MS + 1_000);
    const settled = await client.getCharge(chargeId);
    expect(settled.statusDetails.state).toBe('Captured');
    expect(settled.captureAmount?.amount).toBe('100.00');
    expect((await admin.moneyMovements({ chargePermissionId })).totals.captured).toBe('100.00');
  });

  it('a capture within 7 days of authorization is synchronous', async () => {
    const { chargeId } = await authorizedCharge(client, admin);
    await admin.advanceClock(7 * DAY - HOUR);
    const captured = await client.captureCharge(
      chargeId,
      { captureAmount: usd('100.00') },
      { idempotencyKey: newKey('capture') },
    );
    expect(captured.statusDetails.state).toBe('Captured');
  });
});

describe('recurring (§8)', () => {
  const recurring = {
    create: {
      chargePermissionType: 'Recurring' as const,
      recurringMetadata: { frequency: { unit: 'Month' as const, value: '1' }, amount: usd('14.00') },
    },
    intent: 'Confirm' as const,
    amount: '14.00',
  };

  it('Confirm -> Chargeable; Create Charge captureNow -> Captured; monthly cap -> PeriodicAmountExceeded; close -> Closed', async () => {
    const { completed } = await runCheckout(client, admin, recurring);
    expect(completed?.statusDetails.state).toBe('Completed');
    // §2.3: no charge with the Confirm intent.
    expect(completed?.chargeId ?? null).toBeNull();
    const cpId = completed!.chargePermissionId!;
    expect(cpId).toMatch(CP_ID);

    const cp = await client.getChargePermission(cpId);
    expect(cp.statusDetails).toMatchObject({ state: 'Chargeable', reasons: [] });
    expect(cp.chargePermissionType).toBe('Recurring');
    expect(cp.recurringMetadata).toMatchObject({
      frequency: { unit: 'Month', value: '1' },
      amount: { amount: '14.00', currencyCode: 'USD' },
    });
    expect(cp.creationTimestamp).toMatch(TIMESTAMP);
    expect((await admin.moneyMovements({ chargePermissionId: cpId })).movements).toEqual([]);

    const charge = await client.createCharge(
      { chargePermissionId: cpId, chargeAmount: usd('14.00'), captureNow: true, softDescriptor: 'CONTRACT SUB' },
      { idempotencyKey: newKey('cycle-1') },
    );
    expect(charge.chargeId).toMatch(CHARGE_ID);
    expect(charge.chargeId.startsWith(`${cpId}-C`)).toBe(true);
    expect(charge.statusDetails.state).toBe('Captured');
    expect(charge.captureAmount).toEqual({ amount: '14.00', currencyCode: 'USD' });
    expectTimestamps(charge);

    // §8.4: USD 1,000 a calendar month; 14 + 986.01 is over it.
    await expectAmazonError(
      client.createCharge(
        { chargePermissionId: cpId, chargeAmount: usd('986.01'), captureNow: true },
        { idempotencyKey: newKey('cycle-2') },
      ),
      { status: 400, reasonCode: 'PeriodicAmountExceeded' },
    );
    const upToCap = await client.createCharge(
      { chargePermissionId: cpId, chargeAmount: usd('986.00'), captureNow: true },
      { idempotencyKey: newKey('cycle-2b') },
    );
    expect(upToCap.statusDetails.state).toBe('Captured');

    const closed = await client.closeChargePermission(cpId, {
      closureReason: 'Subscription Cancelled',
      cancelPendingCharges: false,
    });
    expect(closed.statusDetails.state).toBe('Closed');
    // §3.2: the spelling of a merchant closure is UNCONFIRMED; both documented spellings are accepted here.
    expect(closed.statusDetails.reasons.map((r) => r.reasonCode)).toEqual([
      expect.stringMatching(/^Merchant(Closed|Canceled)$/),
    ]);
    expect((await client.getChargePermission(cpId)).statusDetails.state).toBe('Closed');
    await expectAmazonError(
      client.createCharge(
        { chargePermissionId: cpId, chargeAmount: usd('1.00') },
        { idempotencyKey: newKey('cycle-3') },
      ),
      { status: 422, reasonCode: 'InvalidChargePermissionStatus' },
    );
  });

  it('closing with cancelPendingCharges cancels Authorized charges (ChargePermissionCanceled); without it they stay (§8.5)', async () => {
    const first = await runCheckout(client, admin, recurring);
    const keepCp = first.completed!.chargePermissionId!;
    const kept = await client.createCharge(
      { chargePermissionId: keepCp, chargeAmount: usd('14.00') },
      { idempotencyKey: newKey('auth') },
    );
    expect(kept.statusDetails.state).toBe('Authorized');
    await client.closeChargePermission(keepCp, {
      closureReason: 'Subscription Cancelled',
      cancelPendingCharges: false,
    });
    expect((await client.getCharge(kept.chargeId)).statusDetails.state).toBe('Authorized');

    const second = await runCheckout(client, admin, recurring);
    const cancelCp = second.completed!.chargePermissionId!;
    const pending = await client.createCharge(
      { chargePermissionId: cancelCp, chargeAmount: usd('14.00') },
      { idempotencyKey: newKey('auth') },
    );
    await client.closeChargePermission(cancelCp, {
      closureReason: 'Subscription Cancelled',
      cancelPendingCharges: true,
    });
    expect((await client.getCharge(pending.chargeId)).statusDetails).toMatchObject({
      state: 'Canceled',
      reasonCode: 'ChargePermissionCanceled',
    });
    // Closing again is a wrong-state call (§3.2: a Closed permission allows Get only).
    await expectAmazonError(client.closeChargePermission(cancelCp, { closureReason: 'again' }), {
      status: 422,
      reasonCode: 'InvalidChargePermissionStatus',
    });
  });

  it('softDescriptor without captureNow: refused by our client, 400 InvalidParameterCombination from Amazon (§2.5)', async () => {
    const { completed } = await runCheckout(client, admin, recurring);
    const body = {
      chargePermissionId: completed!.chargePermissionId!,
      chargeAmount: usd('14.00'),
      softDescriptor: 'CONTRACT SUB',
    };
    await expectAmazonError(client.createCharge(body, { idempotencyKey: newKey('charge') }), {
      status: 0,
      reasonCode: 'InvalidRequest',
    });
    const raw = await rawSignedRequest(sim.url, sandboxKey, 'POST', '/v2/charges', JSON.stringify(body), {
      headers: { 'x-amz-pay-idempotency-key': newKey('raw') },
    });
    expect(raw.status).toBe(400);
    expect(raw.body).toMatchObject({ reasonCode: 'InvalidParameterCombination' });
  });

  it("the 'hardDecline' instrument passes checkout, then Create Charge is 422 HardDeclined and the CP NonChargeable/PaymentMethodInvalid", async () => {
    const { completed } = await runCheckout(client, admin, { ...recurring, method: 'hardDecline' });
    const cpId = completed!.chargePermissionId!;
    expect((await client.getChargePermission(cpId)).statusDetails.state).toBe('Chargeable');

    await expectAmazonError(
      client.createCharge(
        { chargePermissionId: cpId, chargeAmount: usd('14.00'), captureNow: true },
        { idempotencyKey: newKey('cycle-1') },
      ),
      { status: 422, reasonCode: 'HardDeclined', retryable: false },
    );
    const cp = await client.getChargePermission(cpId);
    expect(cp.statusDetails.state).toBe('NonChargeable');
    expect(cp.statusDetails.reasons).toEqual([expect.objectContaining({ reasonCode: 'PaymentMethodInvalid' })]);
    // §12.5: a synchronous decline is an HTTP error, not a Declined charge.
    expect((await admin.objects()).charges).toHaveLength(0);
    await expectAmazonError(
      client.createCharge(
        { chargePermissionId: cpId, chargeAmount: usd('14.00'), captureNow: true },
        { idempotencyKey: newKey('cycle-1-retry') },
      ),
      { status: 422, reasonCode: 'InvalidChargePermissionStatus' },
    );

    // §8.3: once the buyer fixes the instrument the CP is Chargeable again.
    await admin.fixPaymentMethod(cpId, 'happy');
    expect((await client.getChargePermission(cpId)).statusDetails).toMatchObject({ state: 'Chargeable', reasons: [] });
    const charged = await client.createCharge(
      { chargePermissionId: cpId, chargeAmount: usd('14.00'), captureNow: true },
      { idempotencyKey: newKey('cycle-1-fixed') },
    );
    expect(charged.statusDetails.state).toBe('Captured');
  });
});

describe('the Amazon Pay button (§6.7)', () => {
  const payload = {
    storeId: STORE_ID,
    webCheckoutDetails: { checkoutReviewReturnUrl: REVIEW_URL },
    scopes: ['name', 'email'],
  };

  it.each(['AMZN-PAY-RSASSA-PSS', 'AMZN-PAY-RSASSA-PSS-V2'] as const)(
    'buttonConfig (%s) is accepted by the simulated button',
    async (algorithm) => {
      const c = makeClient(sim.url, sandboxKey, { algorithm });
      const config = c.buttonConfig(payload);
      expect(config).toMatchObject({ publicKeyId: SANDBOX_KEY_ID, algorithm, payloadJSON: JSON.stringify(payload) });
      const { checkoutSessionId, location } = await admin.clickButton(config);
      expect(location).toBe(`${REVIEW_URL}?amazonCheckoutSessionId=${checkoutSessionId}`);
      // Amazon created the session from the payload; the buyer is already signed in.
      const session = await c.getCheckoutSession(checkoutSessionId);
      expect(session.statusDetails.state).toBe('Open');
      expect(session.buyer?.buyerId).toMatch(/^amzn1\.account\./);
      expect(session.constraints?.map((x) => x.constraintId)).not.toContain('BuyerNotAssociated');
      expect(session.webCheckoutDetails?.checkoutReviewReturnUrl).toBe(REVIEW_URL);
    },
  );

  it('a payloadJSON changed after signing is rejected', async () => {
    const config = client.buttonConfig(payload);
    const tampered = { ...config, payloadJSON: config.payloadJSON.replace(REVIEW_URL, 'https://evil.test/review') };
    expect(tampered.payloadJSON).not.toBe(config.payloadJSON);
    const error = await admin.clickButton(tampered).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SimulatorAdminError);
    expect((error as SimulatorAdminError).status).toBe(403);
    expect((error as SimulatorAdminError).body).toContain('InvalidRequestSignature');
    // A re-serialised but equal payload is different bytes, so it is rejected as well (§6.7).
    const reordered = { ...config, payloadJSON: JSON.stringify(JSON.parse(config.payloadJSON), null, 1) };
    await expect(admin.clickButton(reordered)).rejects.toMatchObject({ status: 403 });
    expect((await admin.objects()).checkoutSessions).toHaveLength(0);
  });
});

function isoOf(compact: string): string {
  return compact.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z');
}

function expectTimestamps(charge: Charge): void {
  expect(charge.creationTimestamp).toMatch(TIMESTAMP);
  expect(charge.expirationTimestamp).toMatch(TIMESTAMP);
  expect(charge.statusDetails.lastUpdatedTimestamp).toMatch(TIMESTAMP);
  expect(typeof charge.chargeAmount.amount).toBe('string');
}
