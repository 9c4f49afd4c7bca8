import { X509Certificate, verify as verifySignature } from 'node:crypto';
import type { SnsEnvelope } from './messages';

/**
 * SNS message signature verification (SignatureVersion 1 = SHA1withRSA, 2 = SHA256withRSA).
 *
 * Why our own and not an npm validator: `sns-validator` and `sns-payload-validator` fetch the
 * certificate themselves with `https.get` (no injectable fetch, no http at all), and
 * `sns-payload-validator` hard-codes the AWS host pattern. We need a configurable host allow-list
 * and plain http for the local simulator's certificate, so the rules (the same as AWS's SDK
 * validators) are implemented here with node:crypto's X509Certificate:
 *   - the SigningCertURL must parse, carry no credentials, name a `SimpleNotificationService-<id>.pem`
 *     file, and its host must match `certHostPattern` (default `^sns\.<region>\.amazonaws\.com(\.cn)?$`);
 *   - https on its default port is required, except for loopback hosts (127.0.0.1, ::1, localhost)
 *     that the pattern explicitly allows: traffic to them never leaves the machine, which is what
 *     tests against the simulator need; nothing else is ever fetched over http or another port;
 *   - redirects are refused, the response is size-limited and must be one PEM certificate that is
 *     currently valid;
 *   - certificates are cached per URL (AWS rotates them by publishing a new URL).
 * What a failed download means for the message:
 *   - the certificate host answered 4xx (a URL naming no certificate: 404, 403, ...) or something
 *     that is not one PEM certificate: the message is unauthentic (SnsVerificationError, 403);
 *   - the host could not be reached, answered 5xx, 408 or 429, or the body broke off: our upstream
 *     is unwell and SNS should retry (SnsCertificateUnavailableError, 502).
 *   Either answer is remembered for 30 s, so redeliveries and bursts do not refetch.
 * Anyone can POST an envelope naming a certificate URL, so downloads of URLs we have no certificate
 * for are limited to 4 at once. A cached certificate never waits for a download slot: past its TTL
 * it is still used while it is refreshed in the background (no limit: at most one per cache entry),
 * and dropped only if the host now refuses it as above.
 * Like the AWS SDK validators, the certificate chain is not verified: trust comes from fetching it
 * over TLS from an allowed host.
 */

export class SnsVerificationError extends Error {
  override readonly name = 'SnsVerificationError';
  constructor(
    readonly code: 'ipn_certificate_untrusted' | 'ipn_signature_invalid',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The certificate host is trusted but could not be reached, failed (5xx) or broke off: transient,
 * SNS should retry. Never used for a host that answered that there is no such certificate.
 */
export class SnsCertificateUnavailableError extends Error {
  override readonly name = 'SnsCertificateUnavailableError';
}

export interface SnsVerifierOptions {
  certHostPattern: RegExp;
  fetch?: typeof fetch;
  cacheTtlMs?: number;
  cacheMaxEntries?: number;
  fetchTimeoutMs?: number;
  /** The clock for certificate validity, cache TTL and failure backoff (tests). */
  now?: () => Date;
}

const LOOPBACK = new Set(['127.0.0.1', '[::1]', '::1', 'localhost']);
const MAX_CERT_BYTES = 16 * 1024;
const MAX_CONCURRENT_DOWNLOADS = 4;
const FAILURE_BACKOFF_MS = 30_000;
// The file name AWS publishes its signing certificates under (the simulator copies it).
const SNS_CERT_FILE = /\/SimpleNotificationService-[A-Za-z0-9]+\.pem$/;

/** Parses and checks a URL SNS gave us (SigningCertURL, SubscribeURL) against the allow-list. */
export function trustedSnsUrl(raw: string, hostPattern: RegExp, opts: { requirePem: boolean }): URL | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.username || url.password) return null;
  const host = url.hostname.toLowerCase();
  if (!hostPattern.test(host)) return null;
  const loopback = LOOPBACK.has(host);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) return null;
  if (url.port !== '' && !loopback) return null;
  if (opts.requirePem && !SNS_CERT_FILE.test(url.pathname)) return null;
  return url;
}

const NOTIFICATION_KEYS = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'] as const;
const CONFIRMATION_KEYS = ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'] as const;

export function stringToSign(envelope: SnsEnvelope): string {
  const keys = envelope.Type === 'Notification' ? NOTIFICATION_KEYS : CONFIRMATION_KEYS;
  let out = '';
  for (const key of keys) {
    const value = (envelope as Record<string, unknown>)[key];
    if (typeof value !== 'string') continue;
    out += `${key}\n${value}\n`;
  }
  return out;
}

export interface SnsVerifier {
  verify(envelope: SnsEnvelope): Promise<void>;
}

export function createSnsVerifier(options: SnsVerifierOptions): SnsVerifier {
  const ttl = options.cacheTtlMs ?? 24 * 3600_000;
  const maxEntries = options.cacheMaxEntries ?? 32;
  const now = options.now ?? (() => new Date());
  const clock = () => now().getTime();
  const cache = new Map<string, { cert: X509Certificate; expiresAt: number }>();
  const loading = new Map<string, Promise<X509Certificate>>();
  const failures = new Map<string, { until: number; error: SnsVerificationError | SnsCertificateUnavailableError }>();
  let uncachedDownloads = 0;

  const download = async (url: URL): Promise<X509Certificate> => {
    const doFetch = options.fetch ?? fetch;
    let res: Response;
    try {
      res = await doFetch(url, { redirect: 'error', signal: AbortSignal.timeout(options.fetchTimeoutMs ?? 5000) });
    } catch (err) {
      throw new SnsCertificateUnavailableError(`certificate fetch failed: ${(err as Error).message}`);
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      // The allowed host says there is no such certificate (or none for us): the message names a
      // certificate SNS never signed with. Timeouts and throttling are the host's trouble, not the sender's.
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
        throw new SnsVerificationError(
          'ipn_certificate_untrusted',
          `SigningCertURL names no certificate: the certificate host answered ${res.status}`,
        );
      }
      throw new SnsCertificateUnavailableError(`certificate fetch answered ${res.status}`);
    }
    const pem = await readLimited(res, MAX_CERT_BYTES);
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new SnsVerificationError('ipn_certificate_untrusted', 'certificate URL did not return a PEM certificate');
    }
    try {
      return new X509Certificate(pem);
    } catch {
      throw new SnsVerificationError('ipn_certificate_untrusted', 'certificate could not be parsed');
    }
  };

  // One download per URL however many messages name it; its outcome is cached either way.
  const load = (key: string, url: URL): Promise<X509Certificate> => {
    const inFlight = loading.get(key);
    if (inFlight) return inFlight;
    const p = download(url)
      .then(
        (cert) => {
          failures.delete(key);
          remember(cache, key, { cert, expiresAt: clock() + ttl }, maxEntries);
          return cert;
        },
        (err: unknown) => {
          // The host no longer serves it: stop trusting the copy we had.
          if (err instanceof SnsVerificationError) cache.delete(key);
          if (err instanceof SnsVerificationError || err instanceof SnsCertificateUnavailableError) {
            remember(failures, key, { until: clock() + FAILURE_BACKOFF_MS, error: err }, maxEntries);
          }
          throw err;
        },
      )
      .finally(() => loading.delete(key));
    loading.set(key, p);
    return p;
  };

  const certificate = async (url: URL): Promise<X509Certificate> => {
    const key = url.href;
    const t = clock();
    const failed = failures.get(key);
    const backingOff = failed !== undefined && failed.until > t;
    const hit = cache.get(key);
    if (hit) {
      remember(cache, key, hit, maxEntries); // most recently used is evicted last
      if (hit.expiresAt <= t && !backingOff) load(key, url).catch(() => undefined);
      return hit.cert;
    }
    if (backingOff) {
      if (failed.error instanceof SnsVerificationError)
        throw new SnsVerificationError(failed.error.code, failed.error.message);
      throw new SnsCertificateUnavailableError(
        `certificate fetch failed recently (${failed.error.message}); retry later`,
      );
    }
    const inFlight = loading.get(key);
    if (inFlight) return inFlight;
    // Anyone can POST an envelope naming a certificate: bound the downloads that causes.
    if (uncachedDownloads >= MAX_CONCURRENT_DOWNLOADS)
      throw new SnsCertificateUnavailableError('too many certificate downloads in flight; retry later');
    uncachedDownloads++;
    const p = load(key, url);
    const release = () => {
      uncachedDownloads--;
    };
    p.then(release, release);
    return p;
  };

  return {
    async verify(envelope) {
      const url = trustedSnsUrl(envelope.SigningCertURL, options.certHostPattern, { requirePem: true });
      if (!url)
        throw new SnsVerificationError('ipn_certificate_untrusted', 'SigningCertURL is not on an allowed SNS host');
      const cert = await certificate(url);
      const t = now().getTime();
      if (t < Date.parse(cert.validFrom) || t > Date.parse(cert.validTo)) {
        throw new SnsVerificationError('ipn_certificate_untrusted', 'signing certificate is not currently valid');
      }
      const algorithm = envelope.SignatureVersion === '2' ? 'RSA-SHA256' : 'RSA-SHA1';
      const signature = Buffer.from(envelope.Signature, 'base64');
      let ok = false;
      try {
        ok = verifySignature(algorithm, Buffer.from(stringToSign(envelope), 'utf8'), cert.publicKey, signature);
      } catch {
        ok = false;
      }
      if (!ok) throw new SnsVerificationError('ipn_signature_invalid', 'SNS signature does not verify');
    },
  };
}

/** Inserts or refreshes `key` as the newest entry, evicting the oldest beyond `max`. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value!);
  map.set(key, value);
}

/** Reads at most `limit` bytes of a body; a broken or oversized body never becomes a 500. */
async function readLimited(res: Response, limit: number): Promise<string> {
  if (Number(res.headers.get('content-length') ?? '0') > limit) {
    await res.body?.cancel().catch(() => undefined);
    throw new SnsVerificationError('ipn_certificate_untrusted', 'certificate too large');
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => undefined);
        throw new SnsVerificationError('ipn_certificate_untrusted', 'certificate too large');
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof SnsVerificationError) throw err;
    throw new SnsCertificateUnavailableError(`certificate download failed: ${(err as Error).message}`);
  }
  return Buffer.concat(chunks).toString('utf8');
}
