import { CancellationScope, condition, patched, sleep } from '@temporalio/workflow';

/** patched() id: histories recorded before it started a new timer for a deadline at every wake-up. */
export const ONE_TIMER_PER_DEADLINE = 'one-timer-per-deadline';

/**
 * Waits on business deadlines (the refund window, an authorization's expiry, a billing date) with
 * one durable timer per deadline, however often a message wakes the owner before it.
 *
 * Why not `condition(fn, deadline - now)` at each turn: that starts a timer every time it is
 * awaited and cancels it when a message comes first. Temporal Cloud bills every timer started, so an
 * order woken by five IPNs during its 180-day refund window paid six timers for one deadline.
 */
export class Deadlines {
  private readonly timers = new Map<number, { fired: boolean }>();

  /**
   * True as soon as `fn` holds, false once `at` (epoch ms) has passed: `condition(fn, at - now)`
   * with the timer kept for the next wait on the same deadline.
   */
  async until(fn: () => boolean, at: number): Promise<boolean> {
    if (!patched(ONE_TIMER_PER_DEADLINE)) return condition(fn, Math.max(1, at - Date.now()));
    if (fn()) return true;
    let timer = this.timers.get(at);
    if (!timer) {
      const t = { fired: Date.now() >= at };
      timer = t;
      this.timers.set(at, t);
      if (!t.fired) {
        // Not cancellable: it outlives the wait that started it, and a cancelled workflow's
        // scope must not turn it into an unhandled rejection.
        void CancellationScope.nonCancellable(() => sleep(at - Date.now())).then(() => {
          t.fired = true;
        });
      }
    }
    const t = timer;
    await condition(() => fn() || t.fired);
    if (fn()) return true;
    // Deadlines only move forward: the ones passed are done with.
    for (const k of [...this.timers.keys()]) if (k <= at) this.timers.delete(k);
    return false;
  }
}
