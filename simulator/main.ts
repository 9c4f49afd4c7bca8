import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { throttlingSchema } from './admin';
import { startSimulator, type SimulatorOptions } from './index';

/** Standalone simulator: `npm run start:simulator`, configured by environment variables (see README). */

const booleanString = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const envSchema = z
  .object({
    SIMULATOR_PORT: z.coerce.number().int().min(0).max(65535).default(4010),
    SIMULATOR_HOST: z.string().min(1).default('127.0.0.1'),
    SIMULATOR_HTTPS: booleanString.default(false),
    SIMULATOR_TLS_CERT_FILE: z.string().min(1).optional(),
    SIMULATOR_TLS_KEY_FILE: z.string().min(1).optional(),
    SIMULATOR_PUBLIC_KEYS_FILE: z.string().min(1).optional(),
    SIMULATOR_PUBLIC_KEY_ID: z.string().min(1).optional(),
    SIMULATOR_PUBLIC_KEY_FILE: z.string().min(1).optional(),
    SIMULATOR_MERCHANT_ID: z.string().min(1).optional(),
    SIMULATOR_ENVIRONMENT: z.enum(['Sandbox', 'Live']).optional(),
    SIMULATOR_PUBLIC_BASE_URL: z.string().url().optional(),
    SIMULATOR_IPN_URL: z.string().url().optional(),
    SIMULATOR_THROTTLING: z.string().optional(),
  })
  .refine((e) => !e.SIMULATOR_TLS_CERT_FILE === !e.SIMULATOR_TLS_KEY_FILE, {
    message: 'SIMULATOR_TLS_CERT_FILE and SIMULATOR_TLS_KEY_FILE go together',
  })
  .refine((e) => !e.SIMULATOR_PUBLIC_KEY_ID === !e.SIMULATOR_PUBLIC_KEY_FILE, {
    message: 'SIMULATOR_PUBLIC_KEY_ID and SIMULATOR_PUBLIC_KEY_FILE go together',
  });

/** SIMULATOR_THROTTLING: sandbox | live | off, or a JSON object { operation: { maxQuota, restorePerSecond } }. */
function parseThrottling(raw: string | undefined): SimulatorOptions['throttling'] {
  if (raw === undefined || raw === '') return undefined;
  const value: unknown = raw.trim().startsWith('{') ? JSON.parse(raw) : raw.trim();
  return throttlingSchema.parse(value) as SimulatorOptions['throttling'];
}

export function optionsFromEnv(env: NodeJS.ProcessEnv): SimulatorOptions {
  const e = envSchema.parse(env);
  const publicKeys: Record<string, string> = {};
  if (e.SIMULATOR_PUBLIC_KEYS_FILE) {
    Object.assign(
      publicKeys,
      z.record(z.string(), z.string()).parse(JSON.parse(readFileSync(e.SIMULATOR_PUBLIC_KEYS_FILE, 'utf8'))),
    );
  }
  if (e.SIMULATOR_PUBLIC_KEY_ID && e.SIMULATOR_PUBLIC_KEY_FILE) {
    publicKeys[e.SIMULATOR_PUBLIC_KEY_ID] = readFileSync(e.SIMULATOR_PUBLIC_KEY_FILE, 'utf8');
  }
  const throttling = parseThrottling(e.SIMULATOR_THROTTLING);
  return {
    host: e.SIMULATOR_HOST,
    port: e.SIMULATOR_PORT,
    publicKeys,
    ...(e.SIMULATOR_HTTPS
      ? {
          https:
            e.SIMULATOR_TLS_CERT_FILE && e.SIMULATOR_TLS_KEY_FILE
              ? {
                  cert: readFileSync(e.SIMULATOR_TLS_CERT_FILE, 'utf8'),
                  key: readFileSync(e.SIMULATOR_TLS_KEY_FILE, 'utf8'),
                }
              : ('self-signed' as const),
        }
      : {}),
    ...(e.SIMULATOR_MERCHANT_ID ? { merchantId: e.SIMULATOR_MERCHANT_ID } : {}),
    ...(e.SIMULATOR_ENVIRONMENT ? { environment: e.SIMULATOR_ENVIRONMENT } : {}),
    ...(e.SIMULATOR_PUBLIC_BASE_URL ? { publicBaseUrl: e.SIMULATOR_PUBLIC_BASE_URL } : {}),
    ...(e.SIMULATOR_IPN_URL ? { ipn: { url: e.SIMULATOR_IPN_URL } } : {}),
    ...(throttling ? { throttling } : {}),
  };
}

async function main(): Promise<void> {
  const options = optionsFromEnv(process.env);
  const simulator = await startSimulator(options);
  console.log(`Amazon Pay simulator listening on ${simulator.url}`);
  console.log(
    `  API: ${simulator.url}/sandbox/v2, ${simulator.url}/live/v2, ${simulator.url}/v2 – admin: ${simulator.url}/__admin`,
  );
  console.log(
    `  public keys: ${Object.keys(options.publicKeys ?? {}).join(', ') || '(none; POST /__admin/public-keys)'}`,
  );
  const stop = (signal: string) => {
    console.log(`${signal}: shutting down`);
    simulator.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(error instanceof z.ZodError ? `Invalid simulator configuration: ${z.prettifyError(error)}` : error);
    process.exit(1);
  });
}
