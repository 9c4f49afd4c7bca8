// "At any load": Amazon throttles (429) and fails (5xx) while several checkouts run at once. The
// activities' retry policies back off and reuse their idempotency keys, so every checkout still
// ends captured, exactly once, and no workflow fails.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { captureUpdate, completeUpdate, setFinalAmountUpdate } from '../../workflows/checkout-messages';
import { startTestStack, type TestStack } from '../support/stack';
import { countOf, finalAmount, openCheckout, statusOf } from './helpers';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ ipn: false });
});
afterAll(async () => {
  await stack?.[Symbol.asyncDispose]();
});

const CHECKOUTS = 4;

/** Repeats a request answered AmazonPayUnavailable (the API's 503 with Retry-After), like a storefront. */
async function retryWhileUnavailable<T>(send: () => Promise<T>, attempts = 10): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await send();
    } catch (err) {
      const type =
        err instanceof WorkflowUpdateFailedError ? (err.cause as { type?: string } | undefined)?.type : undefined;
      if (type !== 'AmazonPayUnavailable' || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

describe('under throttling and server errors', () => {
  it('every checkout completes and captures exactly once', { timeout: 300_000 }, async () => {
    const opened = await Promise.all(Array.from({ length: CHECKOUTS }, () => openCheckout(stack)));
    const before = {
      complete: await countOf(stack, 'completeCheckoutSession'),
      capture: await countOf(stack, 'captureCharge'),
    };

    // From here on Amazon is unreliable: one call in five fails with a 5xx before doing anything.
    await stack.admin.setFaults({ errorRate: 0.2 });
    try {
      await Promise.all(
        opened.map(async ({ handle }, i) => {
          const amount = finalAmount(`${10 + i}.00`, 'Authorize');
          const { amazonPayRedirectUrl } = await retryWhileUnavailable(() =>
            handle.executeUpdate(setFinalAmountUpdate, { args: [amount] }),
          );
          await stack.admin.pay(amazonPayRedirectUrl, 'happy');
        }),
      );
      // And now it throttles too: Complete and Capture admit two requests at once, refilling one per second.
      await stack.admin.setFaults({
        errorRate: 0.2,
        throttling: {
          completeCheckoutSession: { maxQuota: 2, restorePerSecond: 1 },
          captureCharge: { maxQuota: 2, restorePerSecond: 1 },
        },
      });
      // The buyer's complete has a bounded budget: past it the answer is "retry later", as a storefront does.
      const outcomes = await Promise.all(
        opened.map(({ handle }) => retryWhileUnavailable(() => handle.executeUpdate(completeUpdate))),
      );
      for (const outcome of outcomes) expect(outcome).toMatchObject({ completed: true, status: 'Authorized' });
      await Promise.all(opened.map(({ handle }) => handle.executeUpdate(captureUpdate, { args: [{}] })));
    } finally {
      await stack.admin.setFaults({ errorRate: 0, throttling: 'off' });
    }

    for (const [i, { handle, checkoutSessionId }] of opened.entries()) {
      expect(await statusOf(handle)).toMatchObject({ status: 'Captured', charge: { state: 'Captured' } });
      const { movements } = await stack.admin.moneyMovements({ checkoutSessionId });
      expect(movements.filter((m) => m.kind === 'authorization')).toHaveLength(1);
      expect(movements.filter((m) => m.kind === 'capture').map((m) => m.amount)).toEqual([`${10 + i}.00`]);
    }
    // The faults really bit: at least the requests over the burst were throttled and retried.
    expect((await countOf(stack, 'completeCheckoutSession')) - before.complete).toBeGreaterThanOrEqual(CHECKOUTS + 2);
    expect((await countOf(stack, 'captureCharge')) - before.capture).toBeGreaterThanOrEqual(CHECKOUTS + 2);
  });
});
