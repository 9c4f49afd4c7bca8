import type { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import type { Hono } from 'hono';
import { inboxOptions, wholeMatch, type Env } from '../config';
import { createApp } from './app';
import type { CheckoutRouteDeps } from './checkout/routes';
import type { Logger } from '../observability/logger';
import type { ApiMetrics } from '../observability/metrics';

/** Builds the API from validated configuration; shared by api/main.ts and the main command. */
export function createApiFromEnv(
  env: Env,
  deps: {
    temporal: Client;
    buttonSigner: CheckoutRouteDeps['buttonSigner'];
    apiKeys: string[];
    storeId: string | undefined;
    /** Serves the codec endpoint (/codec) with this codec and operator credential. */
    codecServer?: { codec: PayloadCodec; token: string };
    logger?: Logger;
    metrics?: ApiMetrics;
  },
): Hono {
  return createApp({
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...(deps.codecServer
      ? {
          codec: {
            codec: deps.codecServer.codec,
            tokens: [deps.codecServer.token],
            allowedOrigins: env.CODEC_SERVER_CORS_ORIGINS,
            bodyLimitBytes: env.CODEC_SERVER_BODY_LIMIT_BYTES,
          },
        }
      : {}),
    checkout: {
      temporal: deps.temporal,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      apiKeys: deps.apiKeys,
      buttonSigner: deps.buttonSigner,
      storeId: deps.storeId ?? '',
      bodyLimitBytes: env.API_BODY_LIMIT_BYTES,
      createSessionWorkflowType: 'createCheckoutSessionWorkflow',
    },
    ipn: {
      temporal: deps.temporal,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      path: env.IPN_PATH,
      certHostPattern: wholeMatch(env.IPN_CERT_HOST_PATTERN),
      ...(env.IPN_TOPIC_ARN_PATTERN ? { topicArnPattern: wholeMatch(env.IPN_TOPIC_ARN_PATTERN) } : {}),
      confirmSubscriptions: env.IPN_CONFIRM_SUBSCRIPTIONS,
      bodyLimitBytes: env.API_BODY_LIMIT_BYTES,
      inboxOptions: inboxOptions(env),
    },
  });
}
