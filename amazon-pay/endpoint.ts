/** Where the client sends a merchant's requests: Amazon Pay's regional hosts and environment path, or a baseUrl override (a simulator). */
import { AmazonPayConfigError } from './errors';

export type AmazonPayRegion = 'na' | 'eu' | 'jp';

export const REGION_HOSTS: Readonly<Record<AmazonPayRegion, string>> = {
  na: 'pay-api.amazon.com',
  eu: 'pay-api.amazon.eu',
  jp: 'pay-api.amazon.jp',
};

export interface Endpoint {
  /** scheme://host[:port] */
  origin: string;
  /** Value of x-amz-pay-host. */
  host: string;
  /** '/v2', '/sandbox/v2' or '/live/v2', after any base path of a baseUrl override. */
  pathPrefix: string;
}

/** Key ids starting with LIVE-/SANDBOX- (any case) select the environment themselves; the SDKs test only the prefix word. */
export function isEnvironmentSpecificKeyId(publicKeyId: string): boolean {
  const upper = publicKeyId.toUpperCase();
  return upper.startsWith('LIVE') || upper.startsWith('SANDBOX');
}

export function resolveEndpoint(config: {
  publicKeyId: string;
  region: AmazonPayRegion;
  sandbox?: boolean | undefined;
  baseUrl?: string | undefined;
}): Endpoint {
  const envPrefix = isEnvironmentSpecificKeyId(config.publicKeyId)
    ? '/v2'
    : config.sandbox
      ? '/sandbox/v2'
      : '/live/v2';
  if (config.baseUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(config.baseUrl);
    } catch {
      throw new AmazonPayConfigError(`baseUrl is not a URL: ${config.baseUrl}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new AmazonPayConfigError(`baseUrl must be http(s): ${config.baseUrl}`);
    const basePath = url.pathname.replace(/\/+$/, '');
    return { origin: url.origin, host: url.host, pathPrefix: `${basePath}${envPrefix}` };
  }
  const host = REGION_HOSTS[config.region];
  if (!host) throw new AmazonPayConfigError(`unknown region ${String(config.region)}; expected na, eu or jp`);
  return { origin: `https://${host}`, host, pathPrefix: envPrefix };
}
