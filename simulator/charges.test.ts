import { describe, expect, it, vi } from 'vitest';
import { createSimulator } from './index';
import type { PaymentMethodChoice } from './model';
import { createCaller, generateTestKey, runCheckout, submitForm } from './test-support';

const key = generateTestKey('SANDBOX-CHARGES');
const DAY = 24 * 3_600_000;
const usd = (amount: string | number) => ({ amount, currencyCode: 'USD' });
const recurring = { frequency: { unit: 'Month', value: '1' }, amount: usd('14.00') };

function setup(options: Parameters<typeof createSimulator>[0] = {}) {
  const sim = createSimulator({ publicKeys: { [key.publicKeyId]: key.publicKeyPem }, ...options });
  const caller = createCaller(sim.app, key);
  const notify = vi.spyOn(sim.ipn, 'notify');
  return { sim, caller, ...caller, notify };
}

async function authorizedCharge(s: ReturnType<typeof setup>, amount = '100.00') {
  const { completed, checkoutSessionId } = await runCheckout(s.sim.app, s.caller, { amount });
  return {
    chargeId: completed!.body.chargeId as string,
    cpId: completed!.body.chargePermissionId as string,
    checkoutSessionId,
  };
}

async function recurringPermission(s: ReturnType<typeof setup>, method: PaymentMethodChoice = 'happy') {
  const { completed } = await runCheckout(s.sim.app, s.caller, {
    intent: 'Confirm',
    chargePermissionType: 'Recurring',
    recurringMetadata: recurring,
    amount: '14.00',
    method,
  });
  return completed!.body.chargePermissionId as string;
}

describe('Charge', () => {
  it('captures within 7 days synchronously and closes a fully captured one-time permission', async () => {
    const s = setup();
    const { chargeId, cpId } = await authorizedCharge(s);
    const captured = await s.call(
      'POST',
      `/charges/${chargeId}/capture`,
      { captureAmount: usd(100) },
      { idempotencyKey: s.idem() },
    );
    expect(captured.status).toBe(200);
    expect(captured.body.statusDetails.state).toBe('Captured');
    const cp = await s.call('GET', `/chargePermissions/${cpId}`);
    expect(cp.body.statusDetails).toMatchObject({ state: 'Closed', reasons: [{ reasonCode: 'AmazonClosed' }] });
    expect(s.notify).toHaveBeenCalledWith(
      expect.objectContaining({ objectType: 'CHARGE_PERMISSION', objectId: cpId, notificationType: 'STATE_CHANGE' }),
    );
    const twice = await s.call(
      'POST',
      `/charges/${chargeId}/capture`,
      { captureAmount: usd(100) },
      { idempotencyKey: s.idem() },
    );
    expect(twice.status).toBe(422);
    expect(twice.body.reasonCode).toBe('InvalidChargeStatus');
  });

  it('rejects a capture above the authorized amount and in another currency', async () => {
    const s = setup();
    const { chargeId } = await authorizedCharge(s);
    const over = await s.call(
      'POST',
      `/charges/${chargeId}/capture`,
      { captureAmount: usd('100.01') },
      { idempotencyKey: s.idem() },
    );
    expect(over.status).toBe(400);
    expect(over.body.reasonCode).toBe('TransactionAmountExceeded');
    const eur = await s.call(
      'POST',
      `/charges/${chargeId}/capture`,
      { captureAmount: { amount: '1.00', currencyCode: 'EUR' } },
      { idempotencyKey: s.idem() },
    );
    expect(eur.body.reasonCode).toBe('CurrencyMismatch');
  });

  it('partial capture releases the remainder and leaves the permission chargeable for the balance', async () => {
    const s = setup();
    const { chargeId, cpId } = await authorizedCharge(s);
    await s.call('POST', `/charges/${chargeId}/capture`, { captureAmount: usd(60) }, { idempotencyKey: s.idem() });
    const money = s.sim.engine.moneyMovements({ chargePermissionId: cpId });
    expect(money.movements.map((m) => [m.kind, m.amount])).toEqual([
      ['authorization', '100.00'],
      ['capture', '60.00'],
      ['authorizationRelease', '40.00'],
    ]);
    const cp = await s.call('GET', `/chargePermissions/${cpId}`);
    expect(cp.body.statusDetails.state).toBe('Chargeable');
    expect(cp.body.limits.amountBalance).toEqual(usd('40.00'));
    const tooMuch = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(41) },
      { idempotencyKey: s.idem() },
    );
    expect(tooMuch.body.reasonCode).toBe('TransactionAmountExceeded');
    const rest = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(40), captureNow: true },
      { idempotencyKey: s.idem() },
    );
    expect(rest.status).toBe(201);
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.statusDetails.state).toBe('Closed');
  });

  it('goes through CaptureInitiated when captured more than 7 days after authorization', async () => {
    const s = setup({ delays: { captureInitiatedMs: 5_000 } });
    const { chargeId, cpId } = await authorizedCharge(s);
    s.sim.clock.advance(7 * DAY + 1000);
    const capture = await s.call(
      'POST',
      `/charges/${chargeId}/capture`,
      { captureAmount: usd(100) },
      { idempotencyKey: s.idem() },
    );
    expect(capture.body.statusDetails.state).toBe('CaptureInitiated');
    expect(s.sim.engine.moneyMovements({ chargePermissionId: cpId }).totals.captured).toBe('0.00');
    s.sim.clock.advance(5_000);
    expect((await s.call('GET', `/charges/${chargeId}`)).body.statusDetails.state).toBe('Captured');
    expect(s.sim.engine.moneyMovements({ chargePermissionId: cpId }).totals.captured).toBe('100.00');
  });

  it('expires an Authorized charge after 30 days (Canceled/ExpiredUnused) and releases it', async () => {
    const s = setup();
    const { chargeId, cpId } = await authorizedCharge(s);
    s.sim.clock.advance(30 * DAY);
    const charge = await s.call('GET', `/charges/${chargeId}`);
    expect(charge.body.statusDetails).toMatchObject({ state: 'Canceled', reasonCode: 'ExpiredUnused' });
    expect(s.sim.engine.moneyMovements({ chargePermissionId: cpId }).totals.outstandingAuthorization).toBe('0.00');
    const late = await s.call(
      'POST',
      `/charges/${chargeId}/capture`,
      { captureAmount: usd(100) },
      { idempotencyKey: s.idem() },
    );
    expect(late.body.reasonCode).toBe('InvalidChargeStatus');
  });

  it('cancels an authorized charge (DELETE with a body); a Canceled or Captured one answers 422 InvalidChargeStatus (§3.3, §4.2)', async () => {
    const s = setup();
    const { chargeId } = await authorizedCharge(s);
    const canceled = await s.call('DELETE', `/charges/${chargeId}/cancel`, { cancellationReason: 'Out of stock' });
    expect(canceled.body.statusDetails).toMatchObject({
      state: 'Canceled',
      reasonCode: 'MerchantCanceled',
      reasonDescription: 'Out of stock',
    });
    s.notify.mockClear();
    const again = await s.call('DELETE', `/charges/${chargeId}/cancel`, { cancellationReason: 'Changed my mind' });
    expect(again.status).toBe(422);
    expect(again.body.reasonCode).toBe('InvalidChargeStatus');
    expect(again.body.message).toContain('Charge state: Canceled');
    expect((await s.call('GET', `/charges/${chargeId}`)).body.statusDetails).toMatchObject({
      state: 'Canceled',
      reasonDescription: 'Out of stock',
    });
    expect(s.notify).not.toHaveBeenCalled();
    const { chargeId: capturedId } = await authorizedCharge(s);
    await s.call('POST', `/charges/${capturedId}/capture`, { captureAmount: usd(100) }, { idempotencyKey: s.idem() });
    const tooLate = await s.call('DELETE', `/charges/${capturedId}/cancel`, {});
    expect(tooLate.status).toBe(422);
    expect(tooLate.body.reasonCode).toBe('InvalidChargeStatus');
  });

  it('applies capture simulation codes', async () => {
    const s = setup();
    const a = await authorizedCharge(s);
    const pending = await s.call(
      'POST',
      `/charges/${a.chargeId}/capture`,
      { captureAmount: usd(100) },
      { idempotencyKey: s.idem(), simulationCode: 'CaptureInitiated' },
    );
    expect(pending.body.statusDetails.state).toBe('CaptureInitiated');
    s.sim.clock.advance(30_000);
    expect((await s.call('GET', `/charges/${a.chargeId}`)).body.statusDetails.state).toBe('Captured');

    const b = await authorizedCharge(s);
    await s.call(
      'POST',
      `/charges/${b.chargeId}/capture`,
      { captureAmount: usd(100) },
      { idempotencyKey: s.idem(), simulationCode: 'AmazonRejected' },
    );
    s.sim.clock.advance(30_000);
    expect((await s.call('GET', `/charges/${b.chargeId}`)).body.statusDetails).toMatchObject({
      state: 'Declined',
      reasonCode: 'AmazonRejected',
    });
    expect((await s.call('GET', `/chargePermissions/${b.cpId}`)).body.statusDetails.state).toBe('Closed');

    const wrongOp = await s.call(
      'POST',
      `/charges/${b.chargeId}/capture`,
      { captureAmount: usd(1) },
      { idempotencyKey: s.idem(), simulationCode: 'RefundDeclined' },
    );
    expect(wrongOp.body.reasonCode).toBe('InvalidSandboxSimulationSpecified');
  });
});

describe('Refund', () => {
  async function capturedCharge(s: ReturnType<typeof setup>, amount = '100.00') {
    const c = await authorizedCharge(s, amount);
    await s.call(
      'POST',
      `/charges/${c.chargeId}/capture`,
      { captureAmount: usd(amount) },
      { idempotencyKey: s.idem() },
    );
    return c;
  }

  it('is asynchronous: RefundInitiated, then Refunded after the delay, with IPNs for each state', async () => {
    const s = setup({ delays: { refundMs: 10_000 } });
    const { chargeId, cpId } = await capturedCharge(s);
    const refund = await s.call(
      'POST',
      '/refunds',
      { chargeId, refundAmount: usd('25.00') },
      { idempotencyKey: s.idem() },
    );
    expect(refund.status).toBe(201);
    expect(refund.body.refundId).toMatch(new RegExp(`^${cpId}-R\\d+$`));
    expect(refund.body.statusDetails.state).toBe('RefundInitiated');
    s.sim.clock.advance(9_000);
    expect((await s.call('GET', `/refunds/${refund.body.refundId}`)).body.statusDetails.state).toBe('RefundInitiated');
    s.sim.clock.advance(1_000);
    expect((await s.call('GET', `/refunds/${refund.body.refundId}`)).body.statusDetails.state).toBe('Refunded');
    expect((await s.call('GET', `/charges/${chargeId}`)).body.refundedAmount).toEqual(usd('25.00'));
    const refundIpns = s.notify.mock.calls.filter(([n]) => n.objectType === 'REFUND');
    expect(refundIpns).toHaveLength(2);
  });

  it('allows refunds up to captured + min(15 %, 75) in total', async () => {
    const s = setup();
    const small = await capturedCharge(s, '100.00');
    const first = await s.call(
      'POST',
      '/refunds',
      { chargeId: small.chargeId, refundAmount: usd('100.00') },
      { idempotencyKey: s.idem() },
    );
    expect(first.status).toBe(201);
    const over = await s.call(
      'POST',
      '/refunds',
      { chargeId: small.chargeId, refundAmount: usd('15.01') },
      { idempotencyKey: s.idem() },
    );
    expect(over.body.reasonCode).toBe('TransactionAmountExceeded');
    const edge = await s.call(
      'POST',
      '/refunds',
      { chargeId: small.chargeId, refundAmount: usd('15.00') },
      { idempotencyKey: s.idem() },
    );
    expect(edge.status).toBe(201);

    const big = await capturedCharge(s, '1000.00');
    const overCap = await s.call(
      'POST',
      '/refunds',
      { chargeId: big.chargeId, refundAmount: usd('1075.01') },
      { idempotencyKey: s.idem() },
    );
    expect(overCap.body.reasonCode).toBe('TransactionAmountExceeded');
    const atCap = await s.call(
      'POST',
      '/refunds',
      { chargeId: big.chargeId, refundAmount: usd('1075.00') },
      { idempotencyKey: s.idem() },
    );
    expect(atCap.status).toBe(201);
  });

  it('needs a Captured charge, and RefundDeclined declines it later', async () => {
    const s = setup();
    const authorized = await authorizedCharge(s);
    const notCaptured = await s.call(
      'POST',
      '/refunds',
      { chargeId: authorized.chargeId, refundAmount: usd(1) },
      { idempotencyKey: s.idem() },
    );
    expect(notCaptured.body.reasonCode).toBe('InvalidChargeStatus');
    const captured = await capturedCharge(s);
    const declined = await s.call(
      'POST',
      '/refunds',
      { chargeId: captured.chargeId, refundAmount: usd(10) },
      { idempotencyKey: s.idem(), simulationCode: 'RefundDeclined' },
    );
    s.sim.clock.advance(30_000);
    const refund = await s.call('GET', `/refunds/${declined.body.refundId}`);
    expect(refund.body.statusDetails).toMatchObject({ state: 'Declined', reasonCode: 'AmazonRejected' });
    expect(s.sim.engine.moneyMovements({ chargePermissionId: captured.cpId }).totals.refunded).toBe('0.00');
  });
});

describe('Charge Permission', () => {
  it('closes a one-time permission after 180 days', async () => {
    const s = setup();
    const { completed } = await runCheckout(s.sim.app, s.caller, { intent: 'Confirm' });
    const cpId = completed!.body.chargePermissionId;
    s.sim.clock.advance(180 * 24 * 3_600_000);
    const cp = await s.call('GET', `/chargePermissions/${cpId}`);
    expect(cp.body.statusDetails).toMatchObject({ state: 'Closed', reasons: [{ reasonCode: 'Expired' }] });
    const charge = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(1) },
      { idempotencyKey: s.idem() },
    );
    expect(charge.status).toBe(422);
    expect(charge.body.reasonCode).toBe('InvalidChargePermissionStatus');
  });

  it('merchant close (DELETE with a body) cancels pending charges only when asked', async () => {
    const s = setup();
    const keep = await authorizedCharge(s);
    await s.call('DELETE', `/chargePermissions/${keep.cpId}/close`, {
      closureReason: 'done',
      cancelPendingCharges: false,
    });
    expect((await s.call('GET', `/charges/${keep.chargeId}`)).body.statusDetails.state).toBe('Authorized');
    const cancel = await authorizedCharge(s);
    const closed = await s.call('DELETE', `/chargePermissions/${cancel.cpId}/close`, {
      closureReason: 'done',
      cancelPendingCharges: true,
    });
    expect(closed.body.statusDetails).toMatchObject({
      state: 'Closed',
      reasons: [{ reasonCode: 'MerchantClosed', reasonDescription: 'done' }],
    });
    expect((await s.call('GET', `/charges/${cancel.chargeId}`)).body.statusDetails).toMatchObject({
      state: 'Canceled',
      reasonCode: 'ChargePermissionCanceled',
    });
    s.notify.mockClear();
    const again = await s.call('DELETE', `/chargePermissions/${cancel.cpId}/close`, { closureReason: 'again' });
    expect(again.status).toBe(422);
    expect(again.body.reasonCode).toBe('InvalidChargePermissionStatus');
    expect(again.body.message).toContain('Charge Permission state: Closed');
    expect((await s.call('GET', `/chargePermissions/${cancel.cpId}`)).body.statusDetails.reasons).toEqual([
      { reasonCode: 'MerchantClosed', reasonDescription: 'done' },
    ]);
    expect(s.notify).not.toHaveBeenCalled();
  });

  it('closing a permission Amazon already closed is 422 InvalidChargePermissionStatus too (§3.2: Closed allows Get only)', async () => {
    const s = setup();
    const { chargeId, cpId } = await authorizedCharge(s);
    await s.call('POST', `/charges/${chargeId}/capture`, { captureAmount: usd(100) }, { idempotencyKey: s.idem() });
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.statusDetails.reasons).toEqual([
      expect.objectContaining({ reasonCode: 'AmazonClosed' }),
    ]);
    const close = await s.call('DELETE', `/chargePermissions/${cpId}/close`, { closureReason: 'order shipped' });
    expect(close.status).toBe(422);
    expect(close.body.reasonCode).toBe('InvalidChargePermissionStatus');
  });

  it('updates merchantMetadata and recurringMetadata, not after closure', async () => {
    const s = setup();
    const cpId = await recurringPermission(s);
    const updated = await s.call('PATCH', `/chargePermissions/${cpId}`, {
      merchantMetadata: { merchantReferenceId: 'sub-1' },
      recurringMetadata: { frequency: { unit: 'Week', value: 2 } },
    });
    expect(updated.body.merchantMetadata.merchantReferenceId).toBe('sub-1');
    expect(updated.body.recurringMetadata.frequency).toEqual({ unit: 'Week', value: '2' });
    const unknown = await s.call('PATCH', `/chargePermissions/${cpId}`, { chargeAmount: usd(1) });
    expect(unknown.body.reasonCode).toBe('UnrecognizedField');
    await s.call('DELETE', `/chargePermissions/${cpId}/close`, {});
    const afterClose = await s.call('PATCH', `/chargePermissions/${cpId}`, {
      merchantMetadata: { merchantReferenceId: 'sub-2' },
    });
    expect(afterClose.status).toBe(422);
    expect(afterClose.body.reasonCode).toBe('ChargePermissionNotModifiable');
  });

  it('a rejected Update changes nothing: an invalid recurringMetadata leaves merchantMetadata as it was', async () => {
    const s = setup();
    const cpId = await recurringPermission(s);
    const before = (await s.call('GET', `/chargePermissions/${cpId}`)).body;
    const bad = await s.call('PATCH', `/chargePermissions/${cpId}`, {
      merchantMetadata: { merchantReferenceId: 'sub-2', noteToBuyer: 'new plan' },
      recurringMetadata: { frequency: { unit: 'Month', value: '1' }, amount: usd('1.234') },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.reasonCode).toBe('InvalidParameterValue');
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body).toEqual(before);
    const oneTime = (await runCheckout(s.sim.app, s.caller, { intent: 'Confirm' })).completed!.body.chargePermissionId;
    const wrongType = await s.call('PATCH', `/chargePermissions/${oneTime}`, {
      merchantMetadata: { merchantReferenceId: 'x' },
      recurringMetadata: recurring,
    });
    expect(wrongType.body.reasonCode).toBe('InvalidParameterCombination');
    expect((await s.call('GET', `/chargePermissions/${oneTime}`)).body.merchantMetadata.merchantReferenceId).toBeNull();
  });

  it('uses the legacy closure spelling when configured', async () => {
    const s = setup({ closureReasonSpelling: 'legacy' });
    const cpId = await recurringPermission(s);
    const closed = await s.call('DELETE', `/chargePermissions/${cpId}/close`, { closureReason: 'x' });
    expect(closed.body.statusDetails.reasons[0].reasonCode).toBe('MerchantCanceled');
  });
});

describe('recurring charges', () => {
  it('charges with captureNow true and false', async () => {
    const s = setup();
    const cpId = await recurringPermission(s);
    const captured = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd('14.00'), captureNow: true, softDescriptor: 'SUB' },
      { idempotencyKey: s.idem() },
    );
    expect(captured.status).toBe(201);
    expect(captured.body.statusDetails.state).toBe('Captured');
    const authorized = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: 14, captureNow: false } as never,
      { idempotencyKey: s.idem() },
    );
    expect(authorized.body.reasonCode).toBe('InvalidParameterValue');
    const auth2 = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(14), captureNow: false },
      { idempotencyKey: s.idem() },
    );
    expect(auth2.body.statusDetails.state).toBe('Authorized');
    const badCombo = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(1), softDescriptor: 'X' },
      { idempotencyKey: s.idem() },
    );
    expect(badCombo.body.reasonCode).toBe('InvalidParameterCombination');
    const eur = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: { amount: 1, currencyCode: 'EUR' } },
      { idempotencyKey: s.idem() },
    );
    expect(eur.body.reasonCode).toBe('CurrencyMismatch');
  });

  it('hard decline: 422, permission NonChargeable/PaymentMethodInvalid with an IPN; the buyer fixes it', async () => {
    const s = setup();
    const cpId = await recurringPermission(s, 'hardDecline');
    const declined = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(14), captureNow: true },
      { idempotencyKey: s.idem() },
    );
    expect(declined.status).toBe(422);
    expect(declined.body.reasonCode).toBe('HardDeclined');
    const cp = await s.call('GET', `/chargePermissions/${cpId}`);
    expect(cp.body.statusDetails).toMatchObject({
      state: 'NonChargeable',
      reasons: [{ reasonCode: 'PaymentMethodInvalid' }],
    });
    expect(s.notify).toHaveBeenLastCalledWith({
      objectType: 'CHARGE_PERMISSION',
      objectId: cpId,
      chargePermissionId: cpId,
      notificationType: 'STATE_CHANGE',
    });
    const blocked = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(14) },
      { idempotencyKey: s.idem() },
    );
    expect(blocked.body.reasonCode).toBe('InvalidChargePermissionStatus');

    const account = await s.sim.app.request(`http://sim.test/account/charge-permissions/${cpId}`);
    expect(await account.text()).toContain('NonChargeable');
    const fixed = await submitForm(s.sim.app, `/account/charge-permissions/${cpId}/payment-method`, {
      method: 'happy',
    });
    expect(fixed.status).toBe(303);
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.statusDetails.state).toBe('Chargeable');
    expect(s.notify).toHaveBeenLastCalledWith({
      objectType: 'CHARGE_PERMISSION',
      objectId: cpId,
      chargePermissionId: cpId,
      notificationType: 'STATE_CHANGE',
    });
    const ok = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(14), captureNow: true },
      { idempotencyKey: s.idem() },
    );
    expect(ok.status).toBe(201);
  });

  it('soft decline: 422 SoftDeclined and the permission stays Chargeable', async () => {
    const s = setup();
    const cpId = await recurringPermission(s, 'softDecline');
    const declined = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(14) },
      { idempotencyKey: s.idem() },
    );
    expect(declined.body.reasonCode).toBe('SoftDeclined');
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.statusDetails.state).toBe('Chargeable');
    expect(s.sim.engine.charges.size).toBe(0);
  });

  it('simulation codes override the instrument', async () => {
    const s = setup();
    const cpId = await recurringPermission(s);
    expect(
      (
        await s.call(
          'POST',
          '/charges',
          { chargePermissionId: cpId, chargeAmount: usd(1) },
          { idempotencyKey: s.idem(), simulationCode: 'SoftDeclined' },
        )
      ).body.reasonCode,
    ).toBe('SoftDeclined');
    expect(
      (
        await s.call(
          'POST',
          '/charges',
          { chargePermissionId: cpId, chargeAmount: usd(1) },
          { idempotencyKey: s.idem(), simulationCode: 'TransactionTimedOut' },
        )
      ).body.reasonCode,
    ).toBe('TransactionTimedOut');
    const failure = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(1) },
      { idempotencyKey: s.idem(), simulationCode: 'ProcessingFailure' },
    );
    expect(failure.status).toBe(500);
    const expiring = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(1) },
      { idempotencyKey: s.idem(), simulationCode: 'ExpiredUnused' },
    );
    expect(expiring.body.statusDetails.state).toBe('Authorized');
    s.sim.clock.advance(30_000);
    expect((await s.call('GET', `/charges/${expiring.body.chargeId}`)).body.statusDetails).toMatchObject({
      state: 'Canceled',
      reasonCode: 'ExpiredUnused',
    });
    const hard = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(1) },
      { idempotencyKey: s.idem(), simulationCode: 'HardDeclined' },
    );
    expect(hard.body.reasonCode).toBe('HardDeclined');
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.statusDetails.state).toBe('NonChargeable');
    const invalid = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(1) },
      { idempotencyKey: s.idem(), simulationCode: 'CaptureInitiated' },
    );
    expect(invalid.body.reasonCode).toBe('InvalidSandboxSimulationSpecified');
  });

  it('pending instruments: TransactionTimedOut without canHandlePendingAuthorization, AuthorizationInitiated with it', async () => {
    const s = setup();
    const cpId = await recurringPermission(s, 'pendingThenAuthorized');
    const sync = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(14) },
      { idempotencyKey: s.idem() },
    );
    expect(sync.body.reasonCode).toBe('TransactionTimedOut');
    const pending = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(14), canHandlePendingAuthorization: true, captureNow: true },
      { idempotencyKey: s.idem() },
    );
    expect(pending.body.statusDetails.state).toBe('AuthorizationInitiated');
    s.sim.clock.advance(30_000);
    expect((await s.call('GET', `/charges/${pending.body.chargeId}`)).body.statusDetails.state).toBe('Captured');

    const declining = await recurringPermission(s, 'pendingThenDeclined');
    const willDecline = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: declining, chargeAmount: usd(14), canHandlePendingAuthorization: true },
      { idempotencyKey: s.idem() },
    );
    s.sim.clock.advance(30_000);
    expect((await s.call('GET', `/charges/${willDecline.body.chargeId}`)).body.statusDetails).toMatchObject({
      state: 'Declined',
      reasonCode: 'HardDeclined',
    });
    expect((await s.call('GET', `/chargePermissions/${declining}`)).body.statusDetails.state).toBe('NonChargeable');
  });

  it('enforces the monthly cap (PeriodicAmountExceeded) and resets it next month', async () => {
    const s = setup({ recurringMonthlyLimit: { USD: 100 } });
    const cpId = await recurringPermission(s);
    // Start from the first day of next month so the advance below stays inside one month.
    const now = new Date(s.sim.clock.nowMs());
    s.sim.clock.advance(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) - now.getTime());
    expect(
      (
        await s.call(
          'POST',
          '/charges',
          { chargePermissionId: cpId, chargeAmount: usd(60), captureNow: true },
          { idempotencyKey: s.idem() },
        )
      ).status,
    ).toBe(201);
    const over = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd('40.01'), captureNow: true },
      { idempotencyKey: s.idem() },
    );
    expect(over.status).toBe(400);
    expect(over.body.reasonCode).toBe('PeriodicAmountExceeded');
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.limits.amountBalance).toEqual(usd('40.00'));
    s.sim.clock.advance(32 * DAY);
    expect(
      (
        await s.call(
          'POST',
          '/charges',
          { chargePermissionId: cpId, chargeAmount: usd('40.01'), captureNow: true },
          { idempotencyKey: s.idem() },
        )
      ).status,
    ).toBe(201);
  });

  it('the buyer closes a recurring permission from the account page', async () => {
    const s = setup();
    const cpId = await recurringPermission(s);
    await submitForm(s.sim.app, `/account/charge-permissions/${cpId}/close`);
    const cp = await s.call('GET', `/chargePermissions/${cpId}`);
    expect(cp.body.statusDetails).toMatchObject({ state: 'Closed', reasons: [{ reasonCode: 'BuyerClosed' }] });
    expect(s.notify).toHaveBeenLastCalledWith(
      expect.objectContaining({ objectType: 'CHARGE_PERMISSION', objectId: cpId }),
    );
  });

  it('closes a recurring permission after 13 months without charges', async () => {
    const s = setup();
    const cpId = await recurringPermission(s);
    s.sim.clock.advance(300 * DAY);
    await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(14), captureNow: true },
      { idempotencyKey: s.idem() },
    );
    s.sim.clock.advance(300 * DAY);
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.statusDetails.state).toBe('Chargeable');
    s.sim.clock.advance(100 * DAY);
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.statusDetails).toMatchObject({
      state: 'Closed',
      reasons: [{ reasonCode: 'Expired' }],
    });
  });
});

describe('per-object totals', () => {
  it("read only the permission's own charges and the charge's own refunds, never every object of the simulator", async () => {
    const s = setup();
    const a = await authorizedCharge(s);
    const b = await authorizedCharge(s);
    const cpId = await recurringPermission(s);
    const allCharges = vi.spyOn(s.sim.engine.charges, 'values');
    const allRefunds = vi.spyOn(s.sim.engine.refunds, 'values');

    // OneTime balance (limits, Create Charge) and captured total (closure once captured in full).
    await s.call('POST', `/charges/${a.chargeId}/capture`, { captureAmount: usd(60) }, { idempotencyKey: s.idem() });
    expect((await s.call('GET', `/chargePermissions/${a.cpId}`)).body.limits.amountBalance).toEqual(usd('40.00'));
    const tooMuch = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: a.cpId, chargeAmount: usd('40.01') },
      { idempotencyKey: s.idem() },
    );
    expect(tooMuch.body.reasonCode).toBe('TransactionAmountExceeded');
    await s.call(
      'POST',
      '/charges',
      { chargePermissionId: a.cpId, chargeAmount: usd(40), captureNow: true },
      { idempotencyKey: s.idem() },
    );
    expect((await s.call('GET', `/chargePermissions/${a.cpId}`)).body.statusDetails.state).toBe('Closed');
    // Recurring monthly usage (limits, Create Charge).
    await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(14), captureNow: true },
      { idempotencyKey: s.idem() },
    );
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.limits.amountBalance).toEqual(usd('986.00'));
    // Refunded-or-pending total: 60 captured, so at most 69 (60 + 15 %).
    expect(
      (await s.call('POST', '/refunds', { chargeId: a.chargeId, refundAmount: usd(50) }, { idempotencyKey: s.idem() }))
        .status,
    ).toBe(201);
    const over = await s.call(
      'POST',
      '/refunds',
      { chargeId: a.chargeId, refundAmount: usd('19.01') },
      { idempotencyKey: s.idem() },
    );
    expect(over.body.reasonCode).toBe('TransactionAmountExceeded');
    // Pending charges canceled with the permission.
    await s.call('DELETE', `/chargePermissions/${b.cpId}/close`, { closureReason: 'done', cancelPendingCharges: true });
    expect((await s.call('GET', `/charges/${b.chargeId}`)).body.statusDetails).toMatchObject({
      state: 'Canceled',
      reasonCode: 'ChargePermissionCanceled',
    });

    expect(allCharges).not.toHaveBeenCalled();
    expect(allRefunds).not.toHaveBeenCalled();
  });
});

describe('ChargeInProgress (§3.2, §8.3)', () => {
  const cpIpns = (s: ReturnType<typeof setup>, cpId: string) =>
    s.notify.mock.calls
      .filter(([n]) => n.objectType === 'CHARGE_PERMISSION' && n.objectId === cpId)
      .map(([n]) => n.notificationType);

  it('a pending charge makes the permission NonChargeable/ChargeInProgress: a second Create Charge is 422 until it is authorized', async () => {
    const s = setup();
    const cpId = await recurringPermission(s, 'pendingThenAuthorized');
    s.notify.mockClear();
    const pending = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(14), canHandlePendingAuthorization: true },
      { idempotencyKey: s.idem() },
    );
    expect(pending.body.statusDetails.state).toBe('AuthorizationInitiated');
    const during = await s.call('GET', `/chargePermissions/${cpId}`);
    expect(during.body.statusDetails).toMatchObject({
      state: 'NonChargeable',
      reasons: [{ reasonCode: 'ChargeInProgress' }],
    });
    const second = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(14), canHandlePendingAuthorization: true },
      { idempotencyKey: s.idem() },
    );
    expect(second.status).toBe(422);
    expect(second.body.reasonCode).toBe('InvalidChargePermissionStatus');
    expect(second.body.message).toContain('ChargeInProgress');
    expect(s.sim.engine.charges.size).toBe(1);
    // The buyer swapping the instrument meanwhile does not clear it.
    await submitForm(s.sim.app, `/account/charge-permissions/${cpId}/payment-method`, { method: 'happy' });
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.statusDetails.reasons).toEqual([
      expect.objectContaining({ reasonCode: 'ChargeInProgress' }),
    ]);

    s.sim.clock.advance(30_000);
    expect((await s.call('GET', `/charges/${pending.body.chargeId}`)).body.statusDetails.state).toBe('Authorized');
    const after = await s.call('GET', `/chargePermissions/${cpId}`);
    expect(after.body.statusDetails).toMatchObject({ state: 'Chargeable', reasons: null });
    expect(after.body.statusDetails.lastUpdatedTimestamp >= during.body.statusDetails.lastUpdatedTimestamp).toBe(true);
    expect(
      (
        await s.call(
          'POST',
          '/charges',
          { chargePermissionId: cpId, chargeAmount: usd(14) },
          { idempotencyKey: s.idem() },
        )
      ).status,
    ).toBe(201);
    // ChargeInProgress alone sends no permission IPN (its charge's IPNs tell the story); the instrument swap is an attribute change.
    expect(cpIpns(s, cpId)).toEqual(['ATTRIBUTE_CHANGE']);
  });

  it('a pending decline leaves only PaymentMethodInvalid, with one STATE_CHANGE IPN', async () => {
    const s = setup();
    const cpId = await recurringPermission(s, 'pendingThenDeclined');
    s.notify.mockClear();
    await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(14), canHandlePendingAuthorization: true },
      { idempotencyKey: s.idem() },
    );
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.statusDetails.reasons).toEqual([
      expect.objectContaining({ reasonCode: 'ChargeInProgress' }),
    ]);
    s.sim.clock.advance(30_000);
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.statusDetails).toMatchObject({
      state: 'NonChargeable',
      reasons: [{ reasonCode: 'PaymentMethodInvalid', reasonDescription: expect.any(String) }],
    });
    expect(cpIpns(s, cpId)).toEqual(['STATE_CHANGE']);
  });

  it('canceling the pending charge restores Chargeable; closing with cancelPendingCharges leaves only the closure reason', async () => {
    const s = setup();
    const cpId = await recurringPermission(s, 'pendingThenAuthorized');
    s.notify.mockClear();
    const pending = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(14), canHandlePendingAuthorization: true },
      { idempotencyKey: s.idem() },
    );
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.statusDetails.state).toBe('NonChargeable');
    const canceled = await s.call('DELETE', `/charges/${pending.body.chargeId}/cancel`, {
      cancellationReason: 'changed',
    });
    expect(canceled.body.statusDetails.state).toBe('Canceled');
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.statusDetails).toMatchObject({
      state: 'Chargeable',
      reasons: null,
    });
    expect(cpIpns(s, cpId)).toEqual([]);

    const again = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(14), canHandlePendingAuthorization: true },
      { idempotencyKey: s.idem() },
    );
    await s.call('DELETE', `/chargePermissions/${cpId}/close`, { closureReason: 'done', cancelPendingCharges: true });
    expect((await s.call('GET', `/charges/${again.body.chargeId}`)).body.statusDetails).toMatchObject({
      state: 'Canceled',
      reasonCode: 'ChargePermissionCanceled',
    });
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.statusDetails).toMatchObject({
      state: 'Closed',
      reasons: [{ reasonCode: 'MerchantClosed', reasonDescription: 'done' }],
    });
  });

  it("a checkout's pending authorization holds its one-time permission until it resolves", async () => {
    const s = setup();
    const { completed } = await runCheckout(s.sim.app, s.caller, {
      method: 'pendingThenAuthorized',
      canHandlePendingAuthorization: true,
      totalOrderAmount: '200.00',
    });
    const cpId = completed!.body.chargePermissionId as string;
    expect((await s.call('GET', `/charges/${completed!.body.chargeId}`)).body.statusDetails.state).toBe(
      'AuthorizationInitiated',
    );
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.statusDetails).toMatchObject({
      state: 'NonChargeable',
      reasons: [{ reasonCode: 'ChargeInProgress' }],
    });
    const blocked = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd(50), canHandlePendingAuthorization: true },
      { idempotencyKey: s.idem() },
    );
    expect(blocked.body.reasonCode).toBe('InvalidChargePermissionStatus');
    s.sim.clock.advance(30_000);
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.statusDetails).toMatchObject({
      state: 'Chargeable',
      reasons: null,
    });
    expect(cpIpns(s, cpId)).toEqual([]);
  });
});

describe('PaymentMethodOnFile monthly cap (§8.4)', () => {
  async function savedWallet(s: ReturnType<typeof setup>, currencyCode = 'USD', amount = '100.00') {
    const { completed } = await runCheckout(s.sim.app, s.caller, {
      intent: 'Confirm',
      chargePermissionType: 'PaymentMethodOnFile',
      amount,
      currencyCode,
    });
    return completed!.body.chargePermissionId as string;
  }

  it('caps charges at USD 15,000 a calendar month with 400 PeriodicAmountExceeded, and limits report that cap', async () => {
    const s = setup();
    const cpId = await savedWallet(s);
    const now = new Date(s.sim.clock.nowMs());
    s.sim.clock.advance(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) - now.getTime());
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.limits).toEqual({
      amountLimit: usd('15000.00'),
      amountBalance: usd('15000.00'),
    });
    // Above the recurring cap of 1,000: that one does not apply here.
    expect(
      (
        await s.call(
          'POST',
          '/charges',
          { chargePermissionId: cpId, chargeAmount: usd('14999.99'), captureNow: true },
          { idempotencyKey: s.idem() },
        )
      ).status,
    ).toBe(201);
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.limits.amountBalance).toEqual(usd('0.01'));
    const over = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: cpId, chargeAmount: usd('0.02'), captureNow: true },
      { idempotencyKey: s.idem() },
    );
    expect(over.status).toBe(400);
    expect(over.body.reasonCode).toBe('PeriodicAmountExceeded');
    expect(
      (
        await s.call(
          'POST',
          '/charges',
          { chargePermissionId: cpId, chargeAmount: usd('0.01'), captureNow: true },
          { idempotencyKey: s.idem() },
        )
      ).status,
    ).toBe(201);
    s.sim.clock.advance(32 * DAY);
    expect((await s.call('GET', `/chargePermissions/${cpId}`)).body.limits.amountBalance).toEqual(usd('15000.00'));
    expect(
      (
        await s.call(
          'POST',
          '/charges',
          { chargePermissionId: cpId, chargeAmount: usd('0.02'), captureNow: true },
          { idempotencyKey: s.idem() },
        )
      ).status,
    ).toBe(201);
  });

  it('uses the per-currency caps: JPY 2,000,000, DKK 150,000', async () => {
    const s = setup();
    const yen = await savedWallet(s, 'JPY', '1000');
    const now = new Date(s.sim.clock.nowMs());
    s.sim.clock.advance(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) - now.getTime());
    expect((await s.call('GET', `/chargePermissions/${yen}`)).body.limits.amountLimit).toEqual({
      amount: '2000000',
      currencyCode: 'JPY',
    });
    const over = await s.call(
      'POST',
      '/charges',
      { chargePermissionId: yen, chargeAmount: { amount: '2000001', currencyCode: 'JPY' } },
      { idempotencyKey: s.idem() },
    );
    expect(over.body.reasonCode).toBe('PeriodicAmountExceeded');
    expect(
      (
        await s.call(
          'POST',
          '/charges',
          { chargePermissionId: yen, chargeAmount: { amount: '2000000', currencyCode: 'JPY' } },
          { idempotencyKey: s.idem() },
        )
      ).status,
    ).toBe(201);
    const krone = await savedWallet(s, 'DKK');
    expect((await s.call('GET', `/chargePermissions/${krone}`)).body.limits.amountLimit).toEqual({
      amount: '150000.00',
      currencyCode: 'DKK',
    });
  });
});
