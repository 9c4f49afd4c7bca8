import { X509Certificate, verify } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createIpnDispatcher,
  snsStringToSign,
  type IpnDispatcher,
  type IpnDispatcherOptions,
  type SnsEnvelope,
} from './index';

interface Received {
  url: string;
  headers: Record<string, string>;
  envelope: SnsEnvelope;
}

function fakeMerchant(answer: (n: number, e: SnsEnvelope) => number = () => 200) {
  const received: Received[] = [];
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const envelope = JSON.parse(String(init?.body)) as SnsEnvelope;
    received.push({ url: String(input), headers: init?.headers as Record<string, string>, envelope });
    return new Response('', { status: answer(received.length, envelope) });
  }) as typeof fetch;
  return { received, fetchImpl };
}

const base = (over: Partial<IpnDispatcherOptions>): IpnDispatcherOptions => ({
  merchantId: 'A2123456U54T1BM',
  publicBaseUrl: 'http://127.0.0.1:4010',
  now: () => new Date('2025-02-05T10:20:31.512Z'),
  url: 'http://127.0.0.1:3000/amazon-pay/ipn',
  retryBaseMs: 10,
  retryMaxMs: 40,
  ...over,
});

const charge = {
  objectType: 'CHARGE',
  objectId: 'S01-1111111-2222222-C000001',
  chargePermissionId: 'S01-1111111-2222222',
  notificationType: 'STATE_CHANGE',
} as const;

async function certOf(d: IpnDispatcher, envelope: SnsEnvelope): Promise<X509Certificate> {
  const path = new URL(envelope.SigningCertURL).pathname.replace(/^\/sns/, '');
  const res = await d.routes.request(path);
  expect(res.status).toBe(200);
  return new X509Certificate(await res.text());
}

describe('IPN dispatcher', () => {
  let dispatcher: IpnDispatcher | undefined;
  afterEach(async () => {
    await dispatcher?.close();
    dispatcher = undefined;
  });

  it('POSTs an SNS envelope signed with SignatureVersion 1 whose certificate it serves', async () => {
    const m = fakeMerchant();
    dispatcher = createIpnDispatcher(base({ fetch: m.fetchImpl }));
    dispatcher.notify(charge);
    expect(await dispatcher.idle(10_000)).toBe(true);
    expect(m.received).toHaveLength(1);
    const { envelope, headers, url } = m.received[0]!;
    expect(url).toBe('http://127.0.0.1:3000/amazon-pay/ipn');
    expect(headers['content-type']).toBe('text/plain; charset=UTF-8');
    expect(headers['x-amz-sns-message-type']).toBe('Notification');
    expect(headers['x-amz-sns-message-id']).toBe(envelope.MessageId);
    expect(headers['x-amz-sns-topic-arn']).toBe(envelope.TopicArn);
    expect(envelope).toMatchObject({
      Type: 'Notification',
      SignatureVersion: '1',
      Timestamp: '2025-02-05T10:20:31.512Z',
    });
    expect(envelope.SigningCertURL).toMatch(
      /^http:\/\/127\.0\.0\.1:4010\/sns\/SimpleNotificationService-[0-9a-f]+\.pem$/,
    );
    expect(JSON.parse(envelope.Message)).toMatchObject({
      MerchantID: 'A2123456U54T1BM',
      ObjectType: 'CHARGE',
      ObjectId: charge.objectId,
      ChargePermissionId: charge.chargePermissionId,
      NotificationType: 'STATE_CHANGE',
      NotificationVersion: 'V2',
    });
    const cert = await certOf(dispatcher, envelope);
    expect(
      verify(
        'RSA-SHA1',
        Buffer.from(snsStringToSign(envelope)),
        cert.publicKey,
        Buffer.from(envelope.Signature, 'base64'),
      ),
    ).toBe(true);
    expect(dispatcher.stats()).toMatchObject({ sent: 1, delivered: 1, failedAttempts: 0, dropped: 0, pending: 0 });
    expect((await dispatcher.routes.request('/other.pem')).status).toBe(404);
  });

  it('signs with SHA256withRSA when SignatureVersion 2 is configured', async () => {
    const m = fakeMerchant();
    dispatcher = createIpnDispatcher(base({ fetch: m.fetchImpl, signatureVersion: '2' }));
    dispatcher.notify(charge);
    await dispatcher.idle(10_000);
    const { envelope } = m.received[0]!;
    expect(envelope.SignatureVersion).toBe('2');
    const cert = await certOf(dispatcher, envelope);
    expect(
      verify(
        'RSA-SHA256',
        Buffer.from(snsStringToSign(envelope)),
        cert.publicKey,
        Buffer.from(envelope.Signature, 'base64'),
      ),
    ).toBe(true);
  });

  it('redelivers the same bytes with backoff until the merchant answers 2xx', async () => {
    const m = fakeMerchant((n) => (n < 3 ? 503 : 200));
    dispatcher = createIpnDispatcher(base({ fetch: m.fetchImpl }));
    dispatcher.notify(charge);
    await dispatcher.idle(10_000);
    expect(m.received).toHaveLength(3);
    expect(new Set(m.received.map((r) => JSON.stringify(r.envelope))).size).toBe(1);
    expect(dispatcher.stats()).toMatchObject({ delivered: 1, failedAttempts: 2, attempts: 3, dropped: 0 });
  });

  it('stops on a 4xx, like SNS', async () => {
    const m = fakeMerchant(() => 403);
    dispatcher = createIpnDispatcher(base({ fetch: m.fetchImpl }));
    dispatcher.notify(charge);
    await dispatcher.idle(10_000);
    expect(m.received).toHaveLength(1);
    expect(dispatcher.stats()).toMatchObject({
      delivered: 0,
      failedAttempts: 1,
      dropped: 1,
      droppedBy: { rejected: 1 },
    });
  });

  it('gives up after maxAttempts and on network errors keeps retrying', async () => {
    let calls = 0;
    const failing = (async () => {
      calls += 1;
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    dispatcher = createIpnDispatcher(base({ fetch: failing, maxAttempts: 4 }));
    dispatcher.notify(charge);
    await dispatcher.idle(10_000);
    expect(calls).toBe(4);
    expect(dispatcher.stats()).toMatchObject({ failedAttempts: 4, dropped: 1, droppedBy: { exhausted: 1 } });
  });

  it('duplicates: each IPN delivered three times with the same MessageId', async () => {
    const m = fakeMerchant();
    dispatcher = createIpnDispatcher(base({ fetch: m.fetchImpl, duplicateRate: 1, duplicateCopies: 2 }));
    dispatcher.notify(charge);
    await dispatcher.idle(10_000);
    expect(m.received).toHaveLength(3);
    expect(new Set(m.received.map((r) => r.envelope.MessageId)).size).toBe(1);
    expect(dispatcher.stats()).toMatchObject({ sent: 1, delivered: 3, duplicated: 2 });
  });

  it('loss: nothing is sent and the drop is counted', async () => {
    const m = fakeMerchant();
    dispatcher = createIpnDispatcher(base({ fetch: m.fetchImpl, lossRate: 1 }));
    dispatcher.notify(charge);
    dispatcher.notify(charge);
    await dispatcher.idle(1000);
    expect(m.received).toHaveLength(0);
    expect(dispatcher.stats()).toMatchObject({ sent: 2, dropped: 2, droppedBy: { loss: 2 }, pending: 0 });
  });

  it('reordering: a held notification is overtaken by the next one; delay applies to all', async () => {
    const m = fakeMerchant();
    let first = true;
    // reorderRate is drawn once per notify: hold only the first one.
    const random = () => {
      const r = first ? 0 : 0.99;
      first = false;
      return r;
    };
    dispatcher = createIpnDispatcher(
      base({ fetch: m.fetchImpl, reorderRate: 0.5, reorderHoldMs: 150, delayMs: 50, random }),
    );
    await dispatcher.identity();
    const started = Date.now();
    dispatcher.notify({ ...charge, objectId: 'S01-1111111-2222222-C000001' });
    dispatcher.notify({ ...charge, objectId: 'S01-1111111-2222222-C000002' });
    await dispatcher.idle(10_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(m.received.map((r) => JSON.parse(r.envelope.Message).ObjectId)).toEqual([
      'S01-1111111-2222222-C000002',
      'S01-1111111-2222222-C000001',
    ]);
    expect(dispatcher.stats().reordered).toBe(1);
  });

  it('without a URL, notifications are dropped as noUrl; configure() sets one', async () => {
    const m = fakeMerchant();
    dispatcher = createIpnDispatcher(base({ fetch: m.fetchImpl, url: undefined }));
    dispatcher.notify(charge);
    await dispatcher.idle(1000);
    expect(dispatcher.stats().droppedBy.noUrl).toBe(1);
    dispatcher.configure({ url: 'http://127.0.0.1:9/ipn' });
    dispatcher.notify(charge);
    await dispatcher.idle(1000);
    expect(m.received.map((r) => r.url)).toEqual(['http://127.0.0.1:9/ipn']);
  });

  it('close() cancels pending redeliveries and leaves no timers', async () => {
    const m = fakeMerchant(() => 500);
    dispatcher = createIpnDispatcher(base({ fetch: m.fetchImpl, retryBaseMs: 200, retryMaxMs: 200 }));
    dispatcher.notify(charge);
    await new Promise((r) => setTimeout(r, 100));
    await dispatcher.close();
    const count = m.received.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(m.received.length).toBe(count);
    expect(() => dispatcher!.notify(charge)).toThrow(/closed/);
  });
});
