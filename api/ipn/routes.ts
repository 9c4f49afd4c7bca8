import type { Client } from '@temporalio/client';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { amazonPayNotificationSignal, type AmazonPayNotification } from '../../workflows/notification-messages';
import {
  notificationInboxWorkflow,
  notificationInboxWorkflowId,
  type NotificationInboxOptions,
} from '../../workflows/notifications';
import { ApiError, errorResponse } from '../errors';
import {
  describeIssues,
  parseInnerMessage,
  snsEnvelopeSchema,
  type SnsConfirmationEnvelope,
  type SnsNotificationEnvelope,
} from './messages';
import { createLogger, type Logger } from '../../observability/logger';
import {
  createSnsVerifier,
  SnsCertificateUnavailableError,
  SnsVerificationError,
  trustedSnsUrl,
  type SnsVerifier,
} from './verify';

export interface IpnLogger {
  info(message: string, fields: Record<string, unknown>): void;
  warn(message: string, fields: Record<string, unknown>): void;
  error(message: string, fields: Record<string, unknown>): void;
}

export interface IpnRouteDeps {
  temporal: Client;
  /** Task queue the notification inbox workflows run on. */
  taskQueue: string;
  /** e.g. config IPN_PATH, '/amazon-pay/ipn'. */
  path: string;
  /**
   * Hosts allowed for SigningCertURL and SubscribeURL (config IPN_CERT_HOST_PATTERN). https is
   * required, except for loopback hosts the pattern explicitly allows (the local simulator).
   */
  certHostPattern: RegExp;
  /**
   * SNS topics we accept messages from (config IPN_TOPIC_ARN_PATTERN). A valid signature only
   * proves that SNS sent the message, not whose topic it came from: without this, anyone's topic
   * subscribed to our URL is believed. Checked after the signature, since TopicArn is signed.
   */
  topicArnPattern?: RegExp;
  /** Confirm SNS subscriptions by fetching SubscribeURL (config IPN_CONFIRM_SUBSCRIPTIONS). */
  confirmSubscriptions: boolean;
  /** Request body limit; larger bodies get 413 (config API_BODY_LIMIT_BYTES). */
  bodyLimitBytes: number;
  /** Used for certificate downloads and subscription confirmation. */
  fetch?: typeof fetch;
  logger?: IpnLogger;
  /** Told how each message ended (metrics): accepted, subscription_confirmed, ..., or the error code it was refused with. */
  onOutcome?: (outcome: string) => void;
  /** Options passed to inbox workflows this endpoint starts. */
  inboxOptions?: NotificationInboxOptions;
  /** How long to wait for Temporal before answering 503. Default 5000 ms (SNS gives up at 15 s). */
  temporalTimeoutMs?: number;
  /** Injected for tests; built from certHostPattern and fetch otherwise. */
  verifier?: SnsVerifier;
}

/** IPN events as lines of the process logger. Never the request body: only ids and outcomes. */
export function ipnLogger(logger: Logger): IpnLogger {
  const ipn = logger.child({ subsystem: 'ipn' });
  return {
    info: (message, fields) => ipn.info(fields, message),
    warn: (message, fields) => ipn.warn(fields, message),
    error: (message, fields) => ipn.error(fields, message),
  };
}

/** For tests and benchmarks that assert on answers, not on log lines. */
export const silentIpnLogger: IpnLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

const ACCEPTED_TYPES = ['text/plain', 'application/json'];

export function createIpnRoutes(deps: IpnRouteDeps): Hono {
  const log = deps.logger ?? ipnLogger(createLogger({ component: 'api' }));
  const doFetch = deps.fetch ?? fetch;
  const verifier = deps.verifier ?? createSnsVerifier({ certHostPattern: deps.certHostPattern, fetch: doFetch });
  const temporalTimeoutMs = deps.temporalTimeoutMs ?? 5000;
  const app = new Hono();

  const outcome = deps.onOutcome ?? (() => undefined);
  const reject = (c: Context, err: ApiError, fields: Record<string, unknown>) => {
    outcome(err.code);
    (err.status >= 500 ? log.error : log.warn)('IPN rejected', {
      status: err.status,
      code: err.code,
      reason: err.message,
      ...fields,
    });
    return errorResponse(c, err);
  };

  app.post(
    deps.path,
    bodyLimit({
      maxSize: deps.bodyLimitBytes,
      onError: (c) =>
        reject(c, new ApiError(413, 'payload_too_large', `IPN body larger than ${deps.bodyLimitBytes} bytes`), {
          headerMessageId: headerId(c),
        }),
    }),
    async (c) => {
      const headerMessageId = headerId(c);
      const contentType = (c.req.header('content-type') ?? 'text/plain').split(';')[0]!.trim().toLowerCase();
      if (!ACCEPTED_TYPES.includes(contentType)) {
        return reject(
          c,
          new ApiError(415, 'unsupported_media_type', 'IPN body must be text/plain or application/json'),
          { headerMessageId },
        );
      }

      let raw: unknown;
      try {
        raw = JSON.parse(await c.req.text());
      } catch {
        return reject(c, new ApiError(400, 'ipn_malformed_envelope', 'body is not a JSON SNS envelope'), {
          headerMessageId,
        });
      }
      const parsed = snsEnvelopeSchema.safeParse(raw);
      if (!parsed.success) {
        return reject(
          c,
          new ApiError(400, 'ipn_malformed_envelope', `invalid SNS envelope: ${describeIssues(parsed.error)}`),
          { headerMessageId },
        );
      }
      const envelope = parsed.data;
      const ids = { messageId: envelope.MessageId, type: envelope.Type, topicArn: envelope.TopicArn };
      const headerType = c.req.header('x-amz-sns-message-type');
      if (headerType && headerType !== envelope.Type) {
        return reject(
          c,
          new ApiError(400, 'ipn_malformed_envelope', 'x-amz-sns-message-type does not match the envelope Type'),
          ids,
        );
      }

      try {
        await verifier.verify(envelope);
      } catch (err) {
        if (err instanceof SnsVerificationError) return reject(c, new ApiError(403, err.code, err.message), ids);
        if (err instanceof SnsCertificateUnavailableError)
          return reject(c, new ApiError(502, 'ipn_certificate_unavailable', err.message), ids);
        throw err;
      }
      if (deps.topicArnPattern && !deps.topicArnPattern.test(envelope.TopicArn)) {
        return reject(c, new ApiError(403, 'ipn_topic_untrusted', 'TopicArn is not an allowed Amazon Pay topic'), ids);
      }

      switch (envelope.Type) {
        case 'Notification':
          return handleNotification(c, envelope, ids);
        case 'SubscriptionConfirmation':
          return handleSubscription(c, envelope, ids);
        case 'UnsubscribeConfirmation':
          // Only an operator can decide whether this was intended; make it loud.
          outcome('unsubscribed');
          log.warn(
            'SNS UnsubscribeConfirmation received: IPNs for this topic will stop; resubscribe in Seller Central if unintended',
            ids,
          );
          return c.json({ received: true }, 200);
      }
    },
  );

  const handleNotification = async (c: Context, envelope: SnsNotificationEnvelope, ids: Record<string, unknown>) => {
    const inner = parseInnerMessage(envelope.Message);
    if (!inner.ok) return reject(c, new ApiError(400, inner.code, inner.reason), ids);
    const m = inner.message;
    const notification: AmazonPayNotification = {
      messageId: envelope.MessageId,
      notificationId: m.notificationId,
      objectType: m.objectType,
      objectId: m.objectId,
      chargePermissionId: m.chargePermissionId,
      notificationType: m.notificationType,
      receivedAt: new Date().toISOString(),
    };
    const fields = {
      ...ids,
      notificationId: m.notificationId,
      objectType: m.objectType,
      objectId: m.objectId,
      chargePermissionId: m.chargePermissionId,
      notificationType: m.notificationType,
    };
    try {
      await deps.temporal.withDeadline(Date.now() + temporalTimeoutMs, () =>
        deps.temporal.workflow.signalWithStart(notificationInboxWorkflow, {
          workflowId: notificationInboxWorkflowId(m.chargePermissionId),
          taskQueue: deps.taskQueue,
          args: [
            { chargePermissionId: m.chargePermissionId, ...(deps.inboxOptions ? { options: deps.inboxOptions } : {}) },
          ],
          signal: amazonPayNotificationSignal,
          signalArgs: [notification],
        }),
      );
    } catch (err) {
      // Not durable yet: a 5xx makes SNS redeliver the same MessageId later.
      return reject(c, new ApiError(503, 'temporal_unavailable', 'notification could not be recorded; retry later'), {
        ...fields,
        error: (err as Error).message,
      });
    }
    outcome('accepted');
    log.info('IPN accepted', fields);
    return c.json({ received: true, messageId: envelope.MessageId }, 200);
  };

  const handleSubscription = async (c: Context, envelope: SnsConfirmationEnvelope, ids: Record<string, unknown>) => {
    if (!deps.confirmSubscriptions) {
      // The URL (topic and one-time token, no personal data) is what an operator needs to confirm.
      outcome('subscription_unconfirmed');
      log.warn(
        'SNS SubscriptionConfirmation received; automatic confirmation is off: confirm it by opening subscribeUrl',
        { ...ids, subscribeUrl: envelope.SubscribeURL },
      );
      return c.json({ received: true, confirmed: false }, 200);
    }
    const url = trustedSnsUrl(envelope.SubscribeURL, deps.certHostPattern, { requirePem: false });
    if (!url)
      return reject(
        c,
        new ApiError(403, 'ipn_subscribe_url_untrusted', 'SubscribeURL is not on an allowed SNS host'),
        ids,
      );
    try {
      const res = await doFetch(url, { redirect: 'error', signal: AbortSignal.timeout(10_000) });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`SubscribeURL answered ${res.status}`);
    } catch (err) {
      return reject(
        c,
        new ApiError(502, 'ipn_subscription_confirm_failed', 'could not confirm the subscription; retry later'),
        { ...ids, error: (err as Error).message },
      );
    }
    outcome('subscription_confirmed');
    log.info('SNS subscription confirmed', ids);
    return c.json({ received: true, confirmed: true }, 200);
  };

  app.onError((err, c) => {
    outcome('internal_error');
    log.error('IPN handler failed', { error: err.message, headerMessageId: headerId(c) });
    return errorResponse(c, new ApiError(500, 'internal_error', 'internal error'));
  });

  return app;
}

function headerId(c: Context): string | null {
  return c.req.header('x-amz-sns-message-id') ?? null;
}
