import { describe, expect, it, vi } from 'vitest';
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

  it('keeps deadlines in due order with ties in scheduling order, without re-sorting on every insert', () => {
    const clock = new SimClock();
    const start = clock.nowMs();
    const scheduled: Array<{ label: string; at: number; seq: number }> = [];
    const ran: string[] = [];
    const sort = vi.spyOn(Array.prototype, 'sort');
    try {
      // Few distinct due times, so many ties; inserted in no particular order.
      for (let seq = 0; seq < 400; seq++) {
        const at = start + ((seq * 7919) % 23) * 100;
        const label = `d${seq}`;
        scheduled.push({ label, at, seq });
        clock.at(at, label, () => ran.push(label));
      }
      expect(sort).not.toHaveBeenCalled();
    } finally {
      sort.mockRestore();
    }
    const expected = [...scheduled].sort((a, b) => a.at - b.at || a.seq - b.seq).map((d) => d.label);
    expect(clock.pending().map((d) => d.label)).toEqual(expected);
    clock.cancel(clock.at(start + 50, 'canceled', () => ran.push('canceled')));
    clock.advance(3_000);
    expect(ran).toEqual(expected);
    clock.close();
  });
});
