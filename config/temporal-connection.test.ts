import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from './errors';
import { temporalConnection } from './temporal-connection';

const dir = mkdtempSync(join(tmpdir(), 'temporal-connection-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
let certPath: string;
let keyPath: string;

beforeAll(async () => {
  const pems = await generate([{ name: 'commonName', value: 'amazon-pay-worker' }], { algorithm: 'sha256' });
  certPath = file('client.pem', pems.cert);
  keyPath = file('client.key', pems.private);
});

const configFile = file(
  'temporal.toml',
  `
[profile.default]
address = "127.0.0.1:7233"

[profile.cloud]
address = "payments.a1b2c.tmprl.cloud:7233"
namespace = "payments.a1b2c"
api_key = "cloud-api-key"

[profile.cloud.grpc_meta]
x-team = "checkout"
`,
);

function problemsOf(read: () => unknown): string[] {
  try {
    read();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('no ConfigError');
}

describe('temporalConnection (@temporalio/envconfig, as the temporal CLI reads it)', () => {
  it('takes address, namespace and API key from a TOML profile; an API key implies TLS', () => {
    const t = temporalConnection({ TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'cloud' });
    expect(t.options).toEqual({
      address: 'payments.a1b2c.tmprl.cloud:7233',
      apiKey: 'cloud-api-key',
      tls: true,
      metadata: { 'x-team': 'checkout' },
    });
    expect(t.namespace).toBe('payments.a1b2c');
    expect(t.addressConfigured).toBe(true);
    expect(t.source).toBe(`profile "cloud" of ${configFile}`);
  });

  it('uses the profile named "default" when TEMPORAL_PROFILE is unset', () => {
    const t = temporalConnection({ TEMPORAL_CONFIG_FILE: configFile });
    expect(t.options).toEqual({ address: '127.0.0.1:7233' });
    expect(t.namespace).toBe('default');
  });

  it("falls back to the CLI's defaults with no file and no variable (npm start then runs its own server)", () => {
    // No HOME: not even the default ~/.config/temporalio/temporal.toml is looked at.
    const t = temporalConnection({ TEMPORAL_ADDRESS: '', TEMPORAL_NAMESPACE: '' });
    expect(t).toEqual({
      options: { address: 'localhost:7233' },
      namespace: 'default',
      addressConfigured: false,
      source: 'defaults',
    });
  });

  it('reads the default config file under $XDG_CONFIG_HOME/temporalio, as the CLI does', () => {
    const home = mkdtempSync(join(tmpdir(), 'temporal-home-'));
    const config = join(home, 'temporalio');
    mkdirSync(config);
    writeFileSync(join(config, 'temporal.toml'), '[profile.default]\naddress = "temporal.internal:7233"\n');
    const t = temporalConnection({ XDG_CONFIG_HOME: home });
    expect(t.options.address).toBe('temporal.internal:7233');
    expect(t.addressConfigured).toBe(true);
  });

  it('gives a profile with client certificate and key paths the client cert pair, the server CA and name', () => {
    const mtls = file(
      'mtls.toml',
      `
[profile.mtls]
address = "temporal.internal:7233"
namespace = "payments"

[profile.mtls.tls]
client_cert_path = "${certPath}"
client_key_path = "${keyPath}"
server_ca_cert_path = "${certPath}"
server_name = "temporal.internal"
`,
    );
    const t = temporalConnection({ TEMPORAL_CONFIG_FILE: mtls, TEMPORAL_PROFILE: 'mtls' });
    expect(t.namespace).toBe('payments');
    const tls = t.options.tls;
    if (typeof tls !== 'object') throw new Error(`no TLS config: ${String(tls)}`);
    expect(Buffer.from(tls.clientCertPair!.crt).toString()).toBe(readFileSync(certPath, 'utf8'));
    expect(Buffer.from(tls.clientCertPair!.key).toString()).toBe(readFileSync(keyPath, 'utf8'));
    expect(Buffer.from(tls.serverRootCACertificate!).toString()).toContain('BEGIN CERTIFICATE');
    expect(tls.serverNameOverride).toBe('temporal.internal');
    expect(t.options.apiKey).toBeUndefined();
  });

  it('takes mTLS from TEMPORAL_TLS_* variables alone', () => {
    const t = temporalConnection({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_TLS_CLIENT_CERT_PATH: certPath,
      TEMPORAL_TLS_CLIENT_KEY_PATH: keyPath,
    });
    expect(t.source).toBe('TEMPORAL_* variables');
    expect(t.options.tls).toMatchObject({
      clientCertPair: { crt: expect.any(Uint8Array), key: expect.any(Uint8Array) },
    });
  });

  it('lets the TEMPORAL_* variables override the profile, as the CLI does', () => {
    const t = temporalConnection({
      TEMPORAL_CONFIG_FILE: configFile,
      TEMPORAL_PROFILE: 'cloud',
      TEMPORAL_ADDRESS: 'other.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'staging',
      TEMPORAL_API_KEY: 'env-api-key',
      TEMPORAL_GRPC_META_X_TEAM: '',
      TEMPORAL_GRPC_META_X_REGION: 'eu',
    });
    expect(t.options).toEqual({
      address: 'other.tmprl.cloud:7233',
      apiKey: 'env-api-key',
      tls: true,
      metadata: { 'x-region': 'eu' },
    });
    expect(t.namespace).toBe('staging');
    // TEMPORAL_TLS=false turns TLS off even where an API key would imply it (the CLI's --tls=false).
    expect(
      temporalConnection({ TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'cloud', TEMPORAL_TLS: 'false' }).options
        .tls,
    ).toBe(false);
  });

  it('names a missing certificate file and its setting, every one at once', () => {
    const broken = file(
      'broken.toml',
      `
[profile.prod.tls]
client_cert_path = "${join(dir, 'gone.pem')}"
client_key_path = "${keyPath}"
`,
    );
    const problems = problemsOf(() =>
      temporalConnection({
        TEMPORAL_CONFIG_FILE: broken,
        TEMPORAL_PROFILE: 'prod',
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'no-ca.pem'),
      }),
    );
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain(
      `client_cert_path of profile "prod" in ${broken}: cannot read ${join(dir, 'gone.pem')}`,
    );
    expect(problems[1]).toContain(`TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read ${join(dir, 'no-ca.pem')}`);
  });

  it('names an unknown profile and the profiles the file has', () => {
    expect(
      problemsOf(() => temporalConnection({ TEMPORAL_CONFIG_FILE: configFile, TEMPORAL_PROFILE: 'prod' })),
    ).toEqual([`TEMPORAL_PROFILE: profile "prod" not found in ${configFile} (it has "default", "cloud")`]);
  });

  it('refuses a TEMPORAL_CONFIG_FILE that does not exist, TOML that does not parse, a certificate without its key', () => {
    const missing = join(dir, 'nope.toml');
    expect(problemsOf(() => temporalConnection({ TEMPORAL_CONFIG_FILE: missing }))[0]).toContain(
      `TEMPORAL_CONFIG_FILE: cannot read ${missing}`,
    );
    const invalid = file('invalid.toml', '[profile.default]\naddress = = "x"\n');
    expect(problemsOf(() => temporalConnection({ TEMPORAL_CONFIG_FILE: invalid }))[0]).toMatch(
      new RegExp(`^${invalid}: Invalid TOML document.*\\(line 2, column \\d+\\)$`),
    );
    expect(
      problemsOf(() => temporalConnection({ TEMPORAL_ADDRESS: 'h:7233', TEMPORAL_TLS_CLIENT_CERT_PATH: certPath })),
    ).toEqual([expect.stringContaining('a client certificate without its key')]);
    expect(problemsOf(() => temporalConnection({ TEMPORAL_TLS: 'yes' }))).toEqual([
      'TEMPORAL_TLS: must be true, false, 1 or 0',
    ]);
  });

  it('reads a config file without profiles as empty, as the CLI does', () => {
    const empty = file('empty.toml', '');
    expect(temporalConnection({ TEMPORAL_CONFIG_FILE: empty }).options).toEqual({ address: 'localhost:7233' });
    expect(problemsOf(() => temporalConnection({ TEMPORAL_CONFIG_FILE: empty, TEMPORAL_PROFILE: 'x' }))[0]).toContain(
      'it has no profiles',
    );
  });
});
