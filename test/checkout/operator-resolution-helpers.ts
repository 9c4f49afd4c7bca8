// Shared by the tests of resolveAmazonPayCall (operator-resolution*.test.ts): a call Amazon never
// answers, the storefront's API, and the operator's update.
import { randomUUID } from 'node:crypto';
import { AmazonPayError } from '../../amazon-pay';
import type { TestStack } from '../support/stack';
import { resolveAmazonPayCallUpdate, type ResolveAmazonPayCallInput } from '../../workflows/checkout-messages';
import { OperatorAttention } from '../../workflows/search-attributes';
import type { CheckoutHandle } from './helpers';

export const timeout = () =>
  new AmazonPayError({ status: 0, reasonCode: 'Timeout', message: 'answer lost in transit', retryable: false });

/**
 * Amazon never answers `operation`, however often it is sent (the way test/checkout/timers.test.ts
 * makes it not answer): with `executed`, Amazon does act on it (once: the resends carry the same key)
 * and only the answer is lost; otherwise the request never reaches Amazon. IPNs are lost meanwhile,
 * so nothing but an operator can tell the workflow.
 */
export async function unanswered<T>(
  stack: TestStack,
  operation: 'createCharge' | 'createRefund',
  executed: boolean,
  fn: () => Promise<T>,
): Promise<T> {
  const client = stack.amazonPay;
  const original = client[operation];
  const lost = async (...args: unknown[]) => {
    if (executed) await (original as (...a: unknown[]) => Promise<unknown>).apply(client, args);
    throw timeout();
  };
  client[operation] = lost as never;
  stack.simulator.configureIpn({ lossRate: 1 });
  try {
    return await fn();
  } finally {
    client[operation] = original as never;
    stack.simulator.configureIpn({ lossRate: 0 });
  }
}

/** The merchant's API, as the storefront calls it (a fresh Idempotency-Key unless one is given). */
export async function storefront(
  stack: TestStack,
  method: string,
  path: string,
  body?: unknown,
  idempotencyKey = `op-${randomUUID()}`,
): Promise<{ status: number; body: unknown }> {
  const res = await stack.app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${stack.apiKey}`,
      'idempotency-key': idempotencyKey,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

export const attentionOf = async (handle: CheckoutHandle) =>
  (await handle.describe()).typedSearchAttributes.get(OperatorAttention);

export const resolve = (handle: CheckoutHandle, input: ResolveAmazonPayCallInput) =>
  handle.executeUpdate(resolveAmazonPayCallUpdate, { args: [input] });
