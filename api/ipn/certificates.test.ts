// Downloading SigningCertURL certificates: what a failed download means for the message (403 for an
// unauthentic one, 502 when our upstream is unwell), and that downloads caused by anyone's POSTs
// never hold up a message whose certificate we already have.
import type { Client } from '@temporalio/client';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  buildSignedNotification,
  createSigningIdentity,
  type SigningIdentity,
  type SnsEnvelope,
} from '../../simulator/ipn/sign';
import { createIpnRoutes, type IpnLogger } from './routes';
import { createSnsVerifier } from './verify';

const CERT_BASE = 'http://127.0.0.1:4010/sns';
const PATH = '/amazon-pay/ipn';
const HOSTS = /^127\.0\.0\.1$/;
/** verify.ts's limit on concurrent downloads of certificates we do not have. */
const DOWNLOAD_SLOTS = 4;

let identity: SigningIdentity;
beforeAll(async () => {
  identity = await createSigningIdentity();
});
afterEach(() => {
  vi.useRealTimers();
});

/**
 * The IPN routes with a certificate host that serves `identity`'s certificate, answers 404 for any
 * other name, and holds every `SimpleNotificationService-hang*.pem` request open until released.
 */
function harness(verifier?: { cacheTtlMs: number }) {
  const downloads: string[] = [];
  const logs: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const held: { name: string; answer: (res: Response) => void }[] = [];
  const heldListeners = new Set<() => void>();
  const answers = new Map<string, () => Response | Promise<Response>>();
  const serve = (name: string): Response | Promise<Response> => {
    const answer = answers.get(name);
    if (answer) return answer();
    if (name === identity.certName) return new Response(identity.certificatePem);
    if (name.startsWith('SimpleNotificationService-hang')) return hold(name);
    return new Response('Not Found', { status: 404 });
  };
  const hold = (name: string) =>
    new Promise<Response>((answer) => {
      held.push({ name, answer });
      for (const listener of heldListeners) listener();
    });
  const fetchImpl = (async (input: string | URL | Request) => {
    const url = String(input);
    downloads.push(url);
    return serve(url.slice(url.lastIndexOf('/') + 1));
  }) as typeof fetch;
  const logger: IpnLogger = {
    info: (m, f) => logs.push({ level: 'info', message: m, fields: f }),
    warn: (m, f) => logs.push({ level: 'warn', message: m, fields: f }),
    error: (m, f) => logs.push({ level: 'error', message: m, fields: f }),
  };
  const signals: unknown[] = [];
  const temporal = {
    withDeadline: <R>(_d: number, fn: () => Promise<R>) => fn(),
    workflow: { signalWithStart: async (_wf: unknown, o: unknown) => void signals.push(o) },
  } as unknown as Client;
  const app = createIpnRoutes({
    temporal,
    taskQueue: 'tq',
    path: PATH,
    certHostPattern: HOSTS,
    confirmSubscriptions: false,
    bodyLimitBytes: 8 * 1024,
    fetch: fetchImpl,
    logger,
    ...(verifier ? { verifier: createSnsVerifier({ certHostPattern: HOSTS, fetch: fetchImpl, ...verifier }) } : {}),
  });
  const post = async (env: SnsEnvelope) =>
    app.request(PATH, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(env) });
  return {
    post,
    /** Posts without awaiting; `settled` tells whether it has been answered yet. */
    send(env: SnsEnvelope) {
      const entry = { settled: false, response: post(env) };
      void entry.response.then(() => (entry.settled = true));
      return entry;
    },
    answers,
    downloads,
    logs,
    signals,
    held,
    hold,
    /** Resolves once `n` certificate downloads are being held open. */
    untilHeld: (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (held.length < n) return;
          heldListeners.delete(check);
          resolve();
        };
        heldListeners.add(check);
        check();
      }),
    releaseAll(res: () => Response) {
      for (const h of held.splice(0)) h.answer(res());
    },
    certDownloads: () => downloads.filter((u) => u.endsWith(`/${identity.certName}`)).length,
  };
}

const notification = (certName = identity.certName): SnsEnvelope =>
  buildSignedNotification(
    {
      message: {
        MerchantID: 'A2123456U54T1BM',
        ObjectType: 'CHARGE',
        ObjectId: 'S01-5105180-3221187-C056351',
        ChargePermissionId: 'S01-5105180-3221187',
        NotificationType: 'STATE_CHANGE',
        NotificationId: crypto.randomUUID(),
        NotificationVersion: 'V2',
      },
      topicArn: 'arn:aws:sns:us-east-1:291180941288:A2123456U54T1BM',
      signingCertUrl: `${CERT_BASE}/${certName}`,
      timestamp: new Date(),
    },
    // Even signed with the key that matches the cached certificate: the URL is what is forged.
    identity.privateKeyPem,
  );

const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;
const rejections = (logs: ReturnType<typeof harness>['logs']) => logs.filter((l) => l.message === 'IPN rejected');

describe('SigningCertURL downloads', () => {
  it('a certificate the allowed host answers 4xx for is unauthentic: 403 with the reason, logged at warn, not refetched for 30 s', async () => {
    const h = harness();
    h.answers.set('SimpleNotificationService-gone.pem', () => new Response('Gone', { status: 410 }));
    h.answers.set(
      'SimpleNotificationService-denied.pem',
      () => new Response('<Error><Code>AccessDenied</Code></Error>', { status: 403 }),
    );
    h.answers.set('SimpleNotificationService-html.pem', () => new Response('<html>maintenance</html>'));
    for (const [name, reason] of [
      ['SimpleNotificationService-doesnotexist.pem', /names no certificate: the certificate host answered 404/],
      ['SimpleNotificationService-gone.pem', /answered 410/],
      ['SimpleNotificationService-denied.pem', /answered 403/],
      ['SimpleNotificationService-html.pem', /did not return a PEM certificate/],
    ] as const) {
      const res = await h.post(notification(name));
      expect(res.status, name).toBe(403);
      const err = await errorOf(res);
      expect(err.code).toBe('ipn_certificate_untrusted');
      expect(err.message).toMatch(reason);
    }
    expect(rejections(h.logs).map((l) => [l.level, l.fields.status, l.fields.code])).toEqual(
      Array(4).fill(['warn', 403, 'ipn_certificate_untrusted']),
    );
    expect(h.logs.filter((l) => l.level === 'error')).toEqual([]);

    // SNS-style redelivery of the same forged message: the same answer, no second download.
    const again = await h.post(notification('SimpleNotificationService-doesnotexist.pem'));
    expect(again.status).toBe(403);
    expect((await errorOf(again)).message).toMatch(/answered 404/);
    expect(h.downloads.filter((u) => u.endsWith('-doesnotexist.pem'))).toHaveLength(1);
    expect(h.signals).toEqual([]);
  });

  it('a certificate host that is unreachable, failing or throttling is 502 logged at error (SNS retries), not refetched for 30 s', async () => {
    const h = harness();
    h.answers.set('SimpleNotificationService-down.pem', () => Promise.reject(new TypeError('fetch failed')));
    h.answers.set('SimpleNotificationService-failing.pem', () => new Response('oops', { status: 503 }));
    h.answers.set('SimpleNotificationService-throttled.pem', () => new Response('slow down', { status: 429 }));
    for (const name of [
      'SimpleNotificationService-down.pem',
      'SimpleNotificationService-failing.pem',
      'SimpleNotificationService-throttled.pem',
    ]) {
      const res = await h.post(notification(name));
      expect(res.status, name).toBe(502);
      expect((await errorOf(res)).code).toBe('ipn_certificate_unavailable');
      expect((await h.post(notification(name))).status, name).toBe(502);
    }
    expect(h.downloads).toHaveLength(3);
    expect(rejections(h.logs).every((l) => l.level === 'error' && l.fields.status === 502)).toBe(true);
  });

  it('a genuine IPN whose certificate is cached is answered while forged ones wait on a certificate host that never answers', async () => {
    const h = harness();
    expect((await h.post(notification())).status).toBe(200);

    // 20 forged messages naming distinct certificates: the first ones take every download slot and
    // stay there, the rest are answered at once (502: SNS would retry a genuine one).
    const stuck = Array.from({ length: DOWNLOAD_SLOTS }, (_, i) =>
      h.send(notification(`SimpleNotificationService-hang${i}.pem`)),
    );
    await h.untilHeld(DOWNLOAD_SLOTS);
    const refused = await Promise.all(
      Array.from({ length: 20 - DOWNLOAD_SLOTS }, (_, i) =>
        h.post(notification(`SimpleNotificationService-hangmore${i}.pem`)),
      ),
    );
    for (const res of refused) {
      expect(res.status).toBe(502);
      expect((await errorOf(res)).message).toMatch(/too many certificate downloads/);
    }

    const genuine = await h.post(notification());
    expect(genuine.status).toBe(200);
    expect(h.signals).toHaveLength(2);
    expect(stuck.map((s) => s.settled)).toEqual(Array(DOWNLOAD_SLOTS).fill(false));
    expect(h.certDownloads()).toBe(1);

    // The host finally says there are no such certificates.
    h.releaseAll(() => new Response('Not Found', { status: 404 }));
    for (const s of stuck) expect((await s.response).status).toBe(403);
  });

  it('a cached certificate past its TTL is still used while the download slots are taken, refreshed without a slot, and dropped once the host disowns it', async () => {
    // Only Date is faked (timers run for real), so every clock the verifier may read moves together.
    vi.useFakeTimers({ toFake: ['Date'] });
    const h = harness({ cacheTtlMs: 60_000 });
    expect((await h.post(notification())).status).toBe(200);
    vi.setSystemTime(Date.now() + 120_000);

    const stuck = Array.from({ length: DOWNLOAD_SLOTS }, (_, i) =>
      h.send(notification(`SimpleNotificationService-hang${i}.pem`)),
    );
    await h.untilHeld(DOWNLOAD_SLOTS);
    const genuine = await h.post(notification());
    expect(genuine.status, JSON.stringify(await genuine.clone().json())).toBe(200);
    expect(h.certDownloads()).toBe(2); // the background refresh, outside the slots
    expect(stuck.map((s) => s.settled)).toEqual(Array(DOWNLOAD_SLOTS).fill(false));

    // Withdrawn by the host: at most the message that triggered the refresh still gets through.
    vi.setSystemTime(Date.now() + 120_000);
    h.answers.set(identity.certName, () => new Response('Not Found', { status: 404 }));
    await vi.waitFor(async () => {
      const res = await h.post(notification());
      expect(res.status).toBe(403);
    });
    expect(h.certDownloads()).toBe(3);

    h.releaseAll(() => new Response('Not Found', { status: 404 }));
    await Promise.all(stuck.map((s) => s.response));
  });

  it('concurrent messages naming one uncached certificate share one download and one slot', async () => {
    const h = harness();
    h.answers.set(identity.certName, () => h.hold(identity.certName));
    const first = Array.from({ length: 10 }, () => h.send(notification()));
    await h.untilHeld(1);
    // The other slots are still free for other certificates.
    const others = Array.from({ length: DOWNLOAD_SLOTS - 1 }, (_, i) =>
      h.send(notification(`SimpleNotificationService-hang${i}.pem`)),
    );
    await h.untilHeld(DOWNLOAD_SLOTS);
    expect((await h.post(notification('SimpleNotificationService-hangnext.pem'))).status).toBe(502);

    h.held.shift()!.answer(new Response(identity.certificatePem));
    for (const m of first) expect((await m.response).status).toBe(200);
    expect(h.certDownloads()).toBe(1);
    expect(h.signals).toHaveLength(10);
    h.releaseAll(() => new Response('Not Found', { status: 404 }));
    for (const m of others) expect((await m.response).status).toBe(403);
  });
});
