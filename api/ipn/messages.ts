import { z } from 'zod';

/** The SNS envelope (AWS "HTTP/HTTPS notification JSON format"). Unknown keys are ignored. */
const common = {
  MessageId: z.string().min(1).max(256),
  TopicArn: z.string().min(1).max(1024),
  Message: z.string(),
  // Signed, so it cannot be forged; not bounded in age, since SNS redelivers for a long time and a
  // replayed IPN is only a hint (deduplicated, then a GET of the object).
  Timestamp: z
    .string()
    .min(1)
    .max(64)
    .refine((t) => !Number.isNaN(Date.parse(t)), 'Timestamp is not a date'),
  SignatureVersion: z.enum(['1', '2']),
  Signature: z.string().min(1).max(4096),
  SigningCertURL: z.string().min(1).max(2048),
};

const notification = z.object({
  ...common,
  Type: z.literal('Notification'),
  Subject: z.string().optional(),
  UnsubscribeURL: z.string().optional(),
});

const confirmation = z.object({
  ...common,
  Type: z.enum(['SubscriptionConfirmation', 'UnsubscribeConfirmation']),
  SubscribeURL: z.string().min(1).max(4096),
  Token: z.string().min(1).max(4096),
});

export const snsEnvelopeSchema = z.preprocess(
  (raw) => {
    // Some senders spell it SigningCertUrl.
    if (raw && typeof raw === 'object' && !('SigningCertURL' in raw) && 'SigningCertUrl' in raw) {
      const { SigningCertUrl, ...rest } = raw as Record<string, unknown>;
      return { ...rest, SigningCertURL: SigningCertUrl };
    }
    return raw;
  },
  z.discriminatedUnion('Type', [notification, confirmation]),
);

export type SnsEnvelope = z.infer<typeof snsEnvelopeSchema>;
export type SnsNotificationEnvelope = z.infer<typeof notification>;
export type SnsConfirmationEnvelope = z.infer<typeof confirmation>;

const amazonId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'not an Amazon Pay id');

/**
 * The inner Amazon Pay v2 message. Keys are matched case-insensitively (current docs use
 * PascalCase, an older revision camelCase), so `MerchantID`, `merchantID` and `merchantId` all work.
 */
const innerMessageSchema = z.object({
  merchantid: z.string().min(1).max(64),
  objecttype: z.enum(['CHARGE', 'REFUND', 'CHARGE_PERMISSION', 'CHARGEBACK']),
  objectid: amazonId,
  chargepermissionid: amazonId,
  notificationtype: z.string().min(1).max(64),
  notificationid: z.string().min(1).max(128),
  notificationversion: z.string().regex(/^v2$/i, 'only NotificationVersion V2 is supported'),
});

export interface InnerMessage {
  merchantId: string;
  objectType: 'CHARGE' | 'REFUND' | 'CHARGE_PERMISSION' | 'CHARGEBACK';
  objectId: string;
  chargePermissionId: string;
  notificationType: string;
  notificationId: string;
}

export type InnerMessageResult =
  | { ok: true; message: InnerMessage }
  | { ok: false; code: 'ipn_malformed_message' | 'ipn_unsupported_version'; reason: string };

export function parseInnerMessage(text: string): InnerMessageResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return {
      ok: false,
      code: 'ipn_malformed_message',
      reason: 'Message is not JSON (v1 XML notifications are not supported)',
    };
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, code: 'ipn_malformed_message', reason: 'Message is not a JSON object' };
  }
  const lowered = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k.toLowerCase(), v]));
  if (lowered.notificationversion === undefined) {
    return {
      ok: false,
      code: 'ipn_unsupported_version',
      reason: 'NotificationVersion missing (v1); only V2 is supported',
    };
  }
  const parsed = innerMessageSchema.safeParse(lowered);
  if (!parsed.success) {
    const version = parsed.error.issues.find((i) => i.path[0] === 'notificationversion');
    if (version) return { ok: false, code: 'ipn_unsupported_version', reason: version.message };
    return { ok: false, code: 'ipn_malformed_message', reason: describeIssues(parsed.error, DOCUMENTED_KEY) };
  }
  const m = parsed.data;
  return {
    ok: true,
    message: {
      merchantId: m.merchantid,
      objectType: m.objecttype,
      objectId: m.objectid,
      chargePermissionId: m.chargepermissionid,
      notificationType: m.notificationtype,
      notificationId: m.notificationid,
    },
  };
}

const DOCUMENTED_KEY: Record<string, string> = {
  merchantid: 'MerchantID',
  objecttype: 'ObjectType',
  objectid: 'ObjectId',
  chargepermissionid: 'ChargePermissionId',
  notificationtype: 'NotificationType',
  notificationid: 'NotificationId',
  notificationversion: 'NotificationVersion',
};

export function describeIssues(error: z.ZodError, rename: Record<string, string> = {}): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.map((p) => rename[String(p)] ?? String(p)).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}
