// Replays every recorded history (test/fixtures/histories/*.json: checkouts, session creation,
// notification inboxes) against the current workflow code: a change that would break running
// workflows (non-determinism) fails here. The fixtures are recorded encrypted with the test-only
// key (test/support/codec.ts), so replay decodes with it. Record new fixtures with
// `RECORD_HISTORIES=1 npx vitest run --project integration test/checkout test/ipn/routing.test.ts test/api/checkout-sessions.test.ts`.
import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { ENCRYPTED_ENCODING, KEY_ID_METADATA } from '../temporal/codec';
import { HISTORIES_DIR } from './checkout/record';
import { fromJson, PLAIN_BY_DESIGN, payloadsOf, type PayloadJson } from './support/history-payloads';
import { testCodec, testDataConverter, workflowBundle } from './support/stack';

const fixtures = async () => {
  const files = (await readdir(HISTORIES_DIR)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(files.map(async (file) => ({ file, text: await readFile(`${HISTORIES_DIR}${file}`, 'utf8') })));
};

describe('replay of recorded workflow histories', () => {
  it('every fixture replays without non-determinism', async () => {
    const files = await fixtures();
    expect(files.length).toBeGreaterThan(0);
    const histories = files.map(({ file, text }) => ({ workflowId: file, history: historyFromJSON(JSON.parse(text)) }));
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: await workflowBundle(), dataConverter: testDataConverter },
      histories,
    )) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  });
});

/**
 * The simulator's buyer (simulator/engine.ts: associateBuyer, simulatedAddress): what Get Checkout
 * Session answers in every recorded checkout.
 */
const BUYER_DATA = ['Jane Doe', 'jane.doe@example.com', '10 Ditka Ave', 'Suite 2500', '800-000-0000'];

/** A payload as Temporal stores it, made readable: metadata and data decoded from base64, not decrypted. */
const stored = (p: PayloadJson) =>
  `${Object.values(p.metadata ?? {})
    .map((v) => Buffer.from(v, 'base64').toString('utf8'))
    .join(' ')} ${Buffer.from(p.data ?? '', 'base64').toString('utf8')}`;
const buyerDataIn = (text: string) => BUYER_DATA.filter((b) => text.includes(b));
describe('recorded histories hold no buyer data readable without the key (issue 8, defect 6)', () => {
  it('the scan finds buyer data where it is stored in clear (the check is not vacuous)', () => {
    const plain = {
      metadata: { encoding: Buffer.from('json/plain').toString('base64') },
      data: Buffer.from(JSON.stringify({ buyer: { email: 'jane.doe@example.com' } })).toString('base64'),
    };
    expect(buyerDataIn(stored(plain))).toEqual(['jane.doe@example.com']);
    expect(payloadsOf({ events: [{ x: { result: { payloads: [plain] } } }] })).toHaveLength(1);
  });

  it('no fixture contains a buyer name, email or address in its text or in any payload as Temporal stores it', async () => {
    const leaks: string[] = [];
    for (const { file, text } of await fixtures()) {
      for (const b of buyerDataIn(text)) leaks.push(`${file}: "${b}" in the JSON text`);
      for (const { path, payload } of payloadsOf(JSON.parse(text))) {
        for (const b of buyerDataIn(stored(payload))) leaks.push(`${file}${path}: "${b}"`);
      }
    }
    expect(leaks).toEqual([]);
  });

  it('every payload the codec covers is encrypted with the test key and decodes with it; the rest carry no buyer data', async () => {
    const problems: string[] = [];
    let encrypted = 0;
    for (const { file, text } of await fixtures()) {
      for (const { path, payload } of payloadsOf(JSON.parse(text))) {
        const p = fromJson(payload);
        const encoding = Buffer.from(p.metadata!.encoding!).toString();
        if (encoding !== ENCRYPTED_ENCODING) {
          if (!PLAIN_BY_DESIGN.test(path)) problems.push(`${file}${path}: stored as ${encoding}, not encrypted`);
          continue;
        }
        encrypted++;
        const keyId = Buffer.from(p.metadata![KEY_ID_METADATA] ?? new Uint8Array()).toString();
        if (keyId !== testCodec.encryptingKeyId) problems.push(`${file}${path}: key "${keyId}"`);
        try {
          const [decoded] = await testCodec.decode([p]);
          defaultPayloadConverter.fromPayload(decoded!);
        } catch (err) {
          problems.push(`${file}${path}: ${(err as Error).message}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(encrypted).toBeGreaterThan(0);
  });
});
