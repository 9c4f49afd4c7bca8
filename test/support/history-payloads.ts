/**
 * Payloads of a recorded history in its JSON form (test/fixtures/histories/*.json, proto3 JSON:
 * metadata values and data in base64), for the fixture checks in test/replay.test.ts and for
 * encrypting a fixture that can no longer be recorded (test/support/encrypt-fixture.ts).
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Payload } from '@temporalio/common';
import { isEncrypted } from '../../temporal/codec';
import { testCodec } from './codec';

export interface PayloadJson {
  metadata?: Record<string, string>;
  data?: string;
}

/**
 * Payloads the SDK does not pass through the codec: search attributes (the server indexes them),
 * headers, and the patch markers core writes itself. They must hold no personal data either.
 */
export const PLAIN_BY_DESIGN = /\.searchAttributes\.|\.header\.|\.details\.patch-data\./;

/** Every payload of a parsed history with where it sits (e.g. `.events[12].activityTaskCompletedEventAttributes.result.payloads[0]`). */
export function payloadsOf(history: unknown): Array<{ path: string; payload: PayloadJson }> {
  const found: Array<{ path: string; payload: PayloadJson }> = [];
  const walk = (v: unknown, path: string) => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (o.metadata && typeof o.metadata === 'object' && 'encoding' in o.metadata)
        found.push({ path, payload: o as PayloadJson });
      else for (const [k, x] of Object.entries(o)) walk(x, `${path}.${k}`);
    }
  };
  walk(history, '');
  return found;
}

export const fromJson = (p: PayloadJson): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});

export const toJson = (p: Payload): PayloadJson => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

/**
 * Encrypts, in place and with the test key, every payload of a fixture the SDK would have
 * encrypted: for fixtures whose test no longer exists (test/fixtures/histories/confirm.json keeps
 * a Confirm history from before patched() changed it). Events and their order are unchanged.
 */
export async function encryptFixture(file: string): Promise<number> {
  const history = JSON.parse(await readFile(file, 'utf8')) as unknown;
  let count = 0;
  for (const { path, payload } of payloadsOf(history)) {
    if (PLAIN_BY_DESIGN.test(path) || isEncrypted(fromJson(payload))) continue;
    const [encrypted] = await testCodec.encode([fromJson(payload)]);
    const json = toJson(encrypted!);
    // Replace the fields in place: the object sits inside the parsed history.
    delete payload.metadata;
    delete payload.data;
    Object.assign(payload, json);
    count++;
  }
  await writeFile(file, JSON.stringify(history, null, 2));
  return count;
}
