// A merchant's webhook receiver for tests: a real HTTP server that verifies every request with the
// `standardwebhooks` package's own verify, as the README tells merchants to, and records it.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { MerchantEvent } from '../../workflows/events/messages';

export interface Received {
  id: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Verified with the receiver's secret; null when verification failed. */
  event: MerchantEvent | null;
  error: string | null;
  answered: number;
}

export interface Receiver extends AsyncDisposable {
  url: string;
  secret: string;
  received: Received[];
  /** The verified events answered 2xx, in arrival order. */
  delivered(): MerchantEvent[];
  /** What the next requests are answered (default 204). */
  answer: (r: Received) => number | Promise<number>;
}

export const newSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

export async function startReceiver(secret = newSecret()): Promise<Receiver> {
  const received: Received[] = [];
  const receiver: Receiver = {
    url: '',
    secret,
    received,
    delivered: () => received.filter((r) => r.event && r.answered >= 200 && r.answered < 300).map((r) => r.event!),
    answer: () => 204,
    [Symbol.asyncDispose]: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const verifier = new Webhook(secret);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const r: Received = {
        id: String(req.headers['webhook-id']),
        headers: req.headers,
        body,
        event: null,
        error: null,
        answered: 0,
      };
      try {
        r.event = verifier.verify(body, req.headers as Record<string, string>) as MerchantEvent;
      } catch (err) {
        r.error = (err as Error).message;
      }
      received.push(r);
      void Promise.resolve(r.event ? receiver.answer(r) : 400).then((status) => {
        r.answered = status;
        res.writeHead(status).end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  receiver.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/webhooks`;
  return receiver;
}
