/**
 * Temporal's remote codec server protocol, so an operator can read encrypted payloads in the Web UI
 * and with `temporal workflow show --codec-endpoint ... --codec-auth "Bearer <token>"`:
 *
 *   POST <endpoint>/encode   {"payloads":[{"metadata":{"encoding":"<base64>"},"data":"<base64>"}]}
 *   POST <endpoint>/decode   same shape; answers {"payloads":[...]} in the same order
 *
 * Two endpoints, the same routes:
 *   /codec            the credential in `Authorization: Bearer <token>` (the CLI, scripts)
 *   /codec/<token>    the credential in the path, for the Web UI, whose codec setting is only a URL
 *                     (its "pass access token" option sends the UI's own OIDC login token, which
 *                     this server does not verify). Treat that URL as a secret.
 *
 * CORS answers the configured Web UI origins only (preflight included: the UI sends Content-Type,
 * X-Namespace and, with "pass access token", Authorization). Without a valid credential: 401.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { z } from 'zod';
import type { Payload, PayloadCodec } from '@temporalio/common';

export const CODEC_PATH = '/codec';
export const DEFAULT_CODEC_BODY_LIMIT_BYTES = 4 * 1024 * 1024;
/** More payloads than any one history event carries; bounds the work of one request. */
export const MAX_PAYLOADS_PER_REQUEST = 1000;

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Operator credentials; with none, every request is refused. */
  tokens: readonly string[];
  /** Web UI origins allowed by CORS, e.g. http://127.0.0.1:8233. */
  allowedOrigins: readonly string[];
  bodyLimitBytes?: number;
}

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const payloadJson = z.object({
  metadata: z.record(z.string().max(256), base64).optional(),
  data: base64.optional(),
});
const bodySchema = z.object({ payloads: z.array(payloadJson).max(MAX_PAYLOADS_PER_REQUEST) });
type PayloadJson = z.infer<typeof payloadJson>;

const error = (code: string, message: string) => ({ error: { code, message } });
const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

function fromJson(p: PayloadJson): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toJson(p: Payload): PayloadJson {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

export function createCodecRoutes(options: CodecServerOptions): Hono {
  const tokenDigests = options.tokens.filter((t) => t.length > 0).map(digest);
  const origins = [...options.allowedOrigins];
  const limit = options.bodyLimitBytes ?? DEFAULT_CODEC_BODY_LIMIT_BYTES;
  const valid = (token: string | undefined): boolean => {
    if (!token) return false;
    const candidate = digest(token);
    let match = false;
    for (const d of tokenDigests) match = timingSafeEqual(candidate, d) || match;
    return match;
  };
  const bearer = (c: Context): string | undefined =>
    /^Bearer[ ]+(\S+)[ ]*$/i.exec(c.req.header('authorization') ?? '')?.[1];

  const app = new Hono();
  app.use(
    `${CODEC_PATH}/*`,
    cors({
      origin: (origin) => (origins.includes(origin) ? origin : null),
      allowMethods: ['POST', 'OPTIONS'],
      allowHeaders: ['Content-Type', 'Authorization', 'X-Namespace'],
      maxAge: 600,
    }),
  );

  const handle = (operation: 'encode' | 'decode', credential: (c: Context) => string | undefined) =>
    [
      async (c: Context, next: () => Promise<void>) => {
        if (!valid(credential(c))) {
          c.header('WWW-Authenticate', 'Bearer');
          return c.json(
            error('unauthorized', 'an operator credential is required: Authorization: Bearer <CODEC_SERVER_TOKEN>'),
            401,
          );
        }
        await next();
      },
      bodyLimit({
        maxSize: limit,
        onError: (c) => c.json(error('payload_too_large', `the request body exceeds ${limit} bytes`), 413),
      }),
      async (c: Context) => {
        let raw: unknown;
        try {
          raw = await c.req.json();
        } catch {
          return c.json(
            error('bad_request', 'the body must be JSON: {"payloads":[{"metadata":{...},"data":"<base64>"}]}'),
            400,
          );
        }
        const parsed = bodySchema.safeParse(raw);
        if (!parsed.success) {
          return c.json(
            error(
              'bad_request',
              parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
            ),
            400,
          );
        }
        const payloads = parsed.data.payloads.map(fromJson);
        try {
          const result =
            operation === 'encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
          return c.json({ payloads: result.map(toJson) });
        } catch (err) {
          return c.json(error('codec_error', (err as Error).message), 400);
        }
      },
    ] as const;

  for (const operation of ['encode', 'decode'] as const) {
    app.post(`${CODEC_PATH}/${operation}`, ...handle(operation, bearer));
    app.post(`${CODEC_PATH}/:token/${operation}`, ...handle(operation, (c) => c.req.param('token') ?? bearer(c)));
  }
  return app;
}
