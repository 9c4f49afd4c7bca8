/**
 * The payload codec that keeps buyer data (name, email, addresses from Get Checkout Session) out of
 * Temporal in clear: every payload the worker and our clients write (workflow inputs and results,
 * activity inputs and results, update and query answers, signals, memos, failure details) is
 * AES-256-GCM encrypted before it leaves the process. Temporal stores only ciphertext; an operator
 * with the key reads it through the codec server (temporal/codec-server.ts).
 *
 * Search attributes are not encoded by the SDK (the server has to index them), so they must never
 * hold personal data; headers are not encoded either.
 *
 * Wire format of an encrypted payload (the same as Temporal's sample encryption codecs):
 *   metadata.encoding          = "binary/encrypted"
 *   metadata.encryption-key-id = the id of the key that encrypted it
 *   data                       = 12-byte IV | ciphertext | 16-byte GCM tag
 * The plaintext is the original Payload serialized as protobuf (metadata and data together), and
 * the key id is bound as additional authenticated data, so a payload cannot be relabelled.
 *
 * Rotation: the first key encrypts, every key decrypts. Payloads that are not encrypted (histories
 * written before the codec, search attributes) are passed through untouched.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
// A CommonJS module whose named exports Node's ESM loader cannot see (worker/main.ts runs under tsx).
import proto from '@temporalio/proto';

const { temporal } = proto;

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

const utf8 = new TextEncoder();
const text = new TextDecoder();

export interface CodecKey {
  /** Written into every payload it encrypts; never secret. */
  id: string;
  /** 32 bytes. */
  key: Uint8Array;
}

/** A key that cannot be used, a key list that cannot be parsed, or a payload that cannot be decrypted. */
export class PayloadCodecError extends Error {
  override readonly name = 'PayloadCodecError';
}

/**
 * Parses `id:base64key[,id2:base64key...]` (commas or newlines; blank lines and `#` comments
 * ignored, so the same text works as a key file). The first key encrypts.
 */
export function parseCodecKeys(spec: string): CodecKey[] {
  const entries = spec
    .split(/[,\n]/)
    .map((e) => e.trim())
    .filter((e) => e.length > 0 && !e.startsWith('#'));
  const keys: CodecKey[] = [];
  for (const entry of entries) {
    const colon = entry.indexOf(':');
    if (colon < 0)
      throw new PayloadCodecError(`a key must be written id:base64key (entry ${keys.length + 1} has no "id:")`);
    const id = entry.slice(0, colon).trim();
    const encoded = entry.slice(colon + 1).trim();
    if (!KEY_ID.test(id)) throw new PayloadCodecError(`key id "${id}" must be 1-64 characters of A-Z a-z 0-9 . _ -`);
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded)) throw new PayloadCodecError(`key "${id}" is not base64`);
    const key = Buffer.from(encoded, encoded.includes('-') || encoded.includes('_') ? 'base64url' : 'base64');
    if (key.length !== KEY_BYTES)
      throw new PayloadCodecError(`key "${id}" must be ${KEY_BYTES} bytes (AES-256), got ${key.length}`);
    if (keys.some((k) => k.id === id)) throw new PayloadCodecError(`key id "${id}" appears twice`);
    keys.push({ id, key });
  }
  return keys;
}

/** A fresh random key, written the way parseCodecKeys reads it. */
export function generateCodecKey(id: string): string {
  if (!KEY_ID.test(id)) throw new PayloadCodecError(`key id "${id}" must be 1-64 characters of A-Z a-z 0-9 . _ -`);
  return `${id}:${randomBytes(KEY_BYTES).toString('base64')}`;
}

export function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.encoding;
  return encoding !== undefined && encoding !== null && text.decode(encoding) === ENCRYPTED_ENCODING;
}

export class EncryptionCodec implements PayloadCodec {
  private readonly keys: ReadonlyMap<string, Uint8Array>;
  private readonly current: CodecKey;

  /** `keys[0]` encrypts; all of them decrypt. */
  constructor(keys: readonly CodecKey[]) {
    const first = keys[0];
    if (!first) throw new PayloadCodecError('at least one encryption key is required');
    for (const k of keys) {
      if (!KEY_ID.test(k.id))
        throw new PayloadCodecError(`key id "${k.id}" must be 1-64 characters of A-Z a-z 0-9 . _ -`);
      if (k.key.length !== KEY_BYTES)
        throw new PayloadCodecError(`key "${k.id}" must be ${KEY_BYTES} bytes (AES-256), got ${k.key.length}`);
    }
    if (new Set(keys.map((k) => k.id)).size !== keys.length) throw new PayloadCodecError('key ids must be unique');
    this.current = first;
    this.keys = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** The id new payloads are encrypted with. */
  get encryptingKeyId(): string {
    return this.current.id;
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.encrypt(p));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.decrypt(p));
  }

  private encrypt(payload: Payload): Payload {
    // Already ours (e.g. re-encoding a decoded-then-encoded payload is never done, but a payload
    // handed through twice must not be wrapped twice).
    if (isEncrypted(payload)) return payload;
    const plaintext = temporal.api.common.v1.Payload.encode(payload).finish();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(utf8.encode(this.current.id));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      metadata: { encoding: utf8.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8.encode(this.current.id) },
      data: Buffer.concat([iv, body, cipher.getAuthTag()]),
    };
  }

  private decrypt(payload: Payload): Payload {
    if (!isEncrypted(payload)) return payload;
    const rawId = payload.metadata?.[KEY_ID_METADATA];
    if (!rawId) throw new PayloadCodecError(`an encrypted payload has no ${KEY_ID_METADATA} metadata`);
    const id = text.decode(rawId);
    const key = this.keys.get(id);
    if (!key) {
      throw new PayloadCodecError(
        `a payload is encrypted with key "${id}", which is not configured (known: ${this.keyIds.join(', ')}); add it to PAYLOAD_CODEC_KEYS(_FILE) after the encrypting key`,
      );
    }
    const data = payload.data ?? new Uint8Array();
    if (data.length < IV_BYTES + TAG_BYTES)
      throw new PayloadCodecError(`an encrypted payload (key "${id}") is truncated`);
    const iv = data.subarray(0, IV_BYTES);
    const tag = data.subarray(data.length - TAG_BYTES);
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(rawId);
    decipher.setAuthTag(tag);
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadCodecError(
        `a payload encrypted with key "${id}" does not authenticate (altered, or a different key with the same id)`,
      );
    }
    const decoded = temporal.api.common.v1.Payload.decode(plaintext);
    return { metadata: decoded.metadata ?? {}, data: decoded.data ?? new Uint8Array() };
  }
}
