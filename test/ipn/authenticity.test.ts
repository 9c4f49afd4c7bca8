// The IPN endpoint on a real port, as SNS reaches it: unauthentic or malformed input is refused
// with a 4xx and a reason, and nothing reaches Temporal.
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildSignedNotification,
  createSigningIdentity,
  snsHeaders,
  topicArnFor,
  type InnerMessage,
  type SigningIdentity,
  type SnsEnvelope,
} from '../../simulator/ipn';
import { notificationInboxWorkflowId } from '../../workflows/notifications';
import { startTestStack, type TestStack } from '../support/stack';
import { inboxView, newChargePermissionId, startIpnSender, startRoutingWorker, eventually } from './support';

let stack: TestStack;
let worker: AsyncDisposable;
let sender: Awaited<ReturnType<typeof startIpnSender>>;
let simulatorKey: SigningIdentity;
let attackerKey: SigningIdentity;
let certUrl: string;

beforeAll(async () => {
  stack = await startTestStack({ worker: false, ipn: false });
  worker = await startRoutingWorker(stack.temporal, stack.taskQueue);
  sender = await startIpnSender(`${stack.apiUrl}${stack.ipnPath}`);
  simulatorKey = await sender.ipn.identity();
  attackerKey = await createSigningIdentity();
  certUrl = await sender.ipn.signingCertUrl();
});
afterAll(async () => {
  await sender?.[Symbol.asyncDispose]();
  await worker?.[Symbol.asyncDispose]();
  await stack?.[Symbol.asyncDispose]();
});

const inner = (cp: string, over: Record<string, unknown> = {}): InnerMessage =>
  ({
    MerchantID: 'A2SIMULATORMRCH',
    ObjectType: 'CHARGE',
    ObjectId: `${cp}-C000001`,
    ChargePermissionId: cp,
    NotificationType: 'STATE_CHANGE',
    NotificationId: crypto.randomUUID(),
    NotificationVersion: 'V2',
    ...over,
  }) as InnerMessage;

const envelope = (
  cp: string,
  o: { key?: SigningIdentity; certUrl?: string; message?: InnerMessage | string } = {},
): SnsEnvelope =>
  buildSignedNotification(
    {
      message: o.message ?? inner(cp),
      topicArn: topicArnFor('A2SIMULATORMRCH'),
      signingCertUrl: o.certUrl ?? certUrl,
      timestamp: new Date(),
    },
    (o.key ?? simulatorKey).privateKeyPem,
  );

async function post(body: unknown, headers: Record<string, string> = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(`${stack.apiUrl}${stack.ipnPath}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=UTF-8', ...headers },
    body: text,
  });
  const json = (await res.json()) as { error?: { code: string; message: string } };
  return { status: res.status, json };
}

async function expectNoInbox(cp: string) {
  await expect(stack.temporal.workflow.getHandle(notificationInboxWorkflowId(cp)).describe()).rejects.toBeInstanceOf(
    WorkflowNotFoundError,
  );
}

describe('IPN endpoint authenticity over HTTP', () => {
  it('accepts a genuine simulator IPN (control)', async () => {
    const cp = newChargePermissionId();
    const env = envelope(cp);
    expect((await post(env, snsHeaders(env))).status).toBe(200);
    await eventually(
      () => inboxView(stack.temporal, cp),
      (v) => v.counts.received === 1,
    );
  });

  it('refuses a forged signature (tampered message, or signed with a key that is not the certificate’s)', async () => {
    const cp = newChargePermissionId();
    const tampered = { ...envelope(cp), Message: JSON.stringify(inner(cp, { ObjectType: 'REFUND' })) };
    const r1 = await post(tampered);
    expect(r1.status).toBe(403);
    expect(r1.json.error?.code).toBe('ipn_signature_invalid');
    const r2 = await post(envelope(cp, { key: attackerKey }));
    expect(r2.status).toBe(403);
    expect(r2.json.error?.code).toBe('ipn_signature_invalid');
    await expectNoInbox(cp);
  });

  it('refuses a certificate URL on a foreign host without fetching it', async () => {
    let fetched = 0;
    const { serveApp } = await import('./support');
    const { Hono } = await import('hono');
    await using attackerServer = await serveApp(
      new Hono().get('*', (c) => {
        fetched += 1;
        return c.text(attackerKey.certificatePem);
      }),
    );
    const cp = newChargePermissionId();
    for (const url of [
      `${attackerServer.url.replace('127.0.0.1', 'localhost')}/sns/x.pem`,
      `https://attacker.example/sns/${attackerKey.certName}`,
    ]) {
      const res = await post(envelope(cp, { key: attackerKey, certUrl: url }));
      expect(res.status, url).toBe(403);
      expect(res.json.error?.code).toBe('ipn_certificate_untrusted');
    }
    expect(fetched).toBe(0);
    await expectNoInbox(cp);
  });

  it('refuses a certificate URL on the allowed host that names no certificate with 403 (not 502: SNS need not retry it)', async () => {
    const cp = newChargePermissionId();
    const missing = certUrl.replace(
      /SimpleNotificationService-[A-Za-z0-9]+\.pem$/,
      'SimpleNotificationService-doesnotexist.pem',
    );
    expect(missing).not.toBe(certUrl);
    for (const attempt of ['first', 'redelivery']) {
      const res = await post(envelope(cp, { key: attackerKey, certUrl: missing }));
      expect(res.status, attempt).toBe(403);
      expect(res.json.error?.code).toBe('ipn_certificate_untrusted');
      expect(res.json.error?.message).toMatch(/answered 404/);
    }
    await expectNoInbox(cp);
    // The genuine certificate on the same host is unaffected.
    const env = envelope(cp);
    expect((await post(env, snsHeaders(env))).status).toBe(200);
  });

  it('refuses malformed envelopes and messages with 400 and a reason', async () => {
    const cp = newChargePermissionId();
    for (const [body, code] of [
      ['not json', 'ipn_malformed_envelope'],
      [{ Type: 'Notification', MessageId: 'x' }, 'ipn_malformed_envelope'],
      [envelope(cp, { message: '<xml/>' }), 'ipn_malformed_message'],
      [envelope(cp, { message: inner(cp, { ObjectType: 'ORDER' }) }), 'ipn_malformed_message'],
      [envelope(cp, { message: inner(cp, { NotificationVersion: 'V1' }) }), 'ipn_unsupported_version'],
    ] as const) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(res.json.error?.code).toBe(code);
      expect(res.json.error?.message).toBeTruthy();
      expect(JSON.stringify(res.json)).not.toMatch(/\.ts:\d+/);
    }
    await expectNoInbox(cp);
  });

  it('refuses an oversized body with 413', async () => {
    const cp = newChargePermissionId();
    const res = await post({ ...envelope(cp), Padding: 'x'.repeat(70 * 1024) });
    expect(res.status).toBe(413);
    expect(res.json.error?.code).toBe('payload_too_large');
    await expectNoInbox(cp);
  });
});
