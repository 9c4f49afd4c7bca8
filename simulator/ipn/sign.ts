import { createHash, randomUUID, sign } from 'node:crypto';
import { generate } from 'selfsigned';

/**
 * SNS message signing as Amazon SNS does it, with the simulator's own key. Exported separately so
 * tests can build and sign arbitrary envelopes (forged signatures, foreign certificate hosts,
 * subscription confirmations).
 */

export type SnsMessageType = 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';
export type SignatureVersion = '1' | '2';

export interface SnsEnvelope {
  Type: SnsMessageType;
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: SignatureVersion;
  Signature: string;
  SigningCertURL: string;
  Subject?: string;
  UnsubscribeURL?: string;
  SubscribeURL?: string;
  Token?: string;
}

export interface SigningIdentity {
  privateKeyPem: string;
  certificatePem: string;
  /** File name under which the certificate is served, e.g. SimpleNotificationService-<hash>.pem. */
  certName: string;
}

export async function createSigningIdentity(commonName = 'sns.amazonaws.com'): Promise<SigningIdentity> {
  const notAfterDate = new Date(Date.now() + 365 * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate,
  });
  const hash = createHash('sha256').update(pems.cert).digest('hex').slice(0, 32);
  return { privateKeyPem: pems.private, certificatePem: pems.cert, certName: `SimpleNotificationService-${hash}.pem` };
}

const NOTIFICATION_KEYS = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'] as const;
const CONFIRMATION_KEYS = ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'] as const;

/** The AWS string to sign: `key\nvalue\n` pairs in a fixed order, optional keys skipped when absent. */
export function snsStringToSign(
  envelope: Omit<SnsEnvelope, 'Signature' | 'SignatureVersion' | 'SigningCertURL'>,
): string {
  const keys = envelope.Type === 'Notification' ? NOTIFICATION_KEYS : CONFIRMATION_KEYS;
  let out = '';
  for (const key of keys) {
    const value = envelope[key];
    if (value === undefined) continue;
    out += `${key}\n${value}\n`;
  }
  return out;
}

export function signatureAlgorithm(version: SignatureVersion): 'RSA-SHA1' | 'RSA-SHA256' {
  return version === '2' ? 'RSA-SHA256' : 'RSA-SHA1';
}

export type UnsignedEnvelope = Omit<SnsEnvelope, 'Signature'>;

export function signEnvelope(envelope: UnsignedEnvelope, privateKeyPem: string): SnsEnvelope {
  const data = Buffer.from(snsStringToSign(envelope), 'utf8');
  const signature = sign(signatureAlgorithm(envelope.SignatureVersion), data, privateKeyPem).toString('base64');
  return { ...envelope, Signature: signature };
}

export interface InnerMessage {
  MerchantID: string;
  ObjectType: 'CHARGE' | 'REFUND' | 'CHARGE_PERMISSION' | 'CHARGEBACK';
  ObjectId: string;
  ChargePermissionId: string;
  NotificationType: 'STATE_CHANGE' | 'ATTRIBUTE_CHANGE';
  NotificationId: string;
  NotificationVersion: 'V2';
}

export const topicArnFor = (merchantId: string, region = 'us-east-1'): string =>
  `arn:aws:sns:${region}:291180941288:${merchantId}`;

export interface BuildNotificationInput {
  message: InnerMessage | string;
  topicArn: string;
  signingCertUrl: string;
  unsubscribeUrl?: string;
  timestamp: Date;
  signatureVersion?: SignatureVersion;
  messageId?: string;
}

/** A signed Notification envelope. */
export function buildSignedNotification(input: BuildNotificationInput, privateKeyPem: string): SnsEnvelope {
  const messageId = input.messageId ?? randomUUID();
  return signEnvelope(
    {
      Type: 'Notification',
      MessageId: messageId,
      TopicArn: input.topicArn,
      Message: typeof input.message === 'string' ? input.message : JSON.stringify(input.message),
      Timestamp: input.timestamp.toISOString(),
      SignatureVersion: input.signatureVersion ?? '1',
      SigningCertURL: input.signingCertUrl,
      UnsubscribeURL:
        input.unsubscribeUrl ??
        `${URL.canParse(input.signingCertUrl) ? new URL(input.signingCertUrl).origin : ''}/?Action=Unsubscribe&SubscriptionArn=${input.topicArn}`,
    },
    privateKeyPem,
  );
}

/** Headers SNS sends with every POST. */
export function snsHeaders(envelope: SnsEnvelope): Record<string, string> {
  return {
    'content-type': 'text/plain; charset=UTF-8',
    'x-amz-sns-message-type': envelope.Type,
    'x-amz-sns-message-id': envelope.MessageId,
    'x-amz-sns-topic-arn': envelope.TopicArn,
    'user-agent': 'Amazon Simple Notification Service Agent',
  };
}
