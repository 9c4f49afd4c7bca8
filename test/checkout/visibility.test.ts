// Operators find any checkout in the Web UI and with `temporal workflow list --query`, by the
// ids Amazon and the shop use, and see its status; search attributes hold no personal data.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureTemporalCli } from '../../scripts/provision';
import { searchAttributeTypes } from '../../workflows/search-attributes';
import { startTestStack, type TestStack } from '../support/stack';
import { finalAmount, paidCheckout } from './helpers';
import { captureUpdate } from '../../workflows/checkout-messages';

const run = promisify(execFile);
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
});

/** Visibility is eventually consistent: ask the real CLI until the answer is there. */
async function listWithCli(query: string): Promise<Array<{ execution: { workflowId: string } }>> {
  const cli = await ensureTemporalCli();
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { stdout } = await run(cli, [
      'workflow',
      'list',
      '--address',
      inject('temporalAddress'),
      '--query',
      query,
      '-o',
      'json',
    ]);
    const rows = stdout.trim() ? (JSON.parse(stdout) as Array<{ execution: { workflowId: string } }>) : [];
    if (rows.length > 0 || Date.now() > deadline) return rows;
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('operators find checkouts', () => {
  it('by order reference, charge permission, charge and status with the real temporal CLI; no personal data in search attributes', async () => {
    if (process.env.TEMPORAL_ADDRESS) return; // the CLI check needs our own dev server's address
    const amount = finalAmount('19.00', 'Authorize');
    const { handle, outcome } = await paidCheckout(stack, amount);
    if (!outcome.completed) throw new Error('checkout did not complete');
    await handle.executeUpdate(captureUpdate, { args: [{}] });

    const byOrder = await listWithCli(
      `MerchantReferenceId='${amount.merchantReferenceId}' AND CheckoutStatus='Captured'`,
    );
    expect(byOrder.map((r) => r.execution.workflowId)).toEqual([handle.workflowId]);
    const byPermission = await listWithCli(`AmazonChargePermissionId='${outcome.chargePermissionId}'`);
    expect(byPermission.map((r) => r.execution.workflowId)).toContain(handle.workflowId);
    const byCharge = await listWithCli(`AmazonChargeId='${outcome.chargeId}'`);
    expect(byCharge.map((r) => r.execution.workflowId)).toEqual([handle.workflowId]);

    const { searchAttributes } = await handle.describe();
    expect(
      Object.keys(searchAttributes)
        .filter((k) => k in searchAttributeTypes)
        .sort(),
    ).toEqual([
      'AmazonChargeId',
      'AmazonChargePermissionId',
      'AmazonCheckoutSessionId',
      'CheckoutStatus',
      'MerchantReferenceId',
    ]);
    const ours = Object.fromEntries(Object.entries(searchAttributes).filter(([k]) => k in searchAttributeTypes));
    const attributes = JSON.stringify(ours);
    const { buyer } = await stack.amazonPay.getChargePermission(outcome.chargePermissionId);
    expect(buyer?.name).toBeTruthy();
    expect(attributes).not.toContain(buyer!.name!);
    expect(attributes).not.toContain(buyer!.email!);
    expect(attributes).not.toMatch(/@/); // no e-mail addresses
  });
});
