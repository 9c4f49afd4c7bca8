interface Deadline {
  id: number;
  at: number;
  label: string;
  run: () => void;
}

/**
 * The simulator's clock: wall time plus an offset that admin calls can advance. Deadlines fire
 * in due order, both when real time reaches them (a single unref'd timer) and when the clock is
 * advanced past them. During a run, now() is pinned to the deadline's due time so that the
 * timestamps written by the transition are the ones Amazon would have written.
 */
export class SimClock {
  private offsetMs = 0;
  private pinned: number | undefined;
  private deadlines: Deadline[] = [];
  private nextId = 1;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private closed = false;

  constructor(private readonly onError: (error: unknown, label: string) => void = () => {}) {}

  nowMs(): number {
    return this.pinned ?? Date.now() + this.offsetMs;
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  /** Schedules `run` at simulator time `at`; returns an id for cancel(). */
  at(at: number, label: string, run: () => void): number {
    const id = this.nextId++;
    // Kept sorted by (at, id): ids only grow, so the new deadline goes after every one due at or
    // before `at` (binary search for that upper bound instead of re-sorting on every insert).
    let low = 0;
    let high = this.deadlines.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.deadlines[mid]!.at <= at) low = mid + 1;
      else high = mid;
    }
    this.deadlines.splice(low, 0, { id, at, label, run });
    this.arm();
    return id;
  }

  after(ms: number, label: string, run: () => void): number {
    return this.at(this.nowMs() + ms, label, run);
  }

  cancel(id: number | undefined): void {
    if (id === undefined) return;
    this.deadlines = this.deadlines.filter((d) => d.id !== id);
  }

  pending(): Array<{ at: string; label: string }> {
    return this.deadlines.map((d) => ({ at: new Date(d.at).toISOString(), label: d.label }));
  }

  /** Moves the clock forward by `ms`, running every deadline that falls due, in order. */
  advance(ms: number): Date {
    if (ms < 0) throw new RangeError('The simulator clock only moves forward');
    const target = this.nowMs() + ms;
    this.runDue(target);
    this.offsetMs += ms;
    this.arm();
    return this.now();
  }

  /** Runs deadlines due by real time; called by the timer and before each request. */
  tick(): void {
    this.runDue(this.nowMs());
    this.arm();
  }

  reset(): void {
    this.deadlines = [];
    this.offsetMs = 0;
    this.pinned = undefined;
    this.arm();
  }

  close(): void {
    this.closed = true;
    this.deadlines = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private runDue(until: number): void {
    if (this.running) return;
    this.running = true;
    const floor = this.nowMs();
    try {
      for (;;) {
        const next = this.deadlines[0];
        if (!next || next.at > until) break;
        this.deadlines.shift();
        this.pinned = Math.max(next.at, floor);
        try {
          next.run();
        } catch (error) {
          this.onError(error, next.label);
        }
      }
    } finally {
      this.pinned = undefined;
      this.running = false;
    }
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const next = this.deadlines[0];
    if (!next || this.closed) return;
    const delay = Math.min(Math.max(next.at - this.nowMs(), 0), 2 ** 31 - 1);
    this.timer = setTimeout(() => this.tick(), delay);
    this.timer.unref();
  }
}
