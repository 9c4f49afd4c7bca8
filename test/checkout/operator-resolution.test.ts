import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureTemporalCli } from '../../scripts/provision';
import { createCodecRoutes } from '../../temporal/codec-server';
import { startTestStack, testCodec, type TestStack } from '../support/stack';
import { chargeUpdate, type CheckoutStatus, type ResolveAmazonPayCallInput } from '../../workflows/checkout-messages';
import { eventsQuery } from '../../workflows/events/messages';
import { OperatorAttention } from '../../workflows/search-attributes';
import { UNANSWERED_RESENDS } from '../../workflows/checkout/unanswered';
import { finalAmount, paidCheckout, statusOf, updateFailure, usd } from './helpers';
import { attentionOf, resolve, storefront, unanswered } from './operator-resolution-helpers';
import { recordHistory } from './record';
import { until } from '../support/until';

// A Create Charge that never got an answer is given up to an operator (workflows/checkout/unanswered.ts).
// The runbook's way to resolve it: the Temporal CLI, reading and writing payloads through a codec
// server (the API's /codec routes, here on their own with the tests' key).
let stack: TestStack;
let codec: ServerType;
let codecEndpoint: string;
const CODEC_TOKEN = `codec-${randomUUID()}`;

beforeAll(async () => {
  stack = await startTestStack();
  const routes = createCodecRoutes({ codec: testCodec, tokens: [CODEC_TOKEN], allowedOrigins: [] });
  codec = await new Promise((resolve) => {
    const s = serve({ fetch: routes.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const addr = codec.address();
  codecEndpoint = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/codec`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => (codec ? codec.close(() => resolve()) : resolve()));
  await stack?.[Symbol.asyncDispose]();
});

/** A Confirm checkout whose charge (captureNow false) the storefront sent, then retried until it was given up. */
async function givenUpCharge(executed: boolean, amount = '30.00') {
  const { handle, outcome, checkoutSessionId } = await paidCheckout(stack, finalAmount(amount, 'Confirm'));
  if (!outcome.completed) throw new Error('not completed');
  const send = () => handle.executeUpdate(chargeUpdate, { args: [{ requestId: 'ship-1' }] });
  const failures = await unanswered(stack, 'createCharge', executed, async () => {
    const seen: Array<string | undefined> = [];
    // The first call, then one resend per retry of the same request; the last resend gives it up.
    for (let i = 0; i <= UNANSWERED_RESENDS; i++) seen.push((await updateFailure(send())).type);
    return seen;
  });
  expect(failures.at(-1)).toBe('UnresolvedAmazonPayCall');
  return { handle, outcome, checkoutSessionId };
}

/** The charge the simulator holds on a charge permission (its admin API: what Seller Central would show). */
async function chargesAtAmazon(chargePermissionId: string): Promise<Array<{ chargeId: string }>> {
  const charges = (await stack.admin.objects()).charges as Array<{ chargeId: string; chargePermissionId: string }>;
  return charges.filter((c) => c.chargePermissionId === chargePermissionId);
}

/** The merchant's API, as the storefront calls it. */
const api = (method: string, path: string, body?: unknown) => storefront(stack, method, path, body);

/** docs/runbook.md's command, as an operator runs it (exit code and output). */
async function cli(workflowId: string, input: ResolveAmazonPayCallInput) {
  const temporal = await ensureTemporalCli();
  // prettier-ignore
  const args = [
    'workflow', 'update', 'execute',
    '--workflow-id', workflowId,
    '--name', 'resolveAmazonPayCall',
    '--input', JSON.stringify(input),
    '--codec-endpoint', codecEndpoint,
    '--codec-auth', `Bearer ${CODEC_TOKEN}`,
    '--address', inject('temporalAddress'),
    '--namespace', stack.namespace,
    '--output', 'json',
  ];
  return promisify(execFile)(temporal, args, { timeout: 60_000 });
}

describe('an Amazon Pay call given up to an operator', () => {
  it('a charge never answered is given up: refused with UnresolvedAmazonPayCall, in the memo, and searchable by OperatorAttention', async () => {
    const { handle, outcome } = await givenUpCharge(true);
    expect(await chargesAtAmazon(outcome.chargePermissionId)).toHaveLength(1);
    const described = await handle.describe();
    expect(described.memo?.unresolvedAmazonPayCall).toMatchObject({ operation: 'createCharge', requestId: 'ship-1' });
    expect(described.typedSearchAttributes.get(OperatorAttention)).toBe('UnresolvedAmazonPayCall: createCharge');
    expect(await statusOf(handle)).toMatchObject({
      status: 'Confirmed',
      charge: null,
      lastReasonCode: 'UnresolvedAmazonPayCall',
      attention: { reason: 'UnresolvedAmazonPayCall: createCharge' },
    });
    // docs/runbook.md's search finds it (visibility is eventually consistent: wait for it).
    const temporal = await ensureTemporalCli();
    // prettier-ignore
    const list = ['workflow', 'list', '--query', 'OperatorAttention IS NOT NULL', '--address', inject('temporalAddress'),
      '--namespace', stack.namespace, '--output', 'json'];
    await until(async () => {
      const { stdout } = await promisify(execFile)(temporal, list, { timeout: 30_000 });
      return stdout.includes(handle.workflowId);
    }, 'the runbook query to list the checkout');
    await handle.terminate('test done');
    await recordHistory(handle, 'charge-given-up-searchable');
  });

  it("executed, with the charge id Amazon has, through the runbook's CLI command: the checkout records the charge and the storefront captures it", async () => {
    const { handle, checkoutSessionId, outcome } = await givenUpCharge(true);
    const [atAmazon] = await chargesAtAmazon(outcome.chargePermissionId);
    const { stdout } = await cli(handle.workflowId, {
      operation: 'createCharge',
      outcome: 'executed',
      chargeId: atAmazon!.chargeId,
      note: 'ops@shop.example: Seller Central shows the charge authorized',
    });
    // The CLI decoded the answer through the codec server: the checkout's status.
    expect(JSON.stringify(JSON.parse(stdout))).toContain(atAmazon!.chargeId);
    const status = await statusOf(handle);
    expect(status).toMatchObject({
      status: 'Authorized',
      charge: { chargeId: atAmazon!.chargeId, state: 'Authorized', chargeAmount: usd('30.00') },
      lastReasonCode: null,
      attention: null,
    });
    expect(status.charge).not.toHaveProperty('chargePermissionId');
    const described = await handle.describe();
    expect(described.memo?.unresolvedAmazonPayCall).toBeUndefined();
    expect(described.memo?.amazonPayCallResolution).toMatchObject({
      operation: 'createCharge',
      outcome: 'executed',
      objectId: atAmazon!.chargeId,
      note: 'ops@shop.example: Seller Central shows the charge authorized',
    });
    expect(described.typedSearchAttributes.get(OperatorAttention)).toBeUndefined();
    // The merchant hears it as for an answered call, then the resolution.
    const types = (await handle.query(eventsQuery)).map((e) => e.type);
    expect(types.slice(types.indexOf('operator.attention_required'))).toEqual([
      'operator.attention_required',
      'payment.authorized',
      'operator.call_resolved',
    ]);
    // The storefront's retry of its request gets the charge; then it captures.
    expect(await handle.executeUpdate(chargeUpdate, { args: [{ requestId: 'ship-1' }] })).toMatchObject({
      chargeId: atAmazon!.chargeId,
    });
    const captured = await api('POST', `/v1/checkouts/${checkoutSessionId}/capture`, {});
    expect(captured).toMatchObject({ status: 200, body: { chargeId: atAmazon!.chargeId, state: 'Captured' } });
    expect(await chargesAtAmazon(outcome.chargePermissionId)).toHaveLength(1);
    await handle.terminate('test done');
    await recordHistory(handle, 'charge-given-up-resolved-executed');
  });

  it('not_executed: the given-up state is cleared and a new charge request (new key) charges once', async () => {
    const { handle, checkoutSessionId, outcome } = await givenUpCharge(false);
    expect(await chargesAtAmazon(outcome.chargePermissionId)).toHaveLength(0);
    const status = await resolve(handle, {
      operation: 'createCharge',
      outcome: 'not_executed',
      note: 'ops@shop.example: no charge in Seller Central',
    });
    expect(status).toMatchObject({ status: 'Confirmed', charge: null, lastReasonCode: null, attention: null });
    expect(await attentionOf(handle)).toBeUndefined();
    expect((await handle.describe()).memo).toMatchObject({
      amazonPayCallResolution: { outcome: 'not_executed', objectId: null },
    });
    expect((await handle.query(eventsQuery)).at(-1)).toMatchObject({
      type: 'operator.call_resolved',
      data: { detail: expect.stringContaining('new Idempotency-Key') },
    });
    const charged = await api('POST', `/v1/checkouts/${checkoutSessionId}/charge`, { captureNow: true });
    expect(charged).toMatchObject({ status: 201, body: { state: 'Captured' } });
    expect(await chargesAtAmazon(outcome.chargePermissionId)).toHaveLength(1);
    await handle.terminate('test done');
  });

  it("a charge id Amazon does not have, or another order's, is rejected and changes nothing", async () => {
    const { handle, outcome } = await givenUpCharge(true);
    const other = await paidCheckout(stack, finalAmount('30.00', 'AuthorizeWithCapture'));
    if (!other.outcome.completed) throw new Error('not completed');
    const before = await statusOf(handle);
    const wrong = (chargeId: string) =>
      updateFailure(resolve(handle, { operation: 'createCharge', outcome: 'executed', chargeId, note: 'ops: typo?' }));
    expect(await wrong(other.outcome.chargeId!)).toMatchObject({
      type: 'ResolutionMismatch',
      message: expect.stringContaining(`belongs to charge permission ${other.outcome.chargePermissionId}`),
    });
    expect(await wrong('S01-0000000-0000000-C000000')).toMatchObject({
      type: 'ResolutionMismatch',
      message: expect.stringContaining('Amazon Pay has no charge S01-0000000-0000000-C000000'),
    });
    const { updatedAt: _before, ...unchanged } = before;
    const after: Partial<CheckoutStatus> = await statusOf(handle);
    delete after.updatedAt;
    expect(after).toEqual(unchanged);
    expect((await handle.describe()).memo?.unresolvedAmazonPayCall).toMatchObject({ operation: 'createCharge' });
    expect(await attentionOf(handle)).toBe('UnresolvedAmazonPayCall: createCharge');
    // Still refused for the storefront; the right id still resolves it.
    expect(await updateFailure(handle.executeUpdate(chargeUpdate, { args: [{ requestId: 'ship-2' }] }))).toMatchObject({
      type: 'UnresolvedAmazonPayCall',
    });
    const [atAmazon] = await chargesAtAmazon(outcome.chargePermissionId);
    expect(
      await resolve(handle, {
        operation: 'createCharge',
        outcome: 'executed',
        chargeId: atAmazon!.chargeId,
        note: 'ops',
      }),
    ).toMatchObject({ charge: { chargeId: atAmazon!.chargeId } });
    await Promise.all([handle.terminate('test done'), other.handle.terminate('test done')]);
  });

  it('nothing unresolved: the validator rejects the resolution, the history keeps no trace of it', async () => {
    const { handle, outcome } = await paidCheckout(stack, finalAmount('12.00', 'Confirm'));
    if (!outcome.completed) throw new Error('not completed');
    expect(
      await updateFailure(resolve(handle, { operation: 'createCharge', outcome: 'not_executed', note: 'ops' })),
    ).toMatchObject({ type: 'NothingUnresolved' });
    // A malformed resolution (as hand-written CLI JSON may be) is rejected the same way.
    const malformed = { operation: 'createCharge', outcome: 'executed', note: 'ops' } as ResolveAmazonPayCallInput;
    expect(await updateFailure(resolve(handle, malformed))).toMatchObject({
      type: 'InvalidParameterValue',
      message: expect.stringContaining('chargeId'),
    });
    const accepted = ((await handle.fetchHistory()).events ?? []).filter(
      (e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'resolveAmazonPayCall',
    );
    expect(accepted).toEqual([]);
    await handle.terminate('test done');
  });
});
