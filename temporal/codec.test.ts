import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import {
  EncryptionCodec,
  ENCRYPTED_ENCODING,
  generateCodecKey,
  isEncrypted,
  KEY_ID_METADATA,
  parseCodecKeys,
  PayloadCodecError,
} from './codec';

const keyA = parseCodecKeys(generateCodecKey('key-a'))[0]!;
const keyB = parseCodecKeys(generateCodecKey('key-b'))[0]!;
const buyer = { name: 'Jane Doe', email: 'jane.doe@example.com', shippingAddress: { addressLine1: '10 Ditka Ave' } };
const plain = (): Payload => defaultPayloadConverter.toPayload(buyer);
const str = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('utf8');

describe('EncryptionCodec', () => {
  it('round-trips a payload, metadata included, and leaves nothing readable in the encrypted form', async () => {
    const codec = new EncryptionCodec([keyA]);
    const [encrypted] = await codec.encode([plain()]);
    expect(str(encrypted!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(str(encrypted!.metadata![KEY_ID_METADATA])).toBe('key-a');
    expect(Object.keys(encrypted!.metadata!).sort()).toEqual(['encoding', KEY_ID_METADATA].sort());
    for (const secret of ['Jane', 'jane.doe', 'Ditka', 'json/plain'])
      expect(Buffer.from(encrypted!.data!).includes(secret)).toBe(false);
    const [decoded] = await codec.decode([encrypted!]);
    expect(str(decoded!.metadata!.encoding)).toBe('json/plain');
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(buyer);
  });

  it('uses a fresh IV: the same payload encrypts differently each time', async () => {
    const codec = new EncryptionCodec([keyA]);
    const [a, b] = await codec.encode([plain(), plain()]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  it('rotation: the first key encrypts, older keys still decrypt', async () => {
    const before = new EncryptionCodec([keyA]);
    const after = new EncryptionCodec([keyB, keyA]);
    const [old] = await before.encode([plain()]);
    const [fresh] = await after.encode([plain()]);
    expect(str(fresh!.metadata![KEY_ID_METADATA])).toBe('key-b');
    expect(after.encryptingKeyId).toBe('key-b');
    const decoded = await after.decode([old!, fresh!]);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([buyer, buyer]);
  });

  it('an unknown key id is a clear error naming the id, never a garbled payload', async () => {
    const [encrypted] = await new EncryptionCodec([keyB]).encode([plain()]);
    await expect(new EncryptionCodec([keyA]).decode([encrypted!])).rejects.toThrow(
      /encrypted with key "key-b", which is not configured \(known: key-a\)/,
    );
  });

  it('a tampered ciphertext, a relabelled key id or a truncated payload fails authentication', async () => {
    const codec = new EncryptionCodec([keyA, { id: 'key-a2', key: keyA.key }]);
    const [encrypted] = await codec.encode([plain()]);
    const flipped = Buffer.from(encrypted!.data!);
    flipped[20] = flipped[20]! ^ 1;
    await expect(codec.decode([{ ...encrypted!, data: flipped }])).rejects.toThrow(PayloadCodecError);
    // Same key bytes under another id: the id is authenticated data, so it does not decrypt.
    const relabelled = {
      ...encrypted!,
      metadata: { ...encrypted!.metadata, [KEY_ID_METADATA]: Buffer.from('key-a2') },
    };
    await expect(codec.decode([relabelled])).rejects.toThrow(/does not authenticate/);
    await expect(
      codec.decode([{ ...encrypted!, data: Buffer.from(encrypted!.data!).subarray(0, 20) }]),
    ).rejects.toThrow(/truncated/);
  });

  it('passes payloads that are not encrypted through untouched (old histories, search attributes)', async () => {
    const codec = new EncryptionCodec([keyA]);
    const p = plain();
    const [decoded] = await codec.decode([p]);
    expect(decoded).toBe(p);
    expect(isEncrypted(p)).toBe(false);
    // and never encrypts twice
    const [once] = await codec.encode([p]);
    const [twice] = await codec.encode([once!]);
    expect(twice).toBe(once);
  });

  it('refuses no keys, short keys and duplicate ids', () => {
    expect(() => new EncryptionCodec([])).toThrow(/at least one/);
    expect(() => new EncryptionCodec([{ id: 'x', key: new Uint8Array(16) }])).toThrow(/32 bytes/);
    expect(() => new EncryptionCodec([keyA, keyA])).toThrow(/unique/);
  });
});

describe('parseCodecKeys', () => {
  it('reads comma or newline separated id:base64 entries with comments, first one first', () => {
    const text = `# rotated 2025-01\n${generateCodecKey('new')}\n\n${generateCodecKey('old')}`;
    expect(parseCodecKeys(text).map((k) => k.id)).toEqual(['new', 'old']);
    expect(parseCodecKeys(`${generateCodecKey('a')}, ${generateCodecKey('b')}`).map((k) => k.id)).toEqual(['a', 'b']);
  });

  it('names the entry that is wrong without printing key material', () => {
    expect(() => parseCodecKeys('justakey')).toThrow(/id:base64key/);
    expect(() => parseCodecKeys(`bad id:${Buffer.alloc(32).toString('base64')}`)).toThrow(/key id "bad id"/);
    expect(() => parseCodecKeys(`short:${Buffer.alloc(16, 7).toString('base64')}`)).toThrow(/"short" must be 32 bytes/);
    expect(() => parseCodecKeys('k:not base64!')).toThrow(/"k" is not base64/);
    const dup = generateCodecKey('d');
    expect(() => parseCodecKeys(`${dup},${dup}`)).toThrow(/appears twice/);
    try {
      parseCodecKeys(`short:${Buffer.alloc(16, 7).toString('base64')}`);
    } catch (err) {
      expect((err as Error).message).not.toContain(Buffer.alloc(16, 7).toString('base64'));
    }
  });
});
