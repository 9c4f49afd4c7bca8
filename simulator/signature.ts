import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as rsaSign,
  verify as rsaVerify,
  constants,
  type KeyObject,
} from 'node:crypto';
import { AmazonPayApiError } from './errors';

/**
 * Amazon Pay v2 request signing, implemented from the reference independently of the product's
 * signer so that a test passing against both means something. Verification follows the
 * SignedHeaders list the client actually sent: the SDKs disagree on which headers they sign.
 */

export const ALGORITHMS = {
  'AMZN-PAY-RSASSA-PSS': { saltLength: 20 },
  'AMZN-PAY-RSASSA-PSS-V2': { saltLength: 32 },
} as const;
export type SignatureAlgorithm = keyof typeof ALGORITHMS;

const isAlgorithm = (name: string): name is SignatureAlgorithm => Object.hasOwn(ALGORITHMS, name);

export const sha256Hex = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

export interface ParsedAuthorization {
  algorithm: SignatureAlgorithm;
  publicKeyId: string;
  signedHeaders: string;
  signature: string;
}

const AUTHORIZATION = /^(\S+) PublicKeyId=([^,]+), SignedHeaders=([^,]+), Signature=(.+)$/;

export function parseAuthorization(header: string | null | undefined): ParsedAuthorization {
  if (!header) {
    throw new AmazonPayApiError(403, 'InvalidAuthentication', 'The authorization header is missing.');
  }
  const match = AUTHORIZATION.exec(header.trim());
  if (!match) {
    throw new AmazonPayApiError(403, 'InvalidAuthentication', 'The authorization header is malformed.');
  }
  const [, algorithm, publicKeyId, signedHeaders, signature] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  if (!isAlgorithm(algorithm)) {
    throw new AmazonPayApiError(403, 'InvalidAuthentication', `The signing algorithm '${algorithm}' is not supported.`);
  }
  return {
    algorithm,
    publicKeyId: publicKeyId.trim(),
    signedHeaders: signedHeaders.trim(),
    signature: signature.trim(),
  };
}

/** Canonical query: pairs sorted by name, values kept as the client encoded them. */
export function canonicalQuery(rawQuery: string): string {
  if (!rawQuery) return '';
  return rawQuery
    .split('&')
    .filter((pair) => pair.length > 0)
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
    })
    .sort(([a = ''], [b = '']) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

export const canonicalHeaderValue = (value: string) => value.trim().replace(/\s+/g, ' ');

export interface CanonicalRequestInput {
  method: string;
  path: string;
  rawQuery: string;
  /** Look-up by lower-case header name. */
  header: (name: string) => string | null | undefined;
  signedHeaders: string;
  body: string;
}

export function canonicalRequest(input: CanonicalRequestInput): string {
  const names = input.signedHeaders.split(';').map((n) => n.trim().toLowerCase());
  const headerLines = names.map((name) => `${name}:${canonicalHeaderValue(input.header(name) ?? '')}\n`).join('');
  return [
    input.method.toUpperCase(),
    input.path || '/',
    canonicalQuery(input.rawQuery),
    headerLines,
    input.signedHeaders,
    sha256Hex(input.body),
  ].join('\n');
}

export const stringToSign = (algorithm: SignatureAlgorithm, canonical: string) =>
  `${algorithm}\n${sha256Hex(canonical)}`;

/** Accepts the basic `20190923T231908Z` form (PHP/.NET) and the extended ISO form (Node). */
export function parseAmzDate(value: string): number | undefined {
  const basic = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value.trim());
  if (basic) {
    const [, y, mo, d, h, mi, s] = basic.map(Number) as [number, number, number, number, number, number, number];
    return Date.UTC(y, mo - 1, d, h, mi, s);
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(value.trim())) return Date.parse(value.trim());
  return undefined;
}

export interface RegisteredKey {
  publicKeyId: string;
  key: KeyObject;
  merchantId: string;
}

export class PublicKeyRegistry {
  private readonly keys = new Map<string, RegisteredKey>();

  register(publicKeyId: string, pem: string, merchantId: string): void {
    this.keys.set(publicKeyId, { publicKeyId, key: createPublicKey(pem), merchantId });
  }

  get(publicKeyId: string): RegisteredKey | undefined {
    return this.keys.get(publicKeyId);
  }

  ids(): string[] {
    return [...this.keys.keys()];
  }
}

export interface VerifyRequestInput extends Omit<CanonicalRequestInput, 'signedHeaders'> {
  keys: PublicKeyRegistry;
  /** Wall-clock time: skew is about the caller's real clock, not the simulator's advanceable one. */
  nowMs: number;
  clockSkewMs: number;
}

export interface VerifiedRequest {
  publicKeyId: string;
  merchantId: string;
  algorithm: SignatureAlgorithm;
}

const KNOWN_REGIONS = new Set(['na', 'us', 'eu', 'de', 'uk', 'jp']);

/** An HTTP field name (RFC 9110 token), lower case. Anything else cannot be a header the client sent. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

export function verifyRequest(input: VerifyRequestInput): VerifiedRequest {
  const auth = parseAuthorization(input.header('authorization'));
  const signedNames = auth.signedHeaders.split(';').map((n) => n.trim().toLowerCase());
  // Checked before any look-up: Headers.get throws a TypeError on an invalid name (`a;;b`, `a b`).
  const badName = signedNames.find((name) => !HEADER_NAME.test(name));
  if (badName !== undefined) {
    throw new AmazonPayApiError(
      403,
      'InvalidRequestSignature',
      `SignedHeaders lists '${badName}', which is not a valid header name.`,
    );
  }
  if (signedNames.includes('authorization')) {
    throw new AmazonPayApiError(403, 'InvalidAuthentication', 'The authorization header cannot be signed.');
  }
  const date = input.header('x-amz-pay-date');
  if (!date) throw new AmazonPayApiError(400, 'MissingHeader', 'The required header x-amz-pay-date is missing.');
  if (!signedNames.includes('x-amz-pay-date')) {
    throw new AmazonPayApiError(403, 'InvalidRequestSignature', 'The header x-amz-pay-date must be signed.');
  }
  const region = input.header('x-amz-pay-region');
  if (region !== null && region !== undefined && !KNOWN_REGIONS.has(region.trim().toLowerCase())) {
    throw new AmazonPayApiError(
      400,
      'InvalidHeaderValue',
      `The value provided for header x-amz-pay-region is invalid.`,
    );
  }
  const dateMs = parseAmzDate(date);
  if (dateMs === undefined) {
    throw new AmazonPayApiError(400, 'InvalidHeaderValue', 'The value provided for header x-amz-pay-date is invalid.');
  }
  if (Math.abs(input.nowMs - dateMs) > input.clockSkewMs) {
    throw new AmazonPayApiError(
      403,
      'InvalidRequestSignature',
      `Signature expired: the request date ${date} is outside the allowed window of ${Math.round(input.clockSkewMs / 1000)} seconds.`,
    );
  }
  const registered = input.keys.get(auth.publicKeyId);
  if (!registered) {
    throw new AmazonPayApiError(
      403,
      'InvalidRequestSignature',
      `The public key ID '${auth.publicKeyId}' is not registered.`,
    );
  }
  for (const name of signedNames) {
    if (input.header(name) === null || input.header(name) === undefined) {
      throw new AmazonPayApiError(
        403,
        'InvalidRequestSignature',
        `The signed header '${name}' is missing from the request.`,
      );
    }
  }
  const canonical = canonicalRequest({ ...input, signedHeaders: auth.signedHeaders });
  const toSign = stringToSign(auth.algorithm, canonical);
  const ok = rsaVerify(
    'sha256',
    Buffer.from(toSign),
    {
      key: registered.key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: ALGORITHMS[auth.algorithm].saltLength,
    },
    Buffer.from(auth.signature, 'base64'),
  );
  if (!ok) {
    throw new AmazonPayApiError(
      403,
      'InvalidRequestSignature',
      `Unable to verify signature, signing String [${toSign}] , canonical request [${canonical}]`,
    );
  }
  return { publicKeyId: registered.publicKeyId, merchantId: registered.merchantId, algorithm: auth.algorithm };
}

/** Button signature: PSS over `algorithm + "\n" + hex(sha256(payloadJSON))`, no timestamp. */
export function buttonStringToSign(algorithm: SignatureAlgorithm, payloadJSON: string): string {
  return `${algorithm}\n${sha256Hex(payloadJSON)}`;
}

export function verifyButtonSignature(
  keys: PublicKeyRegistry,
  input: { payloadJSON: string; signature: string; publicKeyId: string; algorithm: string },
): RegisteredKey {
  const registered = keys.get(input.publicKeyId);
  if (!registered)
    throw new AmazonPayApiError(
      403,
      'InvalidRequestSignature',
      `The public key ID '${input.publicKeyId}' is not registered.`,
    );
  if (!isAlgorithm(input.algorithm)) {
    throw new AmazonPayApiError(400, 'InvalidParameterValue', `The value provided for algorithm is invalid.`);
  }
  const toSign = buttonStringToSign(input.algorithm, input.payloadJSON);
  const ok = rsaVerify(
    'sha256',
    Buffer.from(toSign),
    {
      key: registered.key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: ALGORITHMS[input.algorithm].saltLength,
    },
    Buffer.from(input.signature, 'base64'),
  );
  if (!ok)
    throw new AmazonPayApiError(
      403,
      'InvalidRequestSignature',
      `Unable to verify signature, signing String [${toSign}]`,
    );
  return registered;
}

// ---- Signing, for the simulator's own tests and for callers without an SDK ----

export interface SignRequestInput {
  method: string;
  /** Path with optional query, e.g. `/sandbox/v2/charges` */
  url: string;
  body?: string;
  headers?: Record<string, string>;
  publicKeyId: string;
  privateKeyPem: string;
  algorithm?: SignatureAlgorithm;
  host: string;
  region?: string;
  date?: Date;
  dateFormat?: 'basic' | 'extended';
}

export function formatAmzDate(date: Date, format: 'basic' | 'extended'): string {
  const iso = date.toISOString().split('.')[0] + 'Z';
  return format === 'extended' ? iso : iso.replace(/[-:]/g, '');
}

/** Returns every header to send, including `authorization`; all of them except authorization are signed. */
export function signRequest(input: SignRequestInput): Record<string, string> {
  const algorithm = input.algorithm ?? 'AMZN-PAY-RSASSA-PSS-V2';
  const headers: Record<string, string> = {
    accept: 'application/json',
    'content-type': 'application/json',
    'x-amz-pay-region': input.region ?? 'na',
    'x-amz-pay-host': input.host,
    'x-amz-pay-date': formatAmzDate(input.date ?? new Date(), input.dateFormat ?? 'basic'),
    ...Object.fromEntries(Object.entries(input.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
  };
  const signedHeaders = Object.keys(headers).sort().join(';');
  const [path = '/', rawQuery = ''] = input.url.split('?');
  const canonical = canonicalRequest({
    method: input.method,
    path,
    rawQuery,
    header: (name) => headers[name],
    signedHeaders,
    body: input.body ?? '',
  });
  const signature = rsaSign('sha256', Buffer.from(stringToSign(algorithm, canonical)), {
    key: createPrivateKey(input.privateKeyPem),
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: ALGORITHMS[algorithm].saltLength,
  }).toString('base64');
  return {
    ...headers,
    authorization: `${algorithm} PublicKeyId=${input.publicKeyId}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}

export function signButtonPayload(
  payloadJSON: string,
  privateKeyPem: string,
  algorithm: SignatureAlgorithm = 'AMZN-PAY-RSASSA-PSS-V2',
): string {
  return rsaSign('sha256', Buffer.from(buttonStringToSign(algorithm, payloadJSON)), {
    key: createPrivateKey(privateKeyPem),
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: ALGORITHMS[algorithm].saltLength,
  }).toString('base64');
}
