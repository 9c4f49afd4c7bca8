/**
 * TEST-ONLY payload encryption key, used by every integration test (worker and clients), the
 * recorded histories in test/fixtures/histories/ and their replay. It is public (derived from the
 * sentence below, committed on purpose) and protects nothing: never configure it anywhere else.
 * Production keys come from PAYLOAD_CODEC_KEYS / PAYLOAD_CODEC_KEYS_FILE (see .env.example).
 */
import { createHash } from 'node:crypto';
import { EncryptionCodec, parseCodecKeys } from '../../temporal/codec';
import { paymentDataConverter } from '../../temporal/data-converter';

const TEST_ONLY_KEY = createHash('sha256')
  .update('amazon-pay-temporal TEST-ONLY payload key: public, protects nothing')
  .digest('base64');

/** PAYLOAD_CODEC_KEYS for child processes of the tests (the worker process of the crash tests). */
export const TEST_CODEC_KEYS = `test-only:${TEST_ONLY_KEY}`;
export const testCodec = new EncryptionCodec(parseCodecKeys(TEST_CODEC_KEYS));
/** The data converter of every test worker and client. */
export const testDataConverter = paymentDataConverter(testCodec);
