// R5 and R6: hostile input. R5 generates requests for every operation of the OpenAPI document the
// API serves (/openapi.json) with fast-check, each broken in at least one way the edge must refuse
// before anything reaches Temporal (a path or query parameter off its pattern, a body of the wrong
// type or shape, malformed or oversized JSON, the wrong content type), plus hostile IPN bodies and
// replays of genuine, signed IPNs. R6 sends requests without or with a wrong API key or
// Idempotency-Key, IPNs with forged signatures and certificate URLs on foreign hosts. Every
// answer must be 4xx (a genuine IPN replayed is accepted as a duplicate: never 5xx).
import fc from 'fast-check';
import {
  createSigningIdentity,
  buildSignedNotification,
  snsHeaders,
  topicArnFor,
  type SigningIdentity,
} from '../simulator/ipn/sign';
import { DEFAULT_MERCHANT_ID } from '../simulator';
import { HttpLedger, routeOf } from './http';
import type { ChaosStack } from './processes';

interface Operation {
  method: string;
  path: string;
  params: Array<{ in: string; name: string; schema: Record<string, unknown>; required?: boolean }>;
  bodySchema: Record<string, unknown> | undefined;
  authenticated: boolean;
}

type Doc = {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: Operation['params'];
        requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
        security?: unknown[];
      }
    >
  >;
  components?: { schemas?: Record<string, Record<string, unknown>> };
};

export function operationsOf(doc: Doc): Operation[] {
  const resolve = (s: Record<string, unknown> | undefined) => {
    const ref = s?.$ref;
    return typeof ref === 'string' ? doc.components?.schemas?.[ref.split('/').at(-1)!] : s;
  };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      params: op.parameters ?? [],
      bodySchema: resolve(op.requestBody?.content['application/json']?.schema),
      authenticated: (op.security?.length ?? 0) > 0,
    })),
  );
}

export interface HostileRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  what: string;
}

/** A value of another JSON type than the schema's, so a strict validator must refuse it. */
const wrongTyped = (schema: Record<string, unknown> | undefined): fc.Arbitrary<unknown> => {
  const t = schema?.type;
  const pool: fc.Arbitrary<unknown>[] = [fc.constant(null)];
  if (t !== 'string') pool.push(fc.string({ maxLength: 20 }));
  if (t !== 'number' && t !== 'integer') pool.push(fc.integer(), fc.double({ noNaN: true }));
  if (t !== 'boolean') pool.push(fc.boolean());
  if (t !== 'object')
    pool.push(fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }));
  if (t !== 'array') pool.push(fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }));
  return fc.oneof(...pool);
};

/** A string off every path/query pattern here: they all start with a letter, digit or literal. */
const offPattern = fc.oneof(
  fc.string({ maxLength: 30 }).map((s) => `~${s}`),
  fc.constant('x'.repeat(300)),
  fc.constantFrom('', ' ', '..', '%00', 'é', '<script>', "' OR 1=1 --", '__proto__x!'),
);

/** A value the parameter's schema refuses: off its pattern, too long, not a date, not an integer in range. */
function offSchema(schema: Record<string, unknown>): fc.Arbitrary<string> {
  const arbs: fc.Arbitrary<string>[] = [];
  if (typeof schema.pattern === 'string') arbs.push(offPattern.filter((s) => s !== ''));
  if (typeof schema.maxLength === 'number') arbs.push(fc.constant('x'.repeat(schema.maxLength + 1)));
  if (schema.format === 'date-time') arbs.push(fc.constantFrom('yesterday', '2026-13-45T99:00:00Z', '1e9'));
  if (schema.type === 'integer') arbs.push(fc.constantFrom('abc', '1.5', '-1', '0', '100000', '0x10'));
  if (Array.isArray(schema.enum))
    arbs.push(fc.string({ maxLength: 10 }).filter((s) => !(schema.enum as unknown[]).includes(s)));
  return arbs.length > 0 ? fc.oneof(...arbs) : fc.constant('x'.repeat(5000));
}

/** A body the route must refuse: wrong type, wrong field types, unknown fields, malformed or oversized. */
function hostileBody(
  schema: Record<string, unknown> | undefined,
  bodyLimit: number,
): fc.Arbitrary<{ body: string; contentType: string; what: string }> {
  const props = (schema?.properties ?? {}) as Record<string, Record<string, unknown>>;
  const names = Object.keys(props);
  const json = (what: string) => (v: unknown) => ({ body: JSON.stringify(v), contentType: 'application/json', what });
  const arbs: fc.Arbitrary<{ body: string; contentType: string; what: string }>[] = [
    fc
      .string({ maxLength: 40 })
      .map((s) => ({ body: `{"${s.replace(/"/g, '')}": `, contentType: 'application/json', what: 'malformed JSON' })),
    fc
      .oneof(
        fc.integer(),
        fc.string({ maxLength: 20 }).filter((s) => s !== ''),
        fc.boolean(),
        fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
      )
      .map(json('body of the wrong JSON type')),
    fc
      .dictionary(
        fc.string({ minLength: 1, maxLength: 12 }).map((k) => `zz${k}`),
        fc.jsonValue({ maxDepth: 2 }),
        { minKeys: 1, maxKeys: 4 },
      )
      .map(json('unknown fields')),
    fc.constant({
      body: JSON.stringify({ pad: 'x'.repeat(bodyLimit + 1024) }),
      contentType: 'application/json',
      what: 'oversized body',
    }),
    fc
      .jsonValue({ maxDepth: 2 })
      .map((v) => ({ body: JSON.stringify(v), contentType: 'text/plain', what: 'wrong content type' })),
  ];
  if (names.length > 0) {
    arbs.push(
      fc
        .constantFrom(...names)
        .chain((name) => wrongTyped(props[name]).map((v) => ({ name, v })))
        // The unknown field keeps it invalid even where the wrong-typed field was optional and null-able.
        .map(({ name, v }) => ({
          body: JSON.stringify({ [name]: v, zzUnknown: 1 }),
          contentType: 'application/json',
          what: `${name} of the wrong type`,
        })),
    );
  }
  return fc.oneof(...arbs);
}

export function hostileApiRequest(
  op: Operation,
  ctx: { apiUrl: string; apiKey: string; bodyLimit: number },
): fc.Arbitrary<HostileRequest> {
  const pathParams = op.params.filter((p) => p.in === 'path');
  const query = op.params.filter((p) => p.in === 'query');
  const queryArb = query.length
    ? fc.constantFrom(...query).chain((q) => offSchema(q.schema).map((v) => ({ name: q.name, v })))
    : fc.constant(undefined);
  const idemHeader = op.params.some((p) => p.in === 'header' && p.name === 'idempotency-key');
  return fc
    .record({
      pathValues: fc.tuple(...pathParams.map(() => offPattern)),
      queryParam: queryArb,
      body: hostileBody(op.bodySchema, ctx.bodyLimit),
      key: fc.oneof(fc.constant(undefined), fc.stringMatching(/^[A-Za-z0-9_:.-]{1,40}$/)),
    })
    .map(({ pathValues, queryParam, body, key }) => {
      let path = op.path;
      pathParams.forEach((p, i) => (path = path.replace(`{${p.name}}`, encodeURIComponent(pathValues[i] ?? '~'))));
      // Without path parameters, a query parameter is the broken part (or the body, for POSTs).
      const qs =
        queryParam && (pathParams.length === 0 || op.method === 'GET')
          ? `?${queryParam.name}=${encodeURIComponent(queryParam.v)}`
          : '';
      const headers: Record<string, string> = {
        ...(op.authenticated ? { authorization: `Bearer ${ctx.apiKey}` } : {}),
      };
      if (idemHeader && key) headers['idempotency-key'] = key;
      const withBody = op.method !== 'GET';
      if (withBody) headers['content-type'] = body.contentType;
      return {
        method: op.method,
        url: `${ctx.apiUrl}${path}${qs}`,
        headers,
        ...(withBody ? { body: body.body } : {}),
        what: `${op.method} ${op.path}: ${pathParams.length ? 'parameter off pattern' : qs ? 'query off pattern' : ''}${withBody ? `, ${body.what}` : ''}`,
      };
    });
}

const ipnBody = (bodyLimit: number) =>
  fc.oneof(
    fc.string({ maxLength: 60 }).map((s) => ({ body: `{${s}`, contentType: 'text/plain', what: 'malformed IPN' })),
    fc
      .jsonValue({ maxDepth: 3 })
      .map((v) => ({ body: JSON.stringify(v), contentType: 'text/plain', what: 'IPN of arbitrary JSON' })),
    fc
      .record({
        Type: fc.constantFrom('Notification', 'SubscriptionConfirmation', 'Bogus'),
        MessageId: fc.oneof(fc.string(), fc.integer()),
        Message: fc.oneof(fc.string(), fc.object()),
        Timestamp: fc.oneof(
          fc.string(),
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        ),
        SignatureVersion: fc.constantFrom('1', '2', '3', 1),
        Signature: fc.string(),
        SigningCertURL: fc.webUrl(),
      })
      .map((v) => ({ body: JSON.stringify(v), contentType: 'text/plain', what: 'SNS envelope with wrong fields' })),
    fc.constant({ body: 'x'.repeat(bodyLimit + 1024), contentType: 'text/plain', what: 'oversized IPN' }),
    fc.constant({ body: '{}', contentType: 'application/xml', what: 'IPN with the wrong content type' }),
  );

export interface HostileDeps {
  stack: ChaosStack;
  ledger: HttpLedger;
  random: () => number;
  /** Ids of checkouts the load created (R6 aims its keyless money requests at real ones). */
  checkoutIds: () => string[];
  bodyLimit?: number;
}

export class Hostile {
  private ops: Operation[] | undefined;
  private identity: Promise<SigningIdentity> | undefined;
  private readonly sent: HostileRequest[] = [];

  constructor(private readonly deps: HostileDeps) {}

  private async send(r: HostileRequest, expect: '4xx' | 'not5xx'): Promise<boolean> {
    let status = 0;
    let text = '';
    let retryAfter: string | null = null;
    try {
      const res = await fetch(r.url, {
        method: r.method,
        headers: r.headers,
        ...(r.body === undefined ? {} : { body: r.body }),
        signal: AbortSignal.timeout(30_000),
      });
      status = res.status;
      retryAfter = res.headers.get('retry-after');
      text = await res.text();
    } catch (err) {
      text = (err as Error).message;
    }
    const ok = expect === '4xx' ? status >= 400 && status < 500 : status > 0 && status < 500;
    const route = r.url.includes('/amazon-pay/ipn') ? 'IPN' : routeOf(new URL(r.url).pathname);
    this.deps.ledger.record(
      {
        kind: 'hostile',
        method: r.method,
        route,
        status,
        retryAfter,
        body: text,
        expect,
        what: r.what,
        url: r.url.slice(0, 200),
      },
      !ok,
    );
    if (this.sent.length < 200) this.sent.push(r);
    return ok;
  }

  /** R5: `runs` generated requests across every route, hostile IPNs, and replays. */
  async r5(runs = 120): Promise<string> {
    const { stack } = this.deps;
    const bodyLimit = this.deps.bodyLimit ?? 64 * 1024;
    this.ops ??= operationsOf((await (await fetch(`${stack.apiUrl}/openapi.json`)).json()) as Doc);
    const seed = Math.floor(this.deps.random() * 2 ** 31);
    const requests = fc.sample(
      fc.oneof(
        ...this.ops.map((op) => hostileApiRequest(op, { apiUrl: stack.apiUrl, apiKey: stack.apiKey, bodyLimit })),
      ),
      { numRuns: runs, seed },
    );
    const ipns = fc.sample(ipnBody(bodyLimit), { numRuns: Math.ceil(runs / 4), seed: seed + 1 });
    let refused = 0;
    for (const r of requests) if (await this.send(r, '4xx')) refused++;
    for (const b of ipns)
      if (
        await this.send(
          { method: 'POST', url: stack.ipnUrl, headers: { 'content-type': b.contentType }, body: b.body, what: b.what },
          '4xx',
        )
      )
        refused++;
    // Replays: the same hostile requests again, and genuine IPNs again (a duplicate, never a 5xx).
    const replays = this.sent.slice(0, 10);
    for (const r of replays) if (await this.send({ ...r, what: `replay of ${r.what}` }, '4xx')) refused++;
    const genuine = stack.ipn.recent.slice(-5);
    for (const g of genuine)
      await this.send(
        { method: 'POST', url: stack.ipnUrl, headers: g.headers, body: g.body, what: 'replay of a genuine IPN' },
        'not5xx',
      );
    const total = requests.length + ipns.length + replays.length;
    return `${total} hostile requests over ${this.ops.length} operations + IPN (${refused} refused with 4xx), ${genuine.length} genuine IPNs replayed`;
  }

  /** R6: keys and signatures. */
  async r6(): Promise<string> {
    const { stack } = this.deps;
    const ids = this.deps.checkoutIds();
    const id = ids[Math.floor(this.deps.random() * ids.length)] ?? 'bd504926-f659-4ad7-a1a9-9a747aaf5275';
    const json = { 'content-type': 'application/json' };
    const auth = { authorization: `Bearer ${stack.apiKey}` };
    const cases: Array<HostileRequest> = [
      { method: 'GET', url: `${stack.apiUrl}/v1/checkouts/${id}`, headers: {}, what: 'no API key' },
      {
        method: 'GET',
        url: `${stack.apiUrl}/v1/checkouts/${id}`,
        headers: { authorization: `Bearer ${stack.apiKey}x` },
        what: 'wrong API key',
      },
      {
        method: 'GET',
        url: `${stack.apiUrl}/v1/checkouts/${id}`,
        headers: { authorization: stack.apiKey },
        what: 'API key without Bearer',
      },
      {
        method: 'POST',
        url: `${stack.apiUrl}/v1/checkouts/${id}/capture`,
        headers: { ...json, authorization: 'Bearer sk_live_guess' },
        body: '{}',
        what: 'capture with a wrong API key',
      },
      {
        method: 'POST',
        url: `${stack.apiUrl}/v1/checkouts/${id}/capture`,
        headers: { ...json, ...auth },
        body: '{}',
        what: 'capture without Idempotency-Key',
      },
      {
        method: 'POST',
        url: `${stack.apiUrl}/v1/checkouts/${id}/refunds`,
        headers: { ...json, ...auth },
        body: JSON.stringify({ amount: { amount: '1.00', currencyCode: 'USD' } }),
        what: 'refund without Idempotency-Key',
      },
      {
        method: 'POST',
        url: `${stack.apiUrl}/v1/checkouts/${id}/charge`,
        headers: { ...json, ...auth },
        body: '{}',
        what: 'charge without Idempotency-Key',
      },
      {
        method: 'POST',
        url: `${stack.apiUrl}/v1/checkouts/${id}/capture`,
        headers: { ...json, ...auth, 'idempotency-key': 'not a valid key!' },
        body: '{}',
        what: 'capture with a malformed Idempotency-Key',
      },
      {
        method: 'POST',
        url: `${stack.apiUrl}/v1/checkouts/${id}/refunds`,
        headers: { ...json, ...auth, 'idempotency-key': 'k'.repeat(300) },
        body: JSON.stringify({ amount: { amount: '1.00', currencyCode: 'USD' } }),
        what: 'refund with an oversized Idempotency-Key',
      },
      {
        method: 'POST',
        url: `${stack.apiUrl}/v1/checkout-sessions`,
        headers: { ...json, ...auth },
        body: '{}',
        what: 'session without Idempotency-Key',
      },
    ];
    let refused = 0;
    for (const c of cases) if (await this.send(c, '4xx')) refused++;
    const ipns = await this.forgedIpns();
    for (const c of ipns) if (await this.send(c, '4xx')) refused++;
    return `${cases.length} requests without/with wrong API key or Idempotency-Key (on checkout ${id}), ${ipns.length} forged IPNs: ${refused}/${cases.length + ipns.length} refused with 4xx`;
  }

  private async forgedIpns(): Promise<HostileRequest[]> {
    const { stack } = this.deps;
    this.identity ??= createSigningIdentity();
    const ours = await this.identity;
    const message = {
      MerchantID: DEFAULT_MERCHANT_ID,
      ObjectType: 'CHARGE' as const,
      ObjectId: 'S01-0000000-0000000-C000000',
      ChargePermissionId: 'S01-0000000-0000000',
      NotificationType: 'STATE_CHANGE' as const,
      NotificationId: `forged-${Date.now()}`,
      NotificationVersion: 'V2' as const,
    };
    const signedBy = (signingCertUrl: string, what: string): HostileRequest => {
      const envelope = buildSignedNotification(
        { message, topicArn: topicArnFor(DEFAULT_MERCHANT_ID), signingCertUrl, timestamp: new Date() },
        ours.privateKeyPem,
      );
      return { method: 'POST', url: stack.ipnUrl, headers: snsHeaders(envelope), body: JSON.stringify(envelope), what };
    };
    const out = [
      // Our own key, a certificate the (trusted) simulator host does not publish: 404 there.
      signedBy(
        `${stack.simulatorUrl}/sns/SimpleNotificationService-${'0'.repeat(32)}.pem`,
        'IPN signed with a foreign key, certificate not published',
      ),
      signedBy(
        `https://sns.evil.example/SimpleNotificationService-${'1'.repeat(32)}.pem`,
        'IPN with a certificate URL on a foreign host',
      ),
      signedBy(
        `https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-${'2'.repeat(32)}.pem`,
        'IPN with a look-alike certificate host',
      ),
      signedBy(
        `https://user:pw@127.0.0.1/SimpleNotificationService-${'3'.repeat(32)}.pem`,
        'IPN with credentials in the certificate URL',
      ),
    ];
    // A genuine IPN with its message changed after signing: the real certificate must refuse it.
    const genuine = stack.ipn.recent.at(-1);
    if (genuine) {
      const envelope = JSON.parse(genuine.body) as Record<string, string>;
      const tampered = {
        ...envelope,
        Message:
          envelope.Message!.replace(/"ObjectId"\s*:\s*"[^"]*"/, '"ObjectId":"S01-9999999-9999999-C999999"') + ' ',
      };
      out.push({
        method: 'POST',
        url: stack.ipnUrl,
        headers: genuine.headers,
        body: JSON.stringify(tampered),
        what: 'genuine IPN with its message tampered',
      });
    }
    return out;
  }
}
