import { describe, expect, it, vi } from 'vitest';
import { createSimulator } from './index';
import { buttonConfig, createCaller, generateTestKey, runCheckout, STORE_ID, submitForm } from './test-support';

const key = generateTestKey('SANDBOX-CHECKOUT');
const HOUR = 3_600_000;

function setup(options: Parameters<typeof createSimulator>[0] = {}) {
  const sim = createSimulator({ publicKeys: { [key.publicKeyId]: key.publicKeyPem }, ...options });
  const caller = createCaller(sim.app, key);
  const notify = vi.spyOn(sim.ipn, 'notify');
  return { sim, caller, ...caller, notify };
}

const createBody = { storeId: STORE_ID, webCheckoutDetails: { checkoutReviewReturnUrl: 'https://shop.test/review' } };

describe('Checkout Session', () => {
  it('lists constraints until the session is complete enough, and only then gives amazonPayRedirectUrl', async () => {
    const { sim, call, idem } = setup();
    const created = await call('POST', '/checkoutSessions', createBody, { idempotencyKey: idem() });
    expect(created.status).toBe(201);
    const id = created.body.checkoutSessionId;
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(created.body.constraints.map((c: { constraintId: string }) => c.constraintId)).toEqual([
      'BuyerNotAssociated',
      'ChargeAmountNotSet',
      'CheckoutResultReturnUrlNotSet',
      'PaymentIntentNotSet',
    ]);
    expect(created.body.creationTimestamp).toMatch(/^\d{8}T\d{6}Z$/);
    expect(created.body.paymentPreferences).toEqual([null]);

    const partly = await call('PATCH', `/checkoutSessions/${id}`, {
      webCheckoutDetails: { checkoutResultReturnUrl: 'https://shop.test/result' },
      paymentDetails: { paymentIntent: 'Authorize', chargeAmount: { amount: 20, currencyCode: 'USD' } },
    });
    expect(partly.body.constraints.map((c: { constraintId: string }) => c.constraintId)).toEqual([
      'BuyerNotAssociated',
    ]);
    expect(partly.body.webCheckoutDetails.amazonPayRedirectUrl).toBeNull();
    expect(partly.body.paymentDetails.chargeAmount).toEqual({ amount: '20.00', currencyCode: 'USD' });

    const signIn = await sim.app.request(`http://sim.test/checkout/signin/${id}`);
    expect(await signIn.text()).toContain('<form method="POST">');
    const signedIn = await submitForm(sim.app, `/checkout/signin/${id}`);
    expect(signedIn).toMatchObject({ status: 302, location: `https://shop.test/review?amazonCheckoutSessionId=${id}` });

    const ready = await call('GET', `/checkoutSessions/${id}`);
    expect(ready.body.constraints).toEqual([]);
    expect(ready.body.webCheckoutDetails.amazonPayRedirectUrl).toBe(`http://sim.test/checkout/pay/${id}`);
    expect(ready.body.buyer.buyerId).toMatch(/^amzn1\.account\.[A-Z0-9]+$/);
    expect(ready.body.shippingAddress.city).toBe('Chicago');
  });

  it('validates request bodies with Amazon reason codes', async () => {
    const { call, idem } = setup();
    const unknownField = await call(
      'POST',
      '/checkoutSessions',
      { ...createBody, checkoutMode: 'x' },
      { idempotencyKey: idem() },
    );
    expect(unknownField.body).toEqual({
      reasonCode: 'UnrecognizedField',
      message: "The field 'checkoutMode' is invalid for this API.",
    });
    const missing = await call('POST', '/checkoutSessions', { webCheckoutDetails: {} }, { idempotencyKey: idem() });
    expect(missing.body).toEqual({
      reasonCode: 'MissingParameterValue',
      message: 'Value is missing for the required parameter storeId',
    });
    const badValue = await call(
      'POST',
      '/checkoutSessions',
      { ...createBody, paymentDetails: { paymentIntent: 'Steal' } },
      { idempotencyKey: idem() },
    );
    expect(badValue.body.reasonCode).toBe('InvalidParameterValue');
    expect(badValue.body.message).toContain('paymentDetails.paymentIntent');
    const badJson = await call('POST', '/checkoutSessions', undefined, {
      idempotencyKey: idem(),
      rawBody: '{"storeId":',
    });
    expect(badJson.status).toBe(400);
    expect(badJson.body.reasonCode).toBe('InvalidRequestFormat');
    const badAmount = await call(
      'POST',
      '/checkoutSessions',
      { ...createBody, paymentDetails: { chargeAmount: { amount: '1.001', currencyCode: 'USD' } } },
      { idempotencyKey: idem() },
    );
    expect(badAmount.body.reasonCode).toBe('InvalidParameterValue');
    const badCurrency = await call(
      'POST',
      '/checkoutSessions',
      { ...createBody, paymentDetails: { chargeAmount: { amount: '1', currencyCode: 'XXX' } } },
      { idempotencyKey: idem() },
    );
    expect(badCurrency.body.reasonCode).toBe('InvalidParameterValue');
    const jpy = await call(
      'POST',
      '/checkoutSessions',
      { ...createBody, paymentDetails: { chargeAmount: { amount: 500, currencyCode: 'JPY' } } },
      { idempotencyKey: idem() },
    );
    expect(jpy.body.paymentDetails.chargeAmount).toEqual({ amount: '500', currencyCode: 'JPY' });
  });

  it('a rejected Update changes nothing, so the session is never left half-written or wedged', async () => {
    const { sim, call, idem } = setup();
    const created = await call('POST', '/checkoutSessions', createBody, { idempotencyKey: idem() });
    const id = created.body.checkoutSessionId;
    const before = (await call('GET', `/checkoutSessions/${id}`)).body;
    const usd = (amount: string) => ({ amount, currencyCode: 'USD' });

    const badAmount = await call('PATCH', `/checkoutSessions/${id}`, {
      webCheckoutDetails: { checkoutResultReturnUrl: 'https://shop.test/result' },
      paymentDetails: { paymentIntent: 'Authorize', chargeAmount: usd('1.234') },
      merchantMetadata: { merchantReferenceId: 'order-1' },
    });
    expect(badAmount.status).toBe(400);
    expect(badAmount.body.reasonCode).toBe('InvalidParameterValue');

    const mismatch = await call('PATCH', `/checkoutSessions/${id}`, {
      paymentDetails: {
        paymentIntent: 'Authorize',
        chargeAmount: usd('10.00'),
        totalOrderAmount: { amount: '10.00', currencyCode: 'EUR' },
      },
    });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.reasonCode).toBe('CurrencyMismatch');

    const oneTime = await call('PATCH', `/checkoutSessions/${id}`, {
      paymentDetails: { paymentIntent: 'Confirm' },
      merchantMetadata: { merchantReferenceId: 'order-2' },
      recurringMetadata: { frequency: { unit: 'Month', value: '1' } },
    });
    expect(oneTime.status).toBe(400);
    expect(oneTime.body.reasonCode).toBe('InvalidParameterCombination');

    const after = (await call('GET', `/checkoutSessions/${id}`)).body;
    expect(after).toEqual(before);
    expect(sim.engine.sessions.get(id)).toMatchObject({
      recurringMetadata: null,
      paymentDetails: { paymentIntent: null, chargeAmount: null },
    });

    // Not wedged: the next valid Update goes through, and a Recurring upgrade with its metadata is one request.
    const fine = await call('PATCH', `/checkoutSessions/${id}`, {
      webCheckoutDetails: { checkoutResultReturnUrl: 'https://shop.test/result' },
      paymentDetails: { paymentIntent: 'Authorize', chargeAmount: usd('10.00') },
    });
    expect(fine.status).toBe(200);
    expect(fine.body.paymentDetails).toMatchObject({ paymentIntent: 'Authorize', chargeAmount: usd('10.00') });
    const upgrade = await call('PATCH', `/checkoutSessions/${id}`, {
      chargePermissionType: 'Recurring',
      recurringMetadata: { frequency: { unit: 'Month', value: '1' } },
    });
    expect(upgrade.status).toBe(200);
    expect(upgrade.body).toMatchObject({
      chargePermissionType: 'Recurring',
      recurringMetadata: { frequency: { unit: 'Month', value: '1' } },
    });
  });

  it('refuses a chargeAmount above the per-transaction maximum (§2.5) on Create and Update', async () => {
    const { call, idem } = setup();
    const withAmount = (amount: string, currencyCode: string) => ({
      ...createBody,
      paymentDetails: { chargeAmount: { amount, currencyCode } },
    });
    for (const [amount, currencyCode] of [
      ['150000.01', 'USD'],
      ['150001', 'EUR'],
      ['150000.01', 'GBP'],
      ['10000001', 'JPY'],
    ] as const) {
      const created = await call('POST', '/checkoutSessions', withAmount(amount, currencyCode), {
        idempotencyKey: idem(),
      });
      expect(created.status, `${amount} ${currencyCode}`).toBe(400);
      expect(created.body.reasonCode).toBe('InvalidParameterValue');
      expect(created.body.message).toContain('paymentDetails.chargeAmount');
    }
    const atMax = await call('POST', '/checkoutSessions', withAmount('10000000', 'JPY'), { idempotencyKey: idem() });
    expect(atMax.status).toBe(201);
    const id = atMax.body.checkoutSessionId;
    const over = await call('PATCH', `/checkoutSessions/${id}`, {
      paymentDetails: { chargeAmount: { amount: '10000001', currencyCode: 'JPY' } },
    });
    expect(over.status).toBe(400);
    expect(over.body.reasonCode).toBe('InvalidParameterValue');
    expect((await call('GET', `/checkoutSessions/${id}`)).body.paymentDetails.chargeAmount).toEqual({
      amount: '10000000',
      currencyCode: 'JPY',
    });
    const usdMax = await call('PATCH', `/checkoutSessions/${id}`, {
      paymentDetails: { chargeAmount: { amount: '150000.00', currencyCode: 'USD' } },
    });
    expect(usdMax.status).toBe(200);
  });

  it('completes once: the authorization from the payment page is revealed, not repeated', async () => {
    const { sim, caller, call, notify } = setup();
    const { checkoutSessionId, paid, completed } = await runCheckout(sim.app, caller, { amount: '30.00' });
    expect(paid.location).toBe(`https://shop.test/result?amazonCheckoutSessionId=${checkoutSessionId}`);
    expect(completed!.status).toBe(200);
    expect(completed!.body.statusDetails.state).toBe('Completed');
    expect(completed!.body.buyer).toBeNull();
    const charge = await call('GET', `/charges/${completed!.body.chargeId}`);
    expect(charge.body.statusDetails.state).toBe('Authorized');
    expect(notify).toHaveBeenCalledWith({
      objectType: 'CHARGE',
      objectId: completed!.body.chargeId,
      chargePermissionId: completed!.body.chargePermissionId,
      notificationType: 'STATE_CHANGE',
    });

    const again = await call('POST', `/checkoutSessions/${checkoutSessionId}/complete`, {
      chargeAmount: { amount: '30.00', currencyCode: 'USD' },
    });
    expect(again.status).toBe(422);
    expect(again.body.reasonCode).toBe('InvalidCheckoutSessionStatus');
    const update = await call('PATCH', `/checkoutSessions/${checkoutSessionId}`, {
      merchantMetadata: { merchantReferenceId: 'x' },
    });
    expect(update.body.reasonCode).toBe('InvalidCheckoutSessionStatus');

    const money = sim.engine.moneyMovements({ checkoutSessionId });
    expect(money.movements.map((m) => m.kind)).toEqual(['authorization']);
    expect(money.totals.authorized).toBe('30.00');
  });

  it('answers AmountMismatch (409) and lets the merchant complete with the right amount', async () => {
    const { sim, caller, call } = setup();
    const { checkoutSessionId } = await runCheckout(sim.app, caller, { amount: '30.00', complete: false });
    const wrong = await call('POST', `/checkoutSessions/${checkoutSessionId}/complete`, {
      chargeAmount: { amount: '31.00', currencyCode: 'USD' },
    });
    expect(wrong.status).toBe(409);
    expect(wrong.body.reasonCode).toBe('AmountMismatch');
    const wrongCurrency = await call('POST', `/checkoutSessions/${checkoutSessionId}/complete`, {
      chargeAmount: { amount: '30.00', currencyCode: 'EUR' },
    });
    expect(wrongCurrency.status).toBe(409);
    const missing = await call('POST', `/checkoutSessions/${checkoutSessionId}/complete`, {});
    expect(missing.body.reasonCode).toBe('MissingParameterValue');
    const right = await call('POST', `/checkoutSessions/${checkoutSessionId}/complete`, {
      chargeAmount: { amount: 30, currencyCode: 'USD' },
    });
    expect(right.status).toBe(200);
  });

  it('refuses Complete before the buyer has paid', async () => {
    const { call, idem } = setup();
    const created = await call('POST', '/checkoutSessions', createBody, { idempotencyKey: idem() });
    const res = await call('POST', `/checkoutSessions/${created.body.checkoutSessionId}/complete`, {
      chargeAmount: { amount: 1, currencyCode: 'USD' },
    });
    expect(res.status).toBe(422);
    expect(res.body.reasonCode).toBe('InvalidCheckoutSessionStatus');
  });

  it.each([
    ['declinedAtAmazon', 'Declined'],
    ['buyerCancel', 'BuyerCanceled'],
  ] as const)('%s cancels the session (%s) and Complete answers CheckoutSessionCanceled', async (method, reason) => {
    const { sim, caller, call } = setup();
    const { checkoutSessionId, paid, completed } = await runCheckout(sim.app, caller, {
      method,
      checkoutCancelUrl: 'https://shop.test/cancel',
    });
    expect(paid.location).toBe(
      `https://shop.test/${method === 'buyerCancel' ? 'cancel' : 'result'}?amazonCheckoutSessionId=${checkoutSessionId}`,
    );
    expect(completed!.status).toBe(422);
    expect(completed!.body.reasonCode).toBe('CheckoutSessionCanceled');
    const session = await call('GET', `/checkoutSessions/${checkoutSessionId}`);
    expect(session.body.statusDetails).toMatchObject({ state: 'Canceled', reasonCode: reason });
    expect(sim.engine.movements).toEqual([]);
  });

  it('a refresh of the payment page does not authorize twice', async () => {
    const { sim, caller } = setup();
    const { checkoutSessionId, redirectUrl } = await runCheckout(sim.app, caller, { complete: false });
    const again = await submitForm(sim.app, redirectUrl, { method: 'happy' });
    expect(again.location).toBe(`https://shop.test/result?amazonCheckoutSessionId=${checkoutSessionId}`);
    expect(sim.engine.moneyMovements({ checkoutSessionId }).movements).toHaveLength(1);
  });

  it('expires an uncompleted session after 24 h and releases its authorization', async () => {
    const { sim, caller, call } = setup();
    const { checkoutSessionId } = await runCheckout(sim.app, caller, { amount: '12.00', complete: false });
    sim.clock.advance(24 * HOUR - 1000);
    expect((await call('GET', `/checkoutSessions/${checkoutSessionId}`)).body.statusDetails.state).toBe('Open');
    sim.clock.advance(1000);
    const expired = await call('GET', `/checkoutSessions/${checkoutSessionId}`);
    expect(expired.body.statusDetails).toMatchObject({ state: 'Canceled', reasonCode: 'Expired' });
    expect(expired.body.statusDetails.lastUpdatedTimestamp).toBe(expired.body.expirationTimestamp);
    const money = sim.engine.moneyMovements({ checkoutSessionId });
    expect(money.movements.map((m) => m.kind)).toEqual(['authorization', 'authorizationRelease']);
    expect(money.totals.outstandingAuthorization).toBe('0.00');
    const complete = await call('POST', `/checkoutSessions/${checkoutSessionId}/complete`, {
      chargeAmount: { amount: '12.00', currencyCode: 'USD' },
    });
    expect(complete.body.reasonCode).toBe('CheckoutSessionCanceled');
  });

  it('AuthorizeWithCapture captures at Complete, once', async () => {
    const { sim, caller, call } = setup();
    const { checkoutSessionId, completed } = await runCheckout(sim.app, caller, {
      intent: 'AuthorizeWithCapture',
      amount: '18.50',
    });
    const charge = await call('GET', `/charges/${completed!.body.chargeId}`);
    expect(charge.body.statusDetails.state).toBe('Captured');
    expect(charge.body.captureAmount).toEqual({ amount: '18.50', currencyCode: 'USD' });
    const cp = await call('GET', `/chargePermissions/${completed!.body.chargePermissionId}`);
    expect(cp.body.statusDetails).toMatchObject({ state: 'Closed', reasons: [{ reasonCode: 'AmazonClosed' }] });
    expect(sim.engine.moneyMovements({ checkoutSessionId }).movements.map((m) => m.kind)).toEqual([
      'authorization',
      'capture',
    ]);
  });

  it('pending instruments need canHandlePendingAuthorization at checkout', async () => {
    const { sim, caller, call } = setup();
    const without = await runCheckout(sim.app, caller, { method: 'pendingThenAuthorized' });
    expect(without.completed!.body.reasonCode).toBe('CheckoutSessionCanceled');
    expect((await call('GET', `/checkoutSessions/${without.checkoutSessionId}`)).body.statusDetails.reasonCode).toBe(
      'Declined',
    );

    const withPending = await runCheckout(sim.app, caller, {
      method: 'pendingThenAuthorized',
      canHandlePendingAuthorization: true,
    });
    expect(withPending.completed!.status).toBe(200);
    const chargeId = withPending.completed!.body.chargeId;
    expect((await call('GET', `/charges/${chargeId}`)).body.statusDetails.state).toBe('AuthorizationInitiated');
    sim.clock.advance(30_000);
    expect((await call('GET', `/charges/${chargeId}`)).body.statusDetails.state).toBe('Authorized');

    const declined = await runCheckout(sim.app, caller, {
      method: 'pendingThenDeclined',
      canHandlePendingAuthorization: true,
    });
    sim.clock.advance(30_000);
    const charge = await call('GET', `/charges/${declined.completed!.body.chargeId}`);
    expect(charge.body.statusDetails).toMatchObject({ state: 'Declined', reasonCode: 'HardDeclined' });
    expect(sim.engine.moneyMovements({ checkoutSessionId: declined.checkoutSessionId }).movements).toEqual([]);
  });

  it('Confirm creates a Chargeable permission without a charge', async () => {
    const { sim, caller, call } = setup();
    const { completed } = await runCheckout(sim.app, caller, { intent: 'Confirm' });
    expect(completed!.body.chargeId).toBeNull();
    const cp = await call('GET', `/chargePermissions/${completed!.body.chargePermissionId}`);
    expect(cp.body.statusDetails).toEqual({
      state: 'Chargeable',
      reasons: null,
      lastUpdatedTimestamp: expect.stringMatching(/^\d{8}T\d{6}Z$/),
    });
    expect(cp.body.limits).toEqual({
      amountLimit: { amount: '100.00', currencyCode: 'USD' },
      amountBalance: { amount: '100.00', currencyCode: 'USD' },
    });
  });

  it('accepts Complete simulation codes and rejects unknown ones', async () => {
    const { sim, caller, call } = setup();
    const { checkoutSessionId } = await runCheckout(sim.app, caller, { complete: false });
    const unknown = await call(
      'POST',
      `/checkoutSessions/${checkoutSessionId}/complete`,
      { chargeAmount: { amount: '100.00', currencyCode: 'USD' } },
      { simulationCode: 'Nonsense' },
    );
    expect(unknown.status).toBe(400);
    expect(unknown.body.reasonCode).toBe('InvalidSandboxSimulationSpecified');
    const canceled = await call(
      'POST',
      `/checkoutSessions/${checkoutSessionId}/complete`,
      { chargeAmount: { amount: '100.00', currencyCode: 'USD' } },
      { simulationCode: 'BuyerCanceled' },
    );
    expect(canceled.body.reasonCode).toBe('CheckoutSessionCanceled');
    expect(sim.engine.moneyMovements({ checkoutSessionId }).totals.outstandingAuthorization).toBe('0.00');
  });
});

describe('Amazon Pay button', () => {
  const payload = {
    storeId: STORE_ID,
    webCheckoutDetails: { checkoutReviewReturnUrl: 'https://shop.test/review' },
    paymentDetails: { paymentIntent: 'Authorize', chargeAmount: { amount: '5.00', currencyCode: 'USD' } },
  };

  it('verifies the signed payload, creates the session with a buyer and redirects to the review URL', async () => {
    const { sim, call } = setup();
    for (const algorithm of ['AMZN-PAY-RSASSA-PSS', 'AMZN-PAY-RSASSA-PSS-V2'] as const) {
      const res = await submitForm(sim.app, '/checkout/button', buttonConfig(payload, key, algorithm));
      expect(res.status).toBe(302);
      const id = new URL(res.location!).searchParams.get('amazonCheckoutSessionId')!;
      expect(res.location).toBe(`https://shop.test/review?amazonCheckoutSessionId=${id}`);
      const session = await call('GET', `/checkoutSessions/${id}`);
      expect(session.body.buyer).not.toBeNull();
      expect(session.body.constraints.map((c: { constraintId: string }) => c.constraintId)).toEqual([
        'CheckoutResultReturnUrlNotSet',
      ]);
    }
  });

  it('rejects a tampered payload or an unknown key', async () => {
    const { sim } = setup();
    const config = buttonConfig(payload, key);
    const tampered = await submitForm(sim.app, '/checkout/button', {
      ...config,
      payloadJSON: config.payloadJSON.replace('5.00', '0.01'),
    });
    expect(tampered.status).toBe(403);
    expect(tampered.text).toContain('InvalidRequestSignature');
    const unknown = await submitForm(sim.app, '/checkout/button', { ...config, publicKeyId: 'SANDBOX-NOPE' });
    expect(unknown.status).toBe(403);
    expect(sim.engine.sessions.size).toBe(0);
  });

  it('sends ProcessOrder (APB) sessions straight to the payment page', async () => {
    const { sim } = setup();
    const apb = {
      ...payload,
      webCheckoutDetails: { checkoutMode: 'ProcessOrder', checkoutResultReturnUrl: 'https://shop.test/result' },
    };
    const res = await submitForm(sim.app, '/checkout/button', buttonConfig(apb, key));
    expect(res.location).toMatch(/^http:\/\/sim\.test\/checkout\/pay\/[0-9a-f-]{36}$/);
    const page = await sim.app.request(res.location!);
    expect(await page.text()).toContain('Visa ****0701');
  });
});
