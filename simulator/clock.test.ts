import { describe, expect, it } from 'vitest';
import { SimClock } from './clock';

describe('SimClock', () => {
  it('runs due deadlines in due order on advance, with now() pinned to each due time', () => {
    const clock = new SimClock();
    const start = clock.nowMs();
    const seen: Array<[string, number]> = [];
    // Absolute due times: after() reads the wall clock again, which may have moved on by a ms.
    clock.at(start + 3_000, 'c', () => seen.push(['c', clock.nowMs() - start]));
    clock.at(start + 1_000, 'a', () => {
      seen.push(['a', clock.nowMs() - start]);
      // A deadline scheduled by a deadline still runs within the same advance when due.
      clock.after(500, 'b', () => seen.push(['b', clock.nowMs() - start]));
    });
    clock.at(start + 10_000, 'late', () => seen.push(['late', 0]));
    clock.advance(5_000);
    expect(seen.map(([l]) => l)).toEqual(['a', 'b', 'c']);
    expect(seen[0]![1]).toBe(1_000);
    expect(seen[1]![1]).toBe(1_500);
    expect(clock.nowMs() - start).toBeGreaterThanOrEqual(5_000);
    expect(clock.pending().map((d) => d.label)).toEqual(['late']);
    clock.close();
  });

  it('cancels deadlines and fires due ones on real time', async () => {
    const clock = new SimClock();
    let fired = 0;
    const id = clock.after(10, 'canceled', () => (fired += 100));
    clock.cancel(id);
    clock.after(20, 'real', () => (fired += 1));
    await new Promise((r) => setTimeout(r, 80));
    expect(fired).toBe(1);
    expect(() => clock.advance(-1)).toThrow(RangeError);
    clock.close();
  });
});
