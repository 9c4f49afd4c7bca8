import { constants, createHash, sign, verify, type KeyObject } from 'node:crypto';

export type SigningAlgorithm = 'AMZN-PAY-RSASSA-PSS-V2' | 'AMZN-PAY-RSASSA-PSS';

export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['AMZN-PAY-RSASSA-PSS-V2', 'AMZN-PAY-RSASSA-PSS'];

/** RSASSA-PSS salt length per algorithm; both use SHA-256 and MGF1-SHA-256. */
export const SALT_LENGTH: Readonly<Record<SigningAlgorithm, number>> = {
  'AMZN-PAY-RSASSA-PSS-V2': 32,
  'AMZN-PAY-RSASSA-PSS': 20,
};

export type QueryParams = Record<string, string | readonly string[]>;

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `x-amz-pay-date` in ISO-8601 basic format, `YYYYMMDDThhmmssZ`, as the docs, PHP and .NET send it. */
export function amzDate(at: Date = new Date()): string {
  return at
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/** RFC 3986 encoding: everything but A-Z a-z 0-9 - . _ ~ is percent-encoded (upper-case hex, UTF-8). */
export function rfc3986Encode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Canonical URI as the Java SDK computes it (its test vectors are the reference): take the path of the
 * URI reference, collapse repeated slashes, decode then RFC 3986-encode each segment, "/" when empty.
 * A reference starting with "//" is a network-path reference whose first segment is an authority, which
 * is why the vector `//foo//` canonicalises to `/`.
 */
export function canonicalUri(uriReference: string): string {
  let path = uriReference.replace(/[?#].*$/s, '');
  if (path.startsWith('//')) path = path.replace(/^\/\/[^/]*/, '');
  path = path.replace(/\/+/g, '/');
  if (path === '') return '/';
  const encoded = path
    .split('/')
    .map((segment) => rfc3986Encode(safeDecode(segment)))
    .join('/');
  return encoded.startsWith('/') ? encoded : `/${encoded}`;
}

/** Parameters sorted by encoded name, each name's encoded values sorted too, joined as `name=value&…`. */
export function canonicalQueryString(params: QueryParams = {}): string {
  const pairs: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(params)) {
    const values = typeof value === 'string' ? [value] : value;
    for (const v of values) pairs.push([rfc3986Encode(name), rfc3986Encode(v)]);
  }
  pairs.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([n, v]) => `${n}=${v}`).join('&');
}

function canonicalHeaderValue(value: string): string {
  return value.trim().replace(/\s+/g, ' ');
}

export interface CanonicalRequestInput {
  method: string;
  /** Path of the request as sent, e.g. `/sandbox/v2/charges`. */
  path: string;
  /** Already canonical query string (see canonicalQueryString); empty when there is none. */
  canonicalQuery?: string;
  /** Exactly the headers to sign; names are lower-cased here. */
  headers: Readonly<Record<string, string>>;
  /** hex(sha256(body)); the body of a GET is the empty string. */
  payloadHash: string;
}

export interface CanonicalRequest {
  canonicalRequest: string;
  signedHeaders: string;
}

/** §6.3: METHOD, URI, query, one `name:value` line per signed header, a blank line, SignedHeaders, payload hash. */
export function buildCanonicalRequest(input: CanonicalRequestInput): CanonicalRequest {
  const headers = Object.entries(input.headers)
    .map(([name, value]) => [name.toLowerCase().trim(), value] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return assembleCanonicalRequest(input.method, input.path, input.canonicalQuery ?? '', headers, input.payloadHash);
}

function assembleCanonicalRequest(
  method: string,
  path: string,
  canonicalQuery: string,
  orderedHeaders: ReadonlyArray<readonly [string, string]>,
  payloadHash: string,
): CanonicalRequest {
  const signedHeaders = orderedHeaders.map(([name]) => name).join(';');
  const canonicalHeaders = orderedHeaders.map(([name, value]) => `${name}:${canonicalHeaderValue(value)}\n`).join('');
  const canonicalRequest = [
    method.toUpperCase(),
    canonicalUri(path),
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join('\n');
  return { canonicalRequest, signedHeaders };
}

export function buildStringToSign(algorithm: SigningAlgorithm, canonicalRequest: string): string {
  return `${algorithm}\n${sha256Hex(canonicalRequest)}`;
}

/** base64(RSASSA-PSS(SHA-256, MGF1-SHA-256, salt per algorithm)) of the UTF-8 string. */
export function signString(algorithm: SigningAlgorithm, privateKey: KeyObject, stringToSign: string): string {
  return sign('sha256', Buffer.from(stringToSign, 'utf8'), {
    key: privateKey,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: SALT_LENGTH[algorithm],
  }).toString('base64');
}

export function authorizationHeader(
  algorithm: SigningAlgorithm,
  publicKeyId: string,
  signedHeaders: string,
  signature: string,
): string {
  return `${algorithm} PublicKeyId=${publicKeyId}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}

export interface SignRequestInput {
  algorithm: SigningAlgorithm;
  publicKeyId: string;
  privateKey: KeyObject;
  method: string;
  path: string;
  query?: QueryParams;
  /** Every header to sign (and send). `authorization` must not be among them. */
  headers: Readonly<Record<string, string>>;
  body: string;
}

export interface SignedRequest {
  authorization: string;
  signedHeaders: string;
  canonicalRequest: string;
  stringToSign: string;
}

export function signRequest(input: SignRequestInput): SignedRequest {
  const { canonicalRequest, signedHeaders } = buildCanonicalRequest({
    method: input.method,
    path: input.path,
    canonicalQuery: canonicalQueryString(input.query),
    headers: input.headers,
    payloadHash: sha256Hex(input.body),
  });
  const stringToSign = buildStringToSign(input.algorithm, canonicalRequest);
  const signature = signString(input.algorithm, input.privateKey, stringToSign);
  return {
    authorization: authorizationHeader(input.algorithm, input.publicKeyId, signedHeaders, signature),
    signedHeaders,
    canonicalRequest,
    stringToSign,
  };
}

/** §6.7: the button signature covers `alg + "\n" + hex(sha256(payloadJSON))`, byte for byte the string the page sends. */
export function buttonSignature(algorithm: SigningAlgorithm, privateKey: KeyObject, payloadJSON: string): string {
  return signString(algorithm, privateKey, `${algorithm}\n${sha256Hex(payloadJSON)}`);
}

export interface ReceivedRequest {
  method: string;
  /** Raw request path, without the query. */
  path: string;
  /** Raw query string without `?`; its pairs are sorted but not re-encoded. */
  rawQuery?: string;
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  body: string;
}

export type SignatureVerification =
  | { valid: true; algorithm: SigningAlgorithm; publicKeyId: string; signedHeaders: string[] }
  | { valid: false; reason: string };

const AUTHORIZATION = /^(\S+) PublicKeyId=([^,]+), SignedHeaders=([^,]+), Signature=(.+)$/;

/**
 * The §6.6 recipe: trust only the SignedHeaders list as sent, rebuild the canonical request from the request
 * as received, verify RSASSA-PSS with the algorithm's salt (or `saltLength` when given, e.g. to prove the
 * wrong salt fails). Independent of how the signer chose its headers, so it checks the official SDK too.
 */
export function verifySignature(
  request: ReceivedRequest,
  publicKey: KeyObject | ((publicKeyId: string) => KeyObject | undefined),
  options: { saltLength?: number } = {},
): SignatureVerification {
  const header = (name: string): string | undefined => {
    const entry = Object.entries(request.headers).find(([k]) => k.toLowerCase() === name);
    const value = entry?.[1];
    return Array.isArray(value) ? value.join(',') : (value as string | undefined);
  };
  const match = AUTHORIZATION.exec(header('authorization') ?? '');
  if (!match) return { valid: false, reason: 'missing or malformed authorization header' };
  const [, algorithm, publicKeyId, signedHeaderList, signature] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(algorithm))
    return { valid: false, reason: `unknown algorithm ${algorithm}` };
  const alg = algorithm as SigningAlgorithm;
  const key = typeof publicKey === 'function' ? publicKey(publicKeyId) : publicKey;
  if (!key) return { valid: false, reason: `unknown PublicKeyId ${publicKeyId}` };

  // Kept in the order sent: a signer that sorted differently (the Node SDK uses localeCompare) still verifies.
  const names = signedHeaderList.split(';').map((n) => n.toLowerCase());
  const signed: Array<readonly [string, string]> = [];
  for (const name of names) {
    const value = header(name);
    if (value === undefined) return { valid: false, reason: `signed header ${name} is missing` };
    signed.push([name, value]);
  }
  const canonicalQuery = (request.rawQuery ?? '')
    .split('&')
    .filter((p) => p.length > 0)
    .sort()
    .join('&');
  const { canonicalRequest } = assembleCanonicalRequest(
    request.method,
    request.path,
    canonicalQuery,
    signed,
    sha256Hex(request.body),
  );
  const ok = verify(
    'sha256',
    Buffer.from(buildStringToSign(alg, canonicalRequest), 'utf8'),
    {
      key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: options.saltLength ?? SALT_LENGTH[alg],
    },
    Buffer.from(signature, 'base64'),
  );
  return ok
    ? { valid: true, algorithm: alg, publicKeyId, signedHeaders: names }
    : { valid: false, reason: 'signature does not verify' };
}
