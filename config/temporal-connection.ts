/**
 * The Temporal connection, read by `@temporalio/envconfig` the way the `temporal` CLI reads it: a
 * profile of the TOML config file (TEMPORAL_CONFIG_FILE, else ~/.config/temporalio/temporal.toml;
 * TEMPORAL_PROFILE, else "default"), overridden by the TEMPORAL_* variables. So a profile that works
 * for `temporal workflow list --profile prod` works for the worker and the API.
 *
 * What we add to the library: the CLI's defaults when nothing is set, and ConfigErrors that name
 * the setting, the file and the profile instead of the library's bare errors (and where it would
 * silently drop a setting: a missing TEMPORAL_CONFIG_FILE, a certificate without its key).
 */
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import {
  loadClientConfig,
  loadClientConfigProfile,
  toClientOptions,
  type ClientConfigProfile,
  type ConfigDataSource,
} from '@temporalio/envconfig';
import { ConfigError } from './errors';

/** The variables the library reads (besides TEMPORAL_GRPC_META_<HEADER>); .env.example documents them. */
export const TEMPORAL_ENV_VARIABLES = [
  'TEMPORAL_CONFIG_FILE',
  'TEMPORAL_PROFILE',
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  'TEMPORAL_TLS_SERVER_NAME',
] as const;

/** The temporal CLI's defaults. */
export const DEFAULT_TEMPORAL_ADDRESS = 'localhost:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

/** Fits both `Connection.connect` (client) and `NativeConnection.connect` (worker). */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}

export interface TemporalConnection {
  options: TemporalConnectionOptions;
  namespace: string;
  /** An address came from a profile or TEMPORAL_ADDRESS; otherwise it is the default (`npm start` then runs its own server). */
  addressConfigured: boolean;
  /** Where the settings came from, for start-up lines. */
  source: string;
}

const TLS_FILES = [
  { field: 'clientCert', toml: 'client_cert_path', env: 'TEMPORAL_TLS_CLIENT_CERT_PATH' },
  { field: 'clientKey', toml: 'client_key_path', env: 'TEMPORAL_TLS_CLIENT_KEY_PATH' },
  { field: 'serverCACert', toml: 'server_ca_cert_path', env: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH' },
] as const;

export function temporalConnection(source: Record<string, string | undefined> = process.env): TemporalConnection {
  // Empty means unset, as everywhere in our config; for TEMPORAL_GRPC_META_* it removes a header.
  const env = Object.fromEntries(
    Object.entries(source).filter(
      (e): e is [string, string] => e[1] !== undefined && (e[1] !== '' || e[0].startsWith('TEMPORAL_GRPC_META_')),
    ),
  );
  const file = env.TEMPORAL_CONFIG_FILE;
  const fileName = file ?? 'the default Temporal config file (~/.config/temporalio/temporal.toml)';
  const problems: string[] = [];
  if (env.TEMPORAL_TLS !== undefined && !['true', 'false', '1', '0'].includes(env.TEMPORAL_TLS))
    problems.push('TEMPORAL_TLS: must be true, false, 1 or 0');
  if (file !== undefined) {
    // The library (and the CLI) would silently go on without it; a mistyped path must not.
    try {
      readFileSync(file);
    } catch (err) {
      throw new ConfigError([`TEMPORAL_CONFIG_FILE: cannot read ${file} (${(err as Error).message})`]);
    }
  }

  let profiles: Record<string, ClientConfigProfile>;
  try {
    profiles = loadClientConfig({ overrideEnvVars: env }).profiles;
  } catch (err) {
    // A file without any [profile.*] table trips the library; the CLI reads it as empty.
    if (!(err instanceof TypeError)) throw new ConfigError([`${fileName}: ${describe(err)}`, ...problems]);
    profiles = {};
  }
  const profileName = env.TEMPORAL_PROFILE ?? 'default';
  if (env.TEMPORAL_PROFILE !== undefined && !(profileName in profiles)) {
    const known = Object.keys(profiles);
    problems.push(
      `TEMPORAL_PROFILE: profile "${profileName}" not found in ${fileName} (${known.length ? `it has ${known.map((k) => `"${k}"`).join(', ')}` : 'it has no profiles'})`,
    );
  }
  if (problems.length) throw new ConfigError(problems);

  const fromFile = profileName in profiles;
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: env, disableFile: !fromFile });
  } catch (err) {
    throw new ConfigError([
      `${fromFile ? `profile "${profileName}" in ${fileName}` : 'TEMPORAL_TLS_*'}: ${describe(err)}`,
    ]);
  }

  const origin = (setting: (typeof TLS_FILES)[number]) =>
    env[setting.env] !== undefined ? setting.env : `${setting.toml} of profile "${profileName}" in ${fileName}`;
  const tlsOn = profile.tls !== undefined && profile.tls.disabled !== true;
  for (const setting of TLS_FILES) {
    const data: ConfigDataSource | undefined = tlsOn ? profile.tls?.[setting.field] : undefined;
    if (data && 'path' in data) {
      try {
        readFileSync(data.path);
      } catch (err) {
        problems.push(`${origin(setting)}: cannot read ${data.path} (${(err as Error).message})`);
      }
    }
  }
  // The library would connect without the half it has; mTLS needs both.
  if (tlsOn && !profile.tls?.clientCert !== !profile.tls?.clientKey)
    problems.push(
      profile.tls?.clientCert
        ? 'a client certificate without its key: set client_key_path (or TEMPORAL_TLS_CLIENT_KEY_PATH) too'
        : 'a client key without its certificate: set client_cert_path (or TEMPORAL_TLS_CLIENT_CERT_PATH) too',
    );
  if (problems.length) throw new ConfigError(problems);

  const { namespace, connectionOptions } = toClientOptions(profile);
  const { address, tls, apiKey } = connectionOptions;
  const metadata = profile.grpcMeta;
  return {
    options: {
      address: address ?? DEFAULT_TEMPORAL_ADDRESS,
      ...(tls !== undefined && tls !== null ? { tls } : {}),
      ...(apiKey !== undefined ? { apiKey } : {}),
      ...(metadata && Object.keys(metadata).length > 0 ? { metadata } : {}),
    },
    namespace: namespace ?? DEFAULT_TEMPORAL_NAMESPACE,
    addressConfigured: address !== undefined,
    source: fromFile
      ? `profile "${profileName}" of ${file ?? 'the default Temporal config file'}`
      : address !== undefined
        ? 'TEMPORAL_* variables'
        : 'defaults',
  };
}

/** The library's and the TOML parser's messages, without the parser's code frame. */
function describe(err: unknown): string {
  const { message, line, column } = err as Error & { line?: number; column?: number };
  const first = message.split('\n')[0]!;
  return line !== undefined ? `${first} (line ${line}, column ${column})` : first;
}

/**
 * Connects, or throws a ConfigError saying where to and from which settings: at start-up a wrong
 * address, certificate or API key is a configuration problem, not a stack trace.
 */
export async function connectTemporal<T>(t: TemporalConnection, connect: () => Promise<T>): Promise<T> {
  try {
    return await connect();
  } catch (err) {
    throw new ConfigError([
      `Temporal at ${t.options.address} (namespace ${t.namespace}, from ${t.source}): cannot connect: ${describe(err)}`,
    ]);
  }
}
