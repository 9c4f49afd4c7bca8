// Temporal's floor for the benchmarks: workflows that do what a checkout or an IPN does in Temporal
// terms (updates, activities, signals) and nothing else. Bundled for the benchmark's own workers
// (bench/stack.ts); the test owner stands in for a checkout as the inbox's owner in P3.
import {
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { BareActivities } from './activities';

export { testNotificationOwner } from '../../test/ipn/owner-workflow';

/**
 * How many no-op activities a bare checkout runs, mirroring the checkout workflow of a happy
 * Authorize checkout without IPNs (bench/throughput.ts checks the real history against it):
 * review: getCheckoutReview in the handler, getCheckoutSession in the main loop at start;
 * setFinalAmount: updateCheckoutSession; complete: completeCheckoutSession + getCharge in the
 * handler, then registerNotificationOwner in the main loop; capture: captureCharge.
 */
export interface BareShape {
  onStart: number;
  updates: Record<string, number>;
  /** Run by the main loop once this update has finished. */
  afterUpdate: Record<string, number>;
}

export const CHECKOUT_SHAPE: BareShape = {
  onStart: 1,
  updates: { review: 1, setFinalAmount: 1, complete: 2, capture: 1 },
  afterUpdate: { complete: 1 },
};

const { noop } = proxyActivities<BareActivities>({ startToCloseTimeout: '30s' });

export async function bareCheckout(shape: BareShape): Promise<void> {
  const pending: number[] = [];
  for (const [name, activities] of Object.entries(shape.updates)) {
    setHandler(defineUpdate<number, [unknown?]>(name), async () => {
      for (let i = 0; i < activities; i++) await noop();
      if (shape.afterUpdate[name]) pending.push(shape.afterUpdate[name]);
      return activities;
    });
  }
  for (let i = 0; i < shape.onStart; i++) await noop();
  // Like the checkout, it stays open (in the worker's cache) after its last update.
  for (;;) {
    await condition(() => pending.length > 0);
    const n = pending.shift()!;
    for (let i = 0; i < n; i++) await noop();
  }
}

export interface SinkState {
  count: number;
  /** Workflow time of each signal's arrival, by the id it carried. */
  seenAt: Record<string, number>;
}

export const sinkSignal = defineSignal<[{ notificationId: string }]>('sink');
export const sinkQuery = defineQuery<SinkState>('sinkState');

/** The raw-signal baseline of P3: records each signal, nothing else. */
export async function signalSink(): Promise<void> {
  const state: SinkState = { count: 0, seenAt: {} };
  setHandler(sinkSignal, ({ notificationId }) => {
    state.count++;
    state.seenAt[notificationId] = Date.now();
  });
  setHandler(sinkQuery, () => state);
  await condition(() => false);
}

/**
 * One hop like the notification inbox's (signal in, external signal out) and nothing else, so P3
 * can tell the cost of Temporal's workflow-to-workflow hop from the cost of our inbox.
 */
export async function signalRelay(targetWorkflowId: string): Promise<void> {
  const queue: { notificationId: string }[] = [];
  setHandler(sinkSignal, (n) => void queue.push(n));
  for (;;) {
    await condition(() => queue.length > 0);
    await getExternalWorkflowHandle(targetWorkflowId).signal(sinkSignal, queue.shift()!);
  }
}
