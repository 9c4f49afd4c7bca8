import type { Client } from '@temporalio/client';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  buildSignedNotification,
  createSigningIdentity,
  signEnvelope,
  snsHeaders,
  type InnerMessage,
  type SigningIdentity,
  type SnsEnvelope,
} from '../../simulator/ipn/sign';
import { createIpnRoutes, type IpnLogger, type IpnRouteDeps } from './routes';

const CERT_BASE = 'http://127.0.0.1:4010/sns';
const PATH = '/amazon-pay/ipn';

const message = (over: Partial<Record<string, string>> = {}): InnerMessage =>
  ({
    MerchantID: 'A2123456U54T1BM',
    ObjectType: 'CHARGE',
    ObjectId: 'S01-5105180-3221187-C056351',
    ChargePermissionId: 'S01-5105180-3221187',
    NotificationType: 'STATE_CHANGE',
    NotificationId: '0e1b8ad8-2f7e-4c2c-9d4f-3a9a6b4f1c77',
    NotificationVersion: 'V2',
    ...over,
  }) as InnerMessage;

let identity: SigningIdentity;
let otherIdentity: SigningIdentity;
beforeAll(async () => {
  [identity, otherIdentity] = await Promise.all([createSigningIdentity(), createSigningIdentity()]);
});

function harness(over: Partial<IpnRouteDeps> = {}, opts: { temporalFails?: () => boolean } = {}) {
  const signals: { workflowId: string; taskQueue: string; signalArgs: unknown[]; args: unknown[] }[] = [];
  const fetched: string[] = [];
  const logs: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const temporal = {
    withDeadline: <R>(_d: number, fn: () => Promise<R>) => fn(),
    workflow: {
      signalWithStart: async (
        _wf: unknown,
        o: { workflowId: string; taskQueue: string; signalArgs: unknown[]; args: unknown[] },
      ) => {
        if (opts.temporalFails?.()) throw new Error('14 UNAVAILABLE: No connection established');
        signals.push(o);
        return {};
      },
    },
  } as unknown as Client;
  const fetchImpl = (async (input: string | URL | Request) => {
    const url = String(input);
    fetched.push(url);
    if (url === `${CERT_BASE}/${identity.certName}`) return new Response(identity.certificatePem);
    if (url.startsWith('https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription')) return new Response('<ok/>');
    return new Response('nope', { status: 404 });
  }) as typeof fetch;
  const logger: IpnLogger = {
    info: (m, f) => logs.push({ level: 'info', message: m, fields: f }),
    warn: (m, f) => logs.push({ level: 'warn', message: m, fields: f }),
    error: (m, f) => logs.push({ level: 'error', message: m, fields: f }),
  };
  const app = createIpnRoutes({
    temporal,
    taskQueue: 'tq',
    path: PATH,
    certHostPattern: /^(127\.0\.0\.1|sns\.[a-z0-9-]+\.amazonaws\.com)$/,
    confirmSubscriptions: true,
    bodyLimitBytes: 8 * 1024,
    fetch: fetchImpl,
    logger,
    ...over,
  });
  return { app, signals, fetched, logs };
}

function signed(
  over: { message?: InnerMessage | string; version?: '1' | '2'; certUrl?: string; key?: string } = {},
): SnsEnvelope {
  return buildSignedNotification(
    {
      message: over.message ?? message(),
      topicArn: 'arn:aws:sns:us-east-1:291180941288:A2123456U54T1BM',
      signingCertUrl: over.certUrl ?? `${CERT_BASE}/${identity.certName}`,
      timestamp: new Date(),
      ...(over.version ? { signatureVersion: over.version } : {}),
    },
    over.key ?? identity.privateKeyPem,
  );
}

const post = (app: ReturnType<typeof harness>['app'], body: unknown, headers: Record<string, string> = {}) =>
  app.request(PATH, {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=UTF-8', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

async function errorOf(res: Response) {
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+/);
  return body.error;
}

describe('IPN endpoint', () => {
  it('accepts a signed Notification and signals the charge permission inbox', async () => {
    const h = harness();
    const env = signed();
    const res = await post(h.app, env, snsHeaders(env));
    expect(res.status).toBe(200);
    expect(h.signals).toHaveLength(1);
    expect(h.signals[0]).toMatchObject({
      workflowId: 'amazon-pay-cp-S01-5105180-3221187',
      taskQueue: 'tq',
      args: [{ chargePermissionId: 'S01-5105180-3221187' }],
      signalArgs: [
        {
          messageId: env.MessageId,
          notificationId: '0e1b8ad8-2f7e-4c2c-9d4f-3a9a6b4f1c77',
          objectType: 'CHARGE',
          objectId: 'S01-5105180-3221187-C056351',
          chargePermissionId: 'S01-5105180-3221187',
          notificationType: 'STATE_CHANGE',
        },
      ],
    });
    const accepted = h.logs.find((l) => l.message === 'IPN accepted');
    expect(accepted?.fields).toMatchObject({
      messageId: env.MessageId,
      chargePermissionId: 'S01-5105180-3221187',
      objectId: 'S01-5105180-3221187-C056351',
    });
    expect(JSON.stringify(h.logs)).not.toContain(env.Signature);
  });

  it('accepts application/json, SignatureVersion 2 and camelCase inner keys; caches the certificate', async () => {
    const h = harness();
    const camel = JSON.stringify({
      merchantID: 'A2123456U54T1BM',
      objectType: 'REFUND',
      objectId: 'S01-5105180-3221187-R000001',
      chargePermissionId: 'S01-5105180-3221187',
      notificationType: 'STATE_CHANGE',
      notificationId: 'n-2',
      notificationVersion: 'V2',
    });
    const res1 = await post(h.app, signed({ message: camel, version: '2' }), { 'content-type': 'application/json' });
    expect(res1.status).toBe(200);
    const res2 = await post(h.app, signed());
    expect(res2.status).toBe(200);
    expect(h.signals.map((s) => (s.signalArgs[0] as { objectType: string }).objectType)).toEqual(['REFUND', 'CHARGE']);
    expect(h.fetched.filter((u) => u.endsWith('.pem'))).toHaveLength(1);
  });

  it('rejects a forged signature with 403 and signals nothing', async () => {
    const h = harness();
    const tampered = { ...signed(), Message: JSON.stringify(message({ ChargePermissionId: 'S01-9999999-9999999' })) };
    const res = await post(h.app, tampered);
    expect(res.status).toBe(403);
    expect((await errorOf(res)).code).toBe('ipn_signature_invalid');
    const wrongKey = signed({ key: otherIdentity.privateKeyPem });
    expect((await post(h.app, wrongKey)).status).toBe(403);
    const garbage = { ...signed(), Signature: 'not base64 at all!!' };
    expect((await post(h.app, garbage)).status).toBe(403);
    expect(h.signals).toHaveLength(0);
    expect(h.logs.filter((l) => l.level === 'warn' && l.fields.code === 'ipn_signature_invalid')).toHaveLength(3);
  });

  it('never fetches a certificate from a foreign host, over http from a non-loopback host, or a non-.pem path', async () => {
    const h = harness({ certHostPattern: /^(127\.0\.0\.1|cdn\.example\.com)$/ });
    for (const certUrl of [
      `http://evil.example.org/sns/${identity.certName}`,
      `http://cdn.example.com/sns/${identity.certName}`,
      `${CERT_BASE}/cert.txt`,
      `${CERT_BASE}/other.pem`,
      `http://user:pw@127.0.0.1:4010/sns/${identity.certName}`,
      // A trusted host, but another port, or a file that is not an SNS signing certificate.
      `https://cdn.example.com:8443/${identity.certName}`,
      `https://cdn.example.com/uploads/avatar.pem`,
      'not a url',
    ]) {
      const res = await post(h.app, signed({ certUrl }));
      expect(res.status, certUrl).toBe(403);
      expect((await errorOf(res)).code).toBe('ipn_certificate_untrusted');
    }
    expect(h.fetched).toEqual([]);
    expect(h.signals).toHaveLength(0);
  });

  it('answers 403 when the trusted certificate host has no such certificate (the URL is forged), 502 when it fails (SNS retries)', async () => {
    const h = harness();
    const res = await post(h.app, signed({ certUrl: `${CERT_BASE}/SimpleNotificationService-missing.pem` }));
    expect(res.status).toBe(403);
    expect((await errorOf(res)).code).toBe('ipn_certificate_untrusted');
    expect(h.logs.find((l) => l.message === 'IPN rejected')).toMatchObject({ level: 'warn', fields: { status: 403 } });
    const failing = harness({ fetch: (async () => new Response('oops', { status: 500 })) as typeof fetch });
    const unavailable = await post(failing.app, signed());
    expect(unavailable.status).toBe(502);
    expect((await errorOf(unavailable)).code).toBe('ipn_certificate_unavailable');
  });

  it('a certificate download that breaks or overflows mid-body is 502 or 403, never a 500; failures are not refetched at once', async () => {
    let downloads = 0;
    const streamed = (chunks: string[], fail: boolean) =>
      new Response(
        new ReadableStream({
          start(controller) {
            for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
            if (fail) controller.error(new Error('socket hang up'));
            else controller.close();
          },
        }),
      );
    const h = harness({
      fetch: (async (input: string | URL | Request) => {
        downloads++;
        const url = String(input);
        if (url.endsWith('-broken.pem')) return streamed(['-----BEGIN CERTIFICATE-----\n'], true);
        return streamed(
          Array.from({ length: 20 }, () => 'x'.repeat(1024)),
          false,
        ); // no content-length, 20 KB
      }) as typeof fetch,
    });
    const broken = await post(h.app, signed({ certUrl: `${CERT_BASE}/SimpleNotificationService-broken.pem` }));
    expect(broken.status).toBe(502);
    expect((await errorOf(broken)).code).toBe('ipn_certificate_unavailable');
    const huge = await post(h.app, signed({ certUrl: `${CERT_BASE}/SimpleNotificationService-huge.pem` }));
    expect(huge.status).toBe(403);
    expect((await errorOf(huge)).message).toMatch(/too large/);
    // SNS redelivers quickly; a URL that just failed is not downloaded again on every POST.
    expect((await post(h.app, signed({ certUrl: `${CERT_BASE}/SimpleNotificationService-broken.pem` }))).status).toBe(
      502,
    );
    expect(downloads).toBe(2);
    expect(h.signals).toHaveLength(0);
  });

  it('with a topic allow-list, a genuinely signed message from another topic is refused and changes nothing', async () => {
    const h = harness({ topicArnPattern: /^arn:aws:sns:us-east-1:291180941288:A2OTHERSHOP$/ });
    const res = await post(h.app, signed());
    expect(res.status).toBe(403);
    expect((await errorOf(res)).code).toBe('ipn_topic_untrusted');
    expect(h.signals).toHaveLength(0);
    const ours = harness({ topicArnPattern: /^arn:aws:sns:us-east-1:291180941288:A2123456U54T1BM$/ });
    expect((await post(ours.app, signed())).status).toBe(200);
    expect(ours.signals).toHaveLength(1);
  });

  it('rejects malformed envelopes and messages with 400 and a reason', async () => {
    const h = harness();
    const cases: [unknown, string][] = [
      ['{not json', 'ipn_malformed_envelope'],
      [[], 'ipn_malformed_envelope'],
      [{ Type: 'Notification' }, 'ipn_malformed_envelope'],
      [{ ...signed(), Type: 'Bogus' }, 'ipn_malformed_envelope'],
      [{ ...signed(), SignatureVersion: '3' }, 'ipn_malformed_envelope'],
      [{ ...signed(), Timestamp: 'yesterday-ish' }, 'ipn_malformed_envelope'],
      [signed({ message: 'not json' }), 'ipn_malformed_message'],
      [signed({ message: '[1,2]' }), 'ipn_malformed_message'],
      [signed({ message: message({ ObjectType: 'ORDER' }) }), 'ipn_malformed_message'],
      [signed({ message: message({ ChargePermissionId: "x' OR 1=1" }) }), 'ipn_malformed_message'],
      [signed({ message: JSON.stringify({ ...message(), ObjectId: undefined }) }), 'ipn_malformed_message'],
      [signed({ message: message({ NotificationVersion: 'V1' }) }), 'ipn_unsupported_version'],
      [
        signed({ message: JSON.stringify({ ...message(), NotificationVersion: undefined }) }),
        'ipn_unsupported_version',
      ],
    ];
    for (const [body, code] of cases) {
      const res = await post(h.app, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      const err = await errorOf(res);
      expect(err.code).toBe(code);
      expect(err.message.length).toBeGreaterThan(0);
    }
    const env = signed();
    const mismatch = await post(h.app, env, { 'x-amz-sns-message-type': 'SubscriptionConfirmation' });
    expect(mismatch.status).toBe(400);
    expect(h.signals).toHaveLength(0);
  });

  it('answers 413 for an oversized body and 415 for other content types', async () => {
    const h = harness();
    const big = { ...signed(), Padding: 'x'.repeat(9 * 1024) };
    const res = await post(h.app, big);
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe('payload_too_large');
    const html = await post(h.app, signed(), { 'content-type': 'text/html' });
    expect(html.status).toBe(415);
    expect(h.signals).toHaveLength(0);
  });

  it('answers 503 while Temporal is unreachable, then 200 on the redelivery', async () => {
    let down = true;
    const h = harness({}, { temporalFails: () => down });
    const env = signed();
    const res = await post(h.app, env);
    expect(res.status).toBe(503);
    expect((await errorOf(res)).code).toBe('temporal_unavailable');
    down = false;
    expect((await post(h.app, env)).status).toBe(200);
    expect(h.signals).toHaveLength(1);
  });

  describe('subscription messages', () => {
    const confirmation = (type: 'SubscriptionConfirmation' | 'UnsubscribeConfirmation', subscribeUrl: string) =>
      signEnvelope(
        {
          Type: type,
          MessageId: crypto.randomUUID(),
          TopicArn: 'arn:aws:sns:us-east-1:291180941288:A2123456U54T1BM',
          Message:
            'You have chosen to subscribe to the topic. To confirm the subscription, visit the SubscribeURL included in this message.',
          Timestamp: new Date().toISOString(),
          SignatureVersion: '1',
          SigningCertURL: `${CERT_BASE}/${identity.certName}`,
          SubscribeURL: subscribeUrl,
          Token: 'token-123',
        },
        identity.privateKeyPem,
      );
    const allowed = 'https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=token-123';

    it('confirms by fetching an allowed SubscribeURL', async () => {
      const h = harness();
      const res = await post(h.app, confirmation('SubscriptionConfirmation', allowed));
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ confirmed: true });
      expect(h.fetched).toContain(allowed);
    });

    it('does not fetch when confirmation is off, nor a SubscribeURL on a foreign host', async () => {
      const off = harness({ confirmSubscriptions: false });
      const res = await post(off.app, confirmation('SubscriptionConfirmation', allowed));
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ confirmed: false });
      expect(off.fetched).not.toContain(allowed);
      // The operator confirms by hand from the log line.
      expect(off.logs.find((l) => /confirm it by opening subscribeUrl/.test(l.message))?.fields.subscribeUrl).toBe(
        allowed,
      );

      const h = harness();
      const evil = 'https://evil.example.org/?Action=ConfirmSubscription';
      const bad = await post(h.app, confirmation('SubscriptionConfirmation', evil));
      expect(bad.status).toBe(403);
      expect(h.fetched).not.toContain(evil);
    });

    it('never confirms a subscription to a topic outside the allow-list', async () => {
      const h = harness({ topicArnPattern: /^arn:aws:sns:[a-z0-9-]+:[0-9]+:A2OTHERSHOP$/ });
      const res = await post(h.app, confirmation('SubscriptionConfirmation', allowed));
      expect(res.status).toBe(403);
      expect(h.fetched).not.toContain(allowed);
    });

    it('logs an UnsubscribeConfirmation for operators', async () => {
      const h = harness();
      const res = await post(h.app, confirmation('UnsubscribeConfirmation', allowed));
      expect(res.status).toBe(200);
      expect(h.logs.some((l) => l.level === 'warn' && /Unsubscribe/.test(l.message))).toBe(true);
      expect(h.fetched).not.toContain(allowed);
    });

    it('rejects a tampered confirmation (Token is part of the signed string)', async () => {
      const h = harness();
      const res = await post(h.app, { ...confirmation('SubscriptionConfirmation', allowed), Token: 'other' });
      expect(res.status).toBe(403);
    });
  });
});
