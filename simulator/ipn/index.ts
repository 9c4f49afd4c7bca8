import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import {
  buildSignedNotification,
  createSigningIdentity,
  snsHeaders,
  topicArnFor,
  type InnerMessage,
  type SignatureVersion,
  type SigningIdentity,
  type SnsEnvelope,
} from './sign';

export * from './sign';

/**
 * The simulator's IPN sender. Behaves like Amazon SNS delivering Amazon Pay IPNs: one signed
 * envelope per notification, POSTed as text/plain, redelivered with backoff until the merchant
 * answers 2xx; a 4xx ends delivery (SNS does not retry client errors). Fault knobs (duplicates,
 * reordering, delay, loss) exist for the merchant's tests. Retries run in real time, short by
 * default, so tests do not wait an hour like production SNS.
 */
export interface IpnDispatcherOptions {
  merchantId: string;
  publicBaseUrl: string;
  /** Simulator clock, used for the envelope Timestamp. */
  now: () => Date;
  /** Merchant endpoint; without it notifications are dropped (counted as noUrl). */
  url?: string;
  /** Probability [0,1] that a notification is delivered more than once (same MessageId). */
  duplicateRate?: number;
  /** Extra copies of a duplicated notification (default 1, so 2 deliveries in all). */
  duplicateCopies?: number;
  /** Probability [0,1] that a notification is held back by reorderHoldMs, so later ones overtake it. */
  reorderRate?: number;
  reorderHoldMs?: number;
  /** Wait before the first delivery attempt of every notification. */
  delayMs?: number;
  /** Probability [0,1] that a notification is never sent. */
  lossRate?: number;
  /** AWS region in the topic ARN. */
  region?: string;
  /** "1" SHA1withRSA (SNS default) or "2" SHA256withRSA. */
  signatureVersion?: SignatureVersion;
  /** First retry wait; doubles per attempt up to retryMaxMs. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Attempts per delivery before it is dropped (counted as exhausted). */
  maxAttempts?: number;
  /** Per-attempt HTTP timeout (SNS uses 15 s). */
  requestTimeoutMs?: number;
  random?: () => number;
  fetch?: typeof fetch;
}

export interface IpnNotifyInput {
  objectType: 'CHARGE' | 'REFUND' | 'CHARGE_PERMISSION' | 'CHARGEBACK';
  objectId: string;
  chargePermissionId: string;
  notificationType: 'STATE_CHANGE' | 'ATTRIBUTE_CHANGE';
}

export interface IpnDeliveryRecord {
  messageId: string;
  notificationId: string;
  objectType: IpnNotifyInput['objectType'];
  objectId: string;
  chargePermissionId: string;
  copy: number;
  attempts: number;
  status: 'pending' | 'delivered' | 'rejected' | 'exhausted' | 'lost' | 'noUrl' | 'canceled';
  lastStatus: number | null;
  lastError: string | null;
}

export interface IpnStats {
  /** Notifications handed to notify(). */
  sent: number;
  /** POSTs answered 2xx (a duplicated notification counts once per copy). */
  delivered: number;
  /** POSTs answered non-2xx or failing at the network level. */
  failedAttempts: number;
  attempts: number;
  /** Notifications or copies that will never be delivered, by cause. */
  dropped: number;
  droppedBy: { loss: number; rejected: number; exhausted: number; noUrl: number };
  /** Extra copies scheduled. */
  duplicated: number;
  reordered: number;
  /** Deliveries waiting or in flight. */
  pending: number;
  recent: IpnDeliveryRecord[];
}

export interface IpnDispatcher {
  notify(n: IpnNotifyInput): void;
  configure(partial: Partial<IpnDispatcherOptions>): void;
  /** Mounted at '/sns': serves the signing certificate PEM. */
  routes: Hono;
  stats(): IpnStats;
  /** Resolves once nothing is pending (or after timeoutMs). Tests use it to await delivery. */
  idle(timeoutMs?: number): Promise<boolean>;
  /** The signing certificate URL currently put in envelopes. */
  signingCertUrl(): Promise<string>;
  /** The signing identity (key + certificate), for tests that sign their own envelopes. */
  identity(): Promise<SigningIdentity>;
  close(): Promise<void>;
}

const RECENT_LIMIT = 50;

export class IpnDispatcherClosedError extends Error {
  override readonly name = 'IpnDispatcherClosedError';
  constructor() {
    super('IPN dispatcher is closed');
  }
}

interface Delivery {
  record: IpnDeliveryRecord;
  envelope: Promise<SnsEnvelope>;
}

export function createIpnDispatcher(initial: IpnDispatcherOptions): IpnDispatcher {
  let options: IpnDispatcherOptions = { ...initial };
  const identityPromise = createSigningIdentity();
  // Keep an unobserved rejection from crashing the process; callers see it when they await.
  identityPromise.catch(() => undefined);

  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();
  const closing = new AbortController();
  let closed = false;
  let pending = 0;
  const idleWaiters = new Set<() => void>();
  const recent: IpnDeliveryRecord[] = [];
  const counters = { sent: 0, delivered: 0, failedAttempts: 0, attempts: 0, duplicated: 0, reordered: 0 };
  const droppedBy = { loss: 0, rejected: 0, exhausted: 0, noUrl: 0 };

  const rand = () => (options.random ?? Math.random)();
  const chance = (rate: number | undefined) => rate !== undefined && rate > 0 && rand() < rate;
  const baseUrl = () => options.publicBaseUrl.replace(/\/+$/, '');

  const remember = (record: IpnDeliveryRecord) => {
    recent.push(record);
    if (recent.length > RECENT_LIMIT) recent.shift();
  };

  const settle = (record: IpnDeliveryRecord, status: IpnDeliveryRecord['status']) => {
    record.status = status;
    pending -= 1;
    if (pending === 0) for (const wake of idleWaiters) wake();
  };

  const drop = (record: IpnDeliveryRecord, cause: keyof typeof droppedBy) => {
    droppedBy[cause] += 1;
    settle(record, cause === 'loss' ? 'lost' : cause);
  };

  const schedule = (delayMs: number, fn: () => void) => {
    const timer = setTimeout(
      () => {
        timers.delete(timer);
        fn();
      },
      Math.max(0, delayMs),
    );
    timers.add(timer);
  };

  const attempt = async (delivery: Delivery): Promise<void> => {
    const { record } = delivery;
    const url = options.url;
    if (!url) {
      drop(record, 'noUrl');
      return;
    }
    record.attempts += 1;
    counters.attempts += 1;
    let status: number | null = null;
    try {
      const envelope = await delivery.envelope;
      const doFetch = options.fetch ?? fetch;
      const res = await doFetch(url, {
        method: 'POST',
        headers: snsHeaders(envelope),
        body: JSON.stringify(envelope),
        signal: AbortSignal.any([closing.signal, AbortSignal.timeout(options.requestTimeoutMs ?? 5000)]),
      });
      status = res.status;
      // Drain the body so the connection is reused.
      await res.arrayBuffer().catch(() => undefined);
      record.lastStatus = status;
      record.lastError = null;
    } catch (err) {
      record.lastError = (err as Error).message;
    }
    if (closed) {
      settle(record, 'canceled');
      return;
    }
    if (status !== null && status >= 200 && status < 300) {
      counters.delivered += 1;
      settle(record, 'delivered');
      return;
    }
    counters.failedAttempts += 1;
    if (status !== null && status >= 400 && status < 500) {
      drop(record, 'rejected');
      return;
    }
    if (record.attempts >= (options.maxAttempts ?? 10)) {
      drop(record, 'exhausted');
      return;
    }
    const base = options.retryBaseMs ?? 200;
    const wait = Math.min(options.retryMaxMs ?? 5000, base * 2 ** (record.attempts - 1));
    schedule(wait, () => run(delivery));
  };

  const run = (delivery: Delivery) => {
    if (closed) return;
    const p = attempt(delivery).finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  const notify = (n: IpnNotifyInput): void => {
    if (closed) throw new IpnDispatcherClosedError();
    counters.sent += 1;
    const messageId = randomUUID();
    const notificationId = randomUUID();
    const timestamp = options.now();
    const message: InnerMessage = {
      MerchantID: options.merchantId,
      ObjectType: n.objectType,
      ObjectId: n.objectId,
      ChargePermissionId: n.chargePermissionId,
      NotificationType: n.notificationType,
      NotificationId: notificationId,
      NotificationVersion: 'V2',
    };
    const signatureVersion = options.signatureVersion ?? '1';
    const topicArn = topicArnFor(options.merchantId, options.region);
    const signingCertBase = baseUrl();
    // Signed once: every redelivery and duplicate carries the same bytes, like SNS.
    const envelope = identityPromise.then((id) =>
      buildSignedNotification(
        {
          message,
          messageId,
          topicArn,
          timestamp,
          signatureVersion,
          signingCertUrl: `${signingCertBase}/sns/${id.certName}`,
          unsubscribeUrl: `${signingCertBase}/sns/unsubscribe?SubscriptionArn=${encodeURIComponent(topicArn)}`,
        },
        id.privateKeyPem,
      ),
    );
    envelope.catch(() => undefined);

    const newRecord = (copy: number): IpnDeliveryRecord => ({
      messageId,
      notificationId,
      objectType: n.objectType,
      objectId: n.objectId,
      chargePermissionId: n.chargePermissionId,
      copy,
      attempts: 0,
      status: 'pending',
      lastStatus: null,
      lastError: null,
    });

    if (chance(options.lossRate)) {
      const record = newRecord(0);
      remember(record);
      pending += 1;
      drop(record, 'loss');
      return;
    }
    const copies = chance(options.duplicateRate) ? Math.max(1, options.duplicateCopies ?? 1) : 0;
    counters.duplicated += copies;
    const held = chance(options.reorderRate);
    if (held) counters.reordered += 1;
    const firstDelay = (options.delayMs ?? 0) + (held ? (options.reorderHoldMs ?? 250) : 0);
    for (let copy = 0; copy <= copies; copy++) {
      const record = newRecord(copy);
      remember(record);
      pending += 1;
      // Copies go out a little apart, as separate SNS deliveries would.
      schedule(firstDelay + copy * 15, () => run({ record, envelope }));
    }
  };

  const routes = new Hono();
  routes.get('/:name', async (c) => {
    const id = await identityPromise;
    if (c.req.param('name') !== id.certName) return c.text('Not Found', 404);
    return c.body(id.certificatePem, 200, { 'content-type': 'application/x-pem-file' });
  });

  return {
    notify,
    configure(partial) {
      options = { ...options, ...partial };
    },
    routes,
    stats(): IpnStats {
      const dropped = droppedBy.loss + droppedBy.rejected + droppedBy.exhausted + droppedBy.noUrl;
      return { ...counters, dropped, droppedBy: { ...droppedBy }, pending, recent: recent.map((r) => ({ ...r })) };
    },
    idle(timeoutMs = 30_000) {
      if (pending === 0) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const done = (value: boolean) => {
          idleWaiters.delete(wake);
          clearTimeout(timer);
          resolve(value);
        };
        const wake = () => done(true);
        const timer = setTimeout(() => done(pending === 0), timeoutMs);
        idleWaiters.add(wake);
      });
    },
    async signingCertUrl() {
      const id = await identityPromise;
      return `${baseUrl()}/sns/${id.certName}`;
    },
    identity: () => identityPromise,
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      closing.abort(new IpnDispatcherClosedError());
      await Promise.allSettled([...inFlight]);
      for (const wake of idleWaiters) wake();
      await identityPromise.catch(() => undefined);
    },
  };
}
