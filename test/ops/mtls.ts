// The Temporal CLI's dev server (v1.5.1) serves plain gRPC only: `temporal server start-dev` has no
// TLS flags. To prove mTLS end to end, a real TLS terminator (node:tls) stands in front of it and
// requires a client certificate signed by our CA, as a Temporal frontend with `requireClientAuth`
// does; the gRPC stream then passes through to the dev server unchanged.
import { connect as tcpConnect, type Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';

export interface Pem {
  cert: string;
  key: string;
}

export interface TestPki {
  ca: Pem;
  /** For the proxy: valid for `serverName`, signed by the CA. */
  server: Pem;
  /** Signed by the CA: accepted. */
  client: Pem;
  /** Self-signed: refused. */
  stranger: Pem;
  serverName: string;
}

export async function generateTestPki(serverName = 'temporal.test'): Promise<TestPki> {
  const ca = await generate([{ name: 'commonName', value: 'amazon-pay test CA' }], {
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const caPem = { cert: ca.cert, key: ca.private };
  const leaf = async (cn: string, usage: 'serverAuth' | 'clientAuth', signed: boolean) => {
    const pems = await generate([{ name: 'commonName', value: cn }], {
      algorithm: 'sha256',
      ...(signed ? { ca: caPem } : {}),
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', [usage]: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: cn }] },
      ],
    });
    return { cert: pems.cert, key: pems.private };
  };
  return {
    ca: caPem,
    server: await leaf(serverName, 'serverAuth', true),
    client: await leaf('amazon-pay-worker', 'clientAuth', true),
    stranger: await leaf('stranger', 'clientAuth', false),
    serverName,
  };
}

export interface MtlsProxy extends AsyncDisposable {
  address: string;
  /** Common names of the client certificates of accepted connections. */
  accepted: string[];
  /** Connections refused, with the reason (e.g. no client certificate, or one the CA did not sign). */
  refused: string[];
  /** Resolves with the first refusal (seen or to come) whose reason matches. */
  refusal(reason: RegExp): Promise<string>;
}

export async function startMtlsProxy(pki: TestPki, target: string): Promise<MtlsProxy> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const accepted: string[] = [];
  const refused: string[] = [];
  const waiting: Array<(reason: string) => boolean> = [];
  const sockets = new Set<Socket>();
  const server = createServer(
    {
      ...pki.server,
      ca: pki.ca.cert,
      requestCert: true,
      // Checked below rather than by the handshake, which reports only "socket hang up": the test
      // wants to see that a refusal is for the certificate. Nothing is forwarded before the check.
      rejectUnauthorized: false,
      ALPNProtocols: ['h2'],
    },
    (client: TLSSocket) => {
      if (!client.authorized) {
        refuse(String(client.authorizationError));
        client.destroy();
        return;
      }
      accepted.push(String(client.getPeerCertificate().subject.CN));
      const upstream = tcpConnect(port, host);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    },
  );
  const refuse = (reason: string) => {
    refused.push(reason);
    for (const [i, settle] of [...waiting.entries()].reverse()) if (settle(reason)) waiting.splice(i, 1);
  };
  server.on('tlsClientError', (err) => refuse(err.message));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  return {
    address: `127.0.0.1:${address.port}`,
    accepted,
    refused,
    refusal: (reason) =>
      new Promise((resolve) => {
        const seen = refused.find((r) => reason.test(r));
        if (seen !== undefined) return resolve(seen);
        waiting.push((r) => reason.test(r) && (resolve(r), true));
      }),
    [Symbol.asyncDispose]: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
