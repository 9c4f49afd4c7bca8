// Every HTTP answer the chaos run gets from our API, counted by kind and status, and the ones the
// reconciler must judge (5xx, refusals of valid requests, hostile input answered wrongly) kept
// with their route and a snippet of the body.

export type RequestKind = 'valid' | 'hostile';

export interface NotableAnswer {
  kind: RequestKind;
  method: string;
  route: string;
  /** 0: no answer (connection error or the client's timeout). */
  status: number;
  retryAfter: string | null;
  body: string;
  /** What the hostile case expected: '4xx' (refused) or 'not5xx' (a genuine replay may be accepted). */
  expect?: '4xx' | 'not5xx';
  what?: string;
  /** Hostile requests: the URL sent (truncated), to reproduce the case. */
  url?: string;
  at: string;
}

export class HttpLedger {
  /** `${kind} ${status}` -> count. */
  readonly counts: Record<string, number> = {};
  readonly notable: NotableAnswer[] = [];
  /** Valid requests retried by the storefront (5xx or no answer), and how many had Retry-After. */
  retries = 0;

  record(a: Omit<NotableAnswer, 'at'>, isNotable: boolean): void {
    const key = `${a.kind} ${a.status}`;
    this.counts[key] = (this.counts[key] ?? 0) + 1;
    if (isNotable && this.notable.length < 2000)
      this.notable.push({ ...a, body: a.body.slice(0, 300), at: new Date().toISOString() });
  }

  total(kind: RequestKind): number {
    return Object.entries(this.counts)
      .filter(([k]) => k.startsWith(`${kind} `))
      .reduce((s, [, n]) => s + n, 0);
  }
}

/** /v1/checkouts/abc/capture -> /v1/checkouts/{id}/capture, so the report groups by route. */
export function routeOf(path: string): string {
  const [p] = path.split('?');
  return p!
    .split('/')
    .map((seg, i, all) =>
      i >= 3 && ['checkouts', 'subscriptions', 'events', 'webhook-endpoints'].includes(all[i - 1] ?? '') ? '{id}' : seg,
    )
    .join('/');
}

export interface Answer {
  status: number;
  json: Record<string, unknown>;
  /** How many times the storefront sent it (more than 1: retried after a 5xx or no answer). */
  attempts: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A storefront's HTTP client: JSON in and out, the API key, the Idempotency-Key it is given, and
 * retries the way a shop's backend does: on 5xx and on no answer (timeout, connection reset),
 * with the SAME key, after Retry-After when the API sent one. 4xx answers are returned as they
 * are: the scenario decides whether it expected one.
 */
export class StorefrontClient {
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
    private readonly ledger: HttpLedger,
    private readonly opts: { requestTimeoutMs?: number; giveUpAfterMs?: number } = {},
  ) {}

  async send(method: string, path: string, body?: unknown, idempotencyKey?: string): Promise<Answer> {
    const giveUpAt = Date.now() + (this.opts.giveUpAfterMs ?? 6 * 60_000);
    for (let attempt = 1; ; attempt++) {
      let status = 0;
      let text = '';
      let retryAfter: string | null = null;
      try {
        const res = await fetch(`${this.baseUrl}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.apiKey}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 45_000),
        });
        status = res.status;
        retryAfter = res.headers.get('retry-after');
        text = await res.text();
      } catch (err) {
        text = (err as Error).message;
      }
      const documentedRetry = (status === 503 || status === 504) && retryAfter !== null;
      this.ledger.record(
        { kind: 'valid', method, route: routeOf(path), status, retryAfter, body: text },
        status >= 500 && !documentedRetry,
      );
      if (status >= 200 && status < 500) {
        let json: Record<string, unknown> = {};
        try {
          json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        } catch {
          json = { raw: text.slice(0, 200) };
        }
        return { status, json, attempts: attempt };
      }
      if (Date.now() > giveUpAt)
        throw new Error(
          `${method} ${path}: still ${status || 'no answer'} after ${attempt} attempts: ${text.slice(0, 200)}`,
        );
      this.ledger.retries++;
      const waitMs = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : Math.min(500 * attempt, 5000);
      await sleep(waitMs);
    }
  }
}

/** Retries a call to the simulator's buyer pages or admin API (not the system under test). */
export async function retrying<T>(what: string, fn: () => Promise<T>, attempts = 20): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw new Error(`${what}: ${(err as Error).message}`);
      await sleep(Math.min(250 * i, 3000));
    }
  }
}
