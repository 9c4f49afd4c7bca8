// The official SDK sets NODE_TLS_REJECT_UNAUTHORIZED=0 process-wide once overrideServiceUrl is
// used, so this file stays on its own (vitest runs each file in its own process with pool forks).
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatorAdmin } from './admin-client';
import { startSimulator, type RunningSimulator } from './index';
import { generateTestKey, STORE_ID } from './test-support';

interface SdkResponse {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the SDK is untyped JavaScript
  data: any;
  headers: Record<string, string>;
}
interface WebStoreClientType {
  createCheckoutSession(payload: unknown, headers: Record<string, string>): Promise<SdkResponse>;
  getCheckoutSession(id: string): Promise<SdkResponse>;
  updateCheckoutSession(id: string, payload: unknown): Promise<SdkResponse>;
  completeCheckoutSession(id: string, payload: unknown): Promise<SdkResponse>;
  getChargePermission(id: string): Promise<SdkResponse>;
  createCharge(payload: unknown, headers: Record<string, string>): Promise<SdkResponse>;
  getCharge(id: string): Promise<SdkResponse>;
  captureCharge(id: string, payload: unknown, headers: Record<string, string>): Promise<SdkResponse>;
  createRefund(payload: unknown, headers: Record<string, string>): Promise<SdkResponse>;
  getRefund(id: string): Promise<SdkResponse>;
  closeChargePermission(id: string, payload: unknown): Promise<SdkResponse>;
  generateButtonSignature(payload: unknown): string;
}

// Node warns once on stderr when it meets that setting; here it is the SDK's known behaviour, not
// news, so that one warning stays off the test console (any other warning still shows).
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  if (String(warning).includes('NODE_TLS_REJECT_UNAUTHORIZED')) return;
  (emitWarning as (w: string | Error, ...r: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

const require = createRequire(import.meta.url);
const { WebStoreClient } = require('@amazonpay/amazon-pay-api-sdk-nodejs') as {
  WebStoreClient: new (config: Record<string, unknown>) => WebStoreClientType;
};

const key = generateTestKey('SANDBOX-SDKE2EKEY');
const otherKey = generateTestKey('SANDBOX-SDKE2EKEY');
let sim: RunningSimulator;
let admin: SimulatorAdmin;
let client: WebStoreClientType;
let idem = 0;
const newKey = () => `sdk${Date.now()}${idem++}`;

const sdkConfig = (privateKey: string) => ({
  publicKeyId: key.publicKeyId,
  privateKey,
  region: 'us',
  sandbox: true,
  algorithm: 'AMZN-PAY-RSASSA-PSS-V2',
  overrideServiceUrl: `127.0.0.1:${new URL(sim.url).port}`,
});

beforeAll(async () => {
  sim = await startSimulator({ https: 'self-signed', publicKeys: { [key.publicKeyId]: key.publicKeyPem } });
  admin = new SimulatorAdmin(sim.url);
  client = new WebStoreClient(sdkConfig(key.privateKeyPem));
});

afterAll(async () => {
  await sim?.close();
});

async function rejection(
  promise: Promise<unknown>,
): Promise<{ status: number; data: { reasonCode: string; message: string } }> {
  try {
    await promise;
  } catch (error) {
    return (error as { response: { status: number; data: { reasonCode: string; message: string } } }).response;
  }
  throw new Error('expected the SDK call to fail');
}

describe('official Node SDK against the simulator over https', () => {
  it('runs a one-time checkout, capture and refund', async () => {
    expect(sim.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const created = await client.createCheckoutSession(
      { storeId: STORE_ID, webCheckoutDetails: { checkoutReviewReturnUrl: 'https://shop.test/review' } },
      { 'x-amz-pay-idempotency-key': newKey() },
    );
    expect(created.status).toBe(201);
    expect(created.headers['x-amz-pay-request-id']).toBeTruthy();
    const id: string = created.data.checkoutSessionId;
    expect(created.data.constraints.map((c: { constraintId: string }) => c.constraintId)).toContain(
      'BuyerNotAssociated',
    );

    const signedIn = await admin.signIn(id);
    expect(signedIn.location).toBe(`https://shop.test/review?amazonCheckoutSessionId=${id}`);

    const updated = await client.updateCheckoutSession(id, {
      webCheckoutDetails: { checkoutResultReturnUrl: 'https://shop.test/result' },
      paymentDetails: { paymentIntent: 'Authorize', chargeAmount: { amount: '49.90', currencyCode: 'USD' } },
      merchantMetadata: { merchantReferenceId: 'order-1' },
    });
    expect(updated.data.constraints).toEqual([]);
    const redirect: string = updated.data.webCheckoutDetails.amazonPayRedirectUrl;
    expect(redirect).toBe(`${sim.url}/checkout/pay/${id}`);

    const paid = await admin.pay(redirect, 'happy');
    expect(paid.location).toBe(`https://shop.test/result?amazonCheckoutSessionId=${id}`);

    const completed = await client.completeCheckoutSession(id, { chargeAmount: { amount: 49.9, currencyCode: 'USD' } });
    expect(completed.status).toBe(200);
    expect(completed.data.statusDetails.state).toBe('Completed');
    const { chargeId, chargePermissionId } = completed.data;
    expect(chargePermissionId).toMatch(/^S01-\d{7}-\d{7}$/);
    expect(chargeId).toMatch(new RegExp(`^${chargePermissionId}-C\\d+$`));

    const captureKey = newKey();
    const captured = await client.captureCharge(
      chargeId,
      { captureAmount: { amount: '49.90', currencyCode: 'USD' } },
      { 'x-amz-pay-idempotency-key': captureKey },
    );
    expect(captured.data.statusDetails.state).toBe('Captured');
    const replay = await client.captureCharge(
      chargeId,
      { captureAmount: { amount: '49.90', currencyCode: 'USD' } },
      { 'x-amz-pay-idempotency-key': captureKey },
    );
    expect(replay.data).toEqual(captured.data);
    expect((await client.getChargePermission(chargePermissionId)).data.statusDetails).toMatchObject({
      state: 'Closed',
      reasons: [{ reasonCode: 'AmazonClosed' }],
    });

    const refund = await client.createRefund(
      { chargeId, refundAmount: { amount: '10.00', currencyCode: 'USD' } },
      { 'x-amz-pay-idempotency-key': newKey() },
    );
    expect(refund.status).toBe(201);
    expect(refund.data.statusDetails.state).toBe('RefundInitiated');
    await admin.advanceClock(60_000);
    const settled = await client.getRefund(refund.data.refundId);
    expect(settled.data.statusDetails.state).toBe('Refunded');
    expect((await client.getCharge(chargeId)).data.refundedAmount).toEqual({ amount: '10.00', currencyCode: 'USD' });

    const money = await admin.moneyMovements({ checkoutSessionId: id });
    expect(money.movements.map((m) => m.kind)).toEqual(['authorization', 'capture', 'refund']);
    expect(money.totals).toMatchObject({ authorized: '49.90', captured: '49.90', refunded: '10.00', net: '39.90' });
  });

  it('charges a recurring charge permission with Create Charge', async () => {
    const payload = {
      storeId: STORE_ID,
      webCheckoutDetails: {
        checkoutReviewReturnUrl: 'https://shop.test/review',
        checkoutResultReturnUrl: 'https://shop.test/result',
      },
      chargePermissionType: 'Recurring',
      recurringMetadata: { frequency: { unit: 'Month', value: '1' }, amount: { amount: '14.00', currencyCode: 'USD' } },
      paymentDetails: { paymentIntent: 'Confirm', chargeAmount: { amount: '14.00', currencyCode: 'USD' } },
    };
    const signature = client.generateButtonSignature(payload);
    const clicked = await admin.clickButton({
      payloadJSON: JSON.stringify(payload),
      signature,
      publicKeyId: key.publicKeyId,
      algorithm: 'AMZN-PAY-RSASSA-PSS-V2',
    });
    const session = await client.getCheckoutSession(clicked.checkoutSessionId);
    expect(session.data.buyer.buyerId).toMatch(/^amzn1\.account\./);
    await admin.pay(session.data.webCheckoutDetails.amazonPayRedirectUrl, 'happy');
    const completed = await client.completeCheckoutSession(clicked.checkoutSessionId, {
      chargeAmount: { amount: '14.00', currencyCode: 'USD' },
    });
    expect(completed.data.chargeId).toBeNull();
    const cpId: string = completed.data.chargePermissionId;
    const cp = await client.getChargePermission(cpId);
    expect(cp.data).toMatchObject({
      chargePermissionType: 'Recurring',
      statusDetails: { state: 'Chargeable', reasons: null },
    });

    const charge = await client.createCharge(
      {
        chargePermissionId: cpId,
        chargeAmount: { amount: '14.00', currencyCode: 'USD' },
        captureNow: true,
        canHandlePendingAuthorization: false,
      },
      { 'x-amz-pay-idempotency-key': newKey() },
    );
    expect(charge.status).toBe(201);
    expect(charge.data.statusDetails.state).toBe('Captured');
    const closed = await client.closeChargePermission(cpId, {
      closureReason: 'Subscription canceled',
      cancelPendingCharges: false,
    });
    expect(closed.data.statusDetails.state).toBe('Closed');
  });

  it('rejects a request signed with the wrong private key', async () => {
    const impostor = new WebStoreClient(sdkConfig(otherKey.privateKeyPem));
    const response = await rejection(impostor.getCheckoutSession('00000000-0000-0000-0000-000000000000'));
    expect(response.status).toBe(403);
    expect(response.data.reasonCode).toBe('InvalidRequestSignature');
    expect(response.data.message).toContain('signing String [AMZN-PAY-RSASSA-PSS-V2');
  });

  it('surfaces Amazon errors through the SDK rejection', async () => {
    const response = await rejection(
      client.createCharge(
        { chargePermissionId: 'S01-0000000-0000000', chargeAmount: { amount: '1.00', currencyCode: 'USD' } },
        { 'x-amz-pay-idempotency-key': newKey() },
      ),
    );
    expect(response.status).toBe(404);
    expect(response.data.reasonCode).toBe('ResourceNotFound');
  });
});
