/**
 * The one data converter of this service: the default payload converter (JSON) followed by the
 * encryption codec. The worker (Worker.create, runReplayHistories), every Client (API, worker's
 * signalling client, tests, benchmarks) and the codec server use the same keys.
 *
 * What the codec covers, as the SDK 1.24 applies it: workflow and activity inputs and results,
 * update and query arguments and answers, signals, failure details, memos (client start options
 * and the workflow's upsertMemo both go through the codec) and user metadata. Not covered: search
 * attributes (the server indexes them, so they stay in clear) and headers. Failure messages and
 * stack traces also stay in clear (DefaultFailureConverter without encodeCommonAttributes):
 * neither may carry personal data.
 */
import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec, type CodecKey } from './codec';

export interface PaymentDataConverter extends DataConverter {
  payloadCodecs: [EncryptionCodec];
}

export function paymentDataConverter(keysOrCodec: readonly CodecKey[] | EncryptionCodec): PaymentDataConverter {
  const codec = keysOrCodec instanceof EncryptionCodec ? keysOrCodec : new EncryptionCodec(keysOrCodec);
  return { payloadCodecs: [codec] };
}
