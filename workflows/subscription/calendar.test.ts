// The billing calendar (issue 10). Expected instants are written out, not computed with the code
// under test. The file runs twice: in the `unit` project under the host's zone (UTC in the
// container) and in `calendar-tz` under TZ=America/New_York (vitest.config.ts), so a result that
// depended on the host zone would fail in one of the two; the first test proves TZ took effect.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import {
  bundleWorkflowCode,
  DefaultLogger,
  makeTelemetryFilterString,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { FrequencyUnit } from '../subscription-messages';
import {
  addDays,
  cycleAt,
  isInstant,
  isLocalDate,
  isTimeZone,
  localDateOf,
  moveAnchor,
  nextCycleIndex,
  startOfNextMonth,
} from './calendar';

const MONTHLY = { unit: 'Month', value: 1 } as const;
const DAILY = { unit: 'Day', value: 1 } as const;
const cycles = (anchor: string, plan: { unit: FrequencyUnit; value: number }, count: number, tz: string) =>
  Array.from({ length: count }, (_, n) => cycleAt(anchor, plan, n, tz));
const local = (at: string, tz: string) => Temporal.Instant.from(at).toZonedDateTimeISO(tz).toPlainDateTime().toString();
const hostZone = () => new Intl.DateTimeFormat().resolvedOptions().timeZone;

describe('the host zone this file runs under', () => {
  it('is the one TZ names, and Date local time follows it (so the calendar-tz run really runs elsewhere)', () => {
    if (process.env.TZ) expect(hostZone()).toBe(process.env.TZ);
    for (const at of ['2024-01-15T12:00:00Z', '2024-07-15T12:00:00Z']) {
      const offsetMinutes = Temporal.Instant.from(at).toZonedDateTimeISO(hostZone()).offsetNanoseconds / 60e9;
      expect(new Date(at).getTimezoneOffset() + offsetMinutes).toBe(0);
    }
    if (process.env.TZ === 'America/New_York')
      expect([
        new Date('2024-01-15T12:00:00Z').getTimezoneOffset(),
        new Date('2024-07-15T12:00:00Z').getTimezoneOffset(),
      ]).toEqual([300, 240]);
  });
});

describe('cycleAt: anchor + n periods, never chained', () => {
  it('monthly from 31 January bills on the last day of shorter months and on the 31st again (14 cycles, UTC)', () => {
    expect(cycles('2024-01-31T15:00:00Z', MONTHLY, 14, 'UTC')).toEqual([
      '2024-01-31T15:00:00.000Z',
      '2024-02-29T15:00:00.000Z',
      '2024-03-31T15:00:00.000Z',
      '2024-04-30T15:00:00.000Z',
      '2024-05-31T15:00:00.000Z',
      '2024-06-30T15:00:00.000Z',
      '2024-07-31T15:00:00.000Z',
      '2024-08-31T15:00:00.000Z',
      '2024-09-30T15:00:00.000Z',
      '2024-10-31T15:00:00.000Z',
      '2024-11-30T15:00:00.000Z',
      '2024-12-31T15:00:00.000Z',
      '2025-01-31T15:00:00.000Z',
      '2025-02-28T15:00:00.000Z',
    ]);
  });

  it('monthly in Europe/Berlin keeps 10:00 local through both DST changes, so the UTC instant moves by an hour', () => {
    const tz = 'Europe/Berlin';
    const got = cycles('2024-01-31T09:00:00Z', MONTHLY, 14, tz);
    expect(got).toEqual([
      '2024-01-31T09:00:00.000Z',
      '2024-02-29T09:00:00.000Z',
      '2024-03-31T08:00:00.000Z',
      '2024-04-30T08:00:00.000Z',
      '2024-05-31T08:00:00.000Z',
      '2024-06-30T08:00:00.000Z',
      '2024-07-31T08:00:00.000Z',
      '2024-08-31T08:00:00.000Z',
      '2024-09-30T08:00:00.000Z',
      '2024-10-31T09:00:00.000Z',
      '2024-11-30T09:00:00.000Z',
      '2024-12-31T09:00:00.000Z',
      '2025-01-31T09:00:00.000Z',
      '2025-02-28T09:00:00.000Z',
    ]);
    expect(new Set(got.map((at) => local(at, tz).slice(11)))).toEqual(new Set(['10:00:00']));
  });

  it('yearly from 29 February: 28 February in common years, 29 February again in leap years, and 2100 is not one', () => {
    expect(cycles('2024-02-29T12:00:00Z', { unit: 'Year', value: 1 }, 6, 'UTC')).toEqual([
      '2024-02-29T12:00:00.000Z',
      '2025-02-28T12:00:00.000Z',
      '2026-02-28T12:00:00.000Z',
      '2027-02-28T12:00:00.000Z',
      '2028-02-29T12:00:00.000Z',
      '2029-02-28T12:00:00.000Z',
    ]);
    expect(cycleAt('2024-02-29T12:00:00Z', { unit: 'Year', value: 4 }, 19, 'UTC')).toBe('2100-02-28T12:00:00.000Z');
    expect(cycleAt('2024-02-29T12:00:00Z', { unit: 'Year', value: 4 }, 20, 'UTC')).toBe('2104-02-29T12:00:00.000Z');
  });

  it('every 3 months from 30 November: 29 February, then the 30th again (chaining would stay on the 29th)', () => {
    expect(cycles('2023-11-30T12:00:00Z', { unit: 'Month', value: 3 }, 5, 'UTC')).toEqual([
      '2023-11-30T12:00:00.000Z',
      '2024-02-29T12:00:00.000Z',
      '2024-05-30T12:00:00.000Z',
      '2024-08-30T12:00:00.000Z',
      '2024-11-30T12:00:00.000Z',
    ]);
  });

  it('weekly in America/New_York stays at 09:00 local across the March DST change', () => {
    expect(cycles('2024-03-04T14:00:00Z', { unit: 'Week', value: 1 }, 4, 'America/New_York')).toEqual([
      '2024-03-04T14:00:00.000Z',
      '2024-03-11T13:00:00.000Z',
      '2024-03-18T13:00:00.000Z',
      '2024-03-25T13:00:00.000Z',
    ]);
  });

  it('every 2 weeks in Europe/Berlin stays at 08:00 local across the October DST change', () => {
    expect(cycles('2024-10-14T06:00:00Z', { unit: 'Week', value: 2 }, 3, 'Europe/Berlin')).toEqual([
      '2024-10-14T06:00:00.000Z',
      '2024-10-28T07:00:00.000Z',
      '2024-11-11T07:00:00.000Z',
    ]);
  });

  it('daily at 02:30 New York: the day that has no 02:30 bills at 03:30, the next day at 02:30 again', () => {
    const anchor = '2024-01-10T07:30:00Z'; // 02:30 EST
    expect([59, 60, 61].map((n) => cycleAt(anchor, DAILY, n, 'America/New_York'))).toEqual([
      '2024-03-09T07:30:00.000Z',
      '2024-03-10T07:30:00.000Z',
      '2024-03-11T06:30:00.000Z',
    ]);
    expect(local(cycleAt(anchor, DAILY, 60, 'America/New_York'), 'America/New_York')).toBe('2024-03-10T03:30:00');
  });

  it('a local time that occurs twice (November fall-back) takes the earlier instant', () => {
    expect(cycles('2024-10-03T05:30:00Z', MONTHLY, 3, 'America/New_York')).toEqual([
      '2024-10-03T05:30:00.000Z',
      '2024-11-03T05:30:00.000Z',
      '2024-12-03T06:30:00.000Z',
    ]);
  });

  it('answers in Date#toISOString form whatever the anchor form, so results compare as strings', () => {
    expect(cycleAt('2024-01-31T16:00:00+01:00', MONTHLY, 0, 'UTC')).toBe('2024-01-31T15:00:00.000Z');
    expect(cycleAt('2024-01-31T15:00:00.5Z', MONTHLY, 1, 'UTC')).toBe(
      new Date('2024-02-29T15:00:00.500Z').toISOString(),
    );
  });

  it('refuses what is not a plan, a cycle, an instant or a zone with a RangeError (never a silent default)', () => {
    const anchor = '2024-01-31T15:00:00Z';
    for (const plan of [
      { unit: 'Month', value: 0 },
      { unit: 'Month', value: -1 },
      { unit: 'Month', value: 1.5 },
      { unit: 'Fortnight', value: 1 },
    ]) {
      expect(() => cycleAt(anchor, plan as { unit: FrequencyUnit; value: number }, 1, 'UTC')).toThrow(RangeError);
    }
    expect(() => cycleAt(anchor, MONTHLY, -1, 'UTC')).toThrow(RangeError);
    expect(() => cycleAt(anchor, MONTHLY, 0.5, 'UTC')).toThrow(RangeError);
    expect(() => cycleAt('2024-01-31T15:00:00', MONTHLY, 1, 'UTC')).toThrow(RangeError);
    expect(() => cycleAt('yesterday', MONTHLY, 1, 'UTC')).toThrow(RangeError);
    expect(() => cycleAt(anchor, MONTHLY, 1, 'Mars/Olympus_Mons')).toThrow(RangeError);
    expect(() => cycleAt(anchor, MONTHLY, 1, '')).toThrow(RangeError);
  });
});

describe('nextCycleIndex: the smallest n ≥ 1 strictly after', () => {
  const anchor = '2024-01-31T15:00:00Z';
  it.each([
    ['before the anchor', '2023-06-01T00:00:00Z', 1],
    ['at the anchor', anchor, 1],
    ['a millisecond before cycle 1', '2024-02-29T14:59:59.999Z', 1],
    ['exactly at cycle 1', '2024-02-29T15:00:00.000Z', 2],
    ['a millisecond after cycle 1', '2024-02-29T15:00:00.001Z', 2],
    ['between 28/29 Feb and 31 Mar', '2024-03-30T00:00:00Z', 2],
    ['exactly at cycle 13 (28 Feb 2025)', '2025-02-28T15:00:00Z', 14],
    ['a day before cycle 120', '2034-01-30T15:00:00Z', 120],
  ])('monthly from 31 Jan, %s', (_, after, expected) => {
    expect(nextCycleIndex(anchor, MONTHLY, after, 'UTC')).toBe(expected);
  });

  it('a month longer than the average (1 March → 1 April, 31 days): 31 March noon is still cycle 1 to come', () => {
    expect(nextCycleIndex('2024-03-01T00:00:00Z', MONTHLY, '2024-03-31T12:00:00Z', 'UTC')).toBe(1);
    expect(nextCycleIndex('2024-03-01T00:00:00Z', MONTHLY, '2024-04-01T00:00:00Z', 'UTC')).toBe(2);
  });

  it('ten years of daily cycles in a DST zone: lands on the exact index on both sides of a cycle', () => {
    const tz = 'America/New_York';
    const daily = '2024-01-10T07:30:00Z';
    // 3653 days: 2024, 2028 and 2032 have a 29 February.
    const tenYears = cycleAt(daily, DAILY, 3653, tz);
    expect(tenYears).toBe('2034-01-10T07:30:00.000Z');
    expect(nextCycleIndex(daily, DAILY, tenYears, tz)).toBe(3654);
    expect(nextCycleIndex(daily, DAILY, '2034-01-10T07:29:59.999Z', tz)).toBe(3653);
    // The March day without 02:30 (cycle 60 billed at 03:30), ten years on too.
    expect(nextCycleIndex(daily, DAILY, '2024-03-10T07:29:59.999Z', tz)).toBe(60);
    expect(nextCycleIndex(daily, DAILY, '2024-03-10T07:30:00Z', tz)).toBe(61);
  });

  it('a calendar date the zone skipped entirely (Samoa, 30 Dec 2011) is billed once: the cycle sharing its instant is passed over', () => {
    const tz = 'Pacific/Apia';
    const anchor = '2011-12-28T20:00:00Z';
    expect(cycles(anchor, DAILY, 4, tz).map((at) => localDateOf(at, tz))).toEqual([
      '2011-12-28',
      '2011-12-29',
      '2011-12-31',
      '2011-12-31',
    ]);
    expect(cycleAt(anchor, DAILY, 2, tz)).toBe(cycleAt(anchor, DAILY, 3, tz));
    expect(nextCycleIndex(anchor, DAILY, cycleAt(anchor, DAILY, 2, tz), tz)).toBe(4);
  });
});

describe('startOfNextMonth: when the monthly recurring cap resets', () => {
  it.each([
    [
      'Pacific/Auckland (ahead of UTC): already 1 Feb locally, so 1 Mar 00:00 NZDT',
      '2024-01-31T12:00:00Z',
      'Pacific/Auckland',
      '2024-02-29T11:00:00.000Z',
    ],
    [
      'America/Los_Angeles (behind UTC): still 31 Jan locally, so 1 Feb 00:00 PST',
      '2024-02-01T05:00:00Z',
      'America/Los_Angeles',
      '2024-02-01T08:00:00.000Z',
    ],
    ['UTC, December: next year', '2024-12-15T12:00:00Z', 'UTC', '2025-01-01T00:00:00.000Z'],
    [
      'UTC, at the very first instant of a month: the month after',
      '2024-03-01T00:00:00Z',
      'UTC',
      '2024-04-01T00:00:00.000Z',
    ],
    [
      'America/Asuncion, where 1 Oct 2017 began at 01:00 (DST at midnight)',
      '2017-09-15T12:00:00Z',
      'America/Asuncion',
      '2017-10-01T04:00:00.000Z',
    ],
  ])('%s', (_, at, tz, expected) => {
    expect(startOfNextMonth(at, tz)).toBe(expected);
  });
});

describe('moveAnchor: the billing date can be moved', () => {
  it('keeps the local time of day (09:00 New York) on the new date, and cycles follow the new anchor', () => {
    const moved = moveAnchor('2024-01-31T14:00:00Z', '2024-03-15', 'America/New_York');
    expect(moved).toBe('2024-03-15T13:00:00.000Z');
    expect(cycleAt(moved, MONTHLY, 1, 'America/New_York')).toBe('2024-04-15T13:00:00.000Z');
  });

  it('onto a day where that local time does not exist: moved forward by the gap', () => {
    expect(moveAnchor('2024-01-10T07:30:00Z', '2024-03-10', 'America/New_York')).toBe('2024-03-10T07:30:00.000Z');
  });

  it.each(['2024-02-30', '15.03.2024', '2024-3-15', '2024-03-15T09:00:00Z', ''])('refuses %j', (date) => {
    expect(() => moveAnchor('2024-01-31T14:00:00Z', date, 'UTC')).toThrow(RangeError);
  });
});

describe('addDays: calendar days in the zone', () => {
  it('keeps the local time across DST (a 23-hour and a 25-hour day in New York)', () => {
    expect(addDays('2024-03-09T15:00:00Z', 1, 'America/New_York')).toBe('2024-03-10T14:00:00.000Z');
    expect(addDays('2024-11-02T14:00:00Z', 1, 'America/New_York')).toBe('2024-11-03T15:00:00.000Z');
  });

  it('dunning after 1, 3 and 5 days; a notice 3 days before a cycle', () => {
    expect([1, 3, 5].map((d) => addDays('2024-02-27T09:00:00Z', d, 'Europe/Berlin'))).toEqual([
      '2024-02-28T09:00:00.000Z',
      '2024-03-01T09:00:00.000Z',
      '2024-03-03T09:00:00.000Z',
    ]);
    expect(addDays('2024-03-31T08:00:00Z', -3, 'Europe/Berlin')).toBe('2024-03-28T09:00:00.000Z');
  });

  it('refuses a fractional number of days', () => {
    expect(() => addDays('2024-03-09T15:00:00Z', 1.5, 'UTC')).toThrow(RangeError);
  });
});

describe('validators for the edge (zod refinements)', () => {
  it.each(['Europe/Berlin', 'America/New_York', 'Pacific/Auckland', 'UTC', 'Etc/GMT+5'])('%s is a time zone', (tz) => {
    expect(isTimeZone(tz)).toBe(true);
  });
  it.each(['Mars/Olympus_Mons', '', '+01:00', 'Z', '2020-01-01T00:00Z[Europe/Berlin]', 'Local', 42, null])(
    '%j is not',
    (tz) => {
      expect(isTimeZone(tz)).toBe(false);
    },
  );
  it('instants need an offset; local dates must exist', () => {
    expect([
      isInstant('2024-01-31T15:00:00Z'),
      isInstant('2024-01-31T16:00:00+01:00'),
      isInstant('2024-01-31T15:00:00'),
      isInstant('2024-01-31'),
      isInstant(1),
    ]).toEqual([true, true, false, false, false]);
    expect([
      isLocalDate('2024-02-29'),
      isLocalDate('2023-02-29'),
      isLocalDate('2024-02-29T00:00'),
      isLocalDate(20240229),
    ]).toEqual([true, false, false, false]);
  });
});

// Zones with DST, half-hour and 45-minute offsets, DST at midnight and a southern-hemisphere
// summer. Not the zones that skipped a whole calendar date (Pacific/Apia 2011, tested above): there
// two daily cycles share an instant, so "strictly" would not hold.
const ZONES = [
  'UTC',
  'America/New_York',
  'Europe/Berlin',
  'Pacific/Auckland',
  'Australia/Lord_Howe',
  'Asia/Kolkata',
  'Pacific/Chatham',
  'America/St_Johns',
  'America/Sao_Paulo',
  'America/Santiago',
  'Asia/Tokyo',
  'Africa/Casablanca',
];
const arbitraries = {
  anchor: fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2060, 0, 1) }).map((ms) => new Date(ms).toISOString()),
  zone: fc.constantFrom(...ZONES),
  plan: fc.record({
    unit: fc.constantFrom<FrequencyUnit>('Day', 'Week', 'Month', 'Year'),
    value: fc.integer({ min: 1, max: 12 }),
  }),
  n: fc.integer({ min: 0, max: 400 }),
};

/** The same calendar with plain integer arithmetic on the anchor's local fields: what cycle n must be. */
function expectedCycle(anchor: string, plan: { unit: FrequencyUnit; value: number }, n: number, tz: string): string {
  if (n === 0) return new Date(anchor).toISOString();
  const a = Temporal.Instant.from(anchor).toZonedDateTimeISO(tz);
  const k = plan.value * n;
  let { year, month, day } = a;
  if (plan.unit === 'Month' || plan.unit === 'Year') {
    const months = year * 12 + month - 1 + (plan.unit === 'Year' ? 12 * k : k);
    year = Math.floor(months / 12);
    month = (months % 12) + 1;
    day = Math.min(day, new Date(Date.UTC(year, month, 0)).getUTCDate());
  } else {
    const d = new Date(Date.UTC(year, month - 1, day + (plan.unit === 'Week' ? 7 * k : k)));
    [year, month, day] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
  }
  const wall = Temporal.PlainDateTime.from({
    year,
    month,
    day,
    hour: a.hour,
    minute: a.minute,
    second: a.second,
    millisecond: a.millisecond,
  });
  return new Date(wall.toZonedDateTime(tz, { disambiguation: 'compatible' }).epochMilliseconds).toISOString();
}

describe('properties over random anchors, plans, zones and cycles (fast-check)', () => {
  it('cycle n is the anchor-based computation: no drift, whatever n', () => {
    fc.assert(
      fc.property(arbitraries.anchor, arbitraries.plan, arbitraries.n, arbitraries.zone, (anchor, plan, n, tz) => {
        expect(cycleAt(anchor, plan, n, tz)).toBe(expectedCycle(anchor, plan, n, tz));
      }),
      { numRuns: 500 },
    );
  });

  it('cycles are strictly increasing in n', () => {
    fc.assert(
      fc.property(arbitraries.anchor, arbitraries.plan, arbitraries.n, arbitraries.zone, (anchor, plan, n, tz) => {
        expect(cycleAt(anchor, plan, n, tz) < cycleAt(anchor, plan, n + 1, tz)).toBe(true);
        expect(Date.parse(cycleAt(anchor, plan, n, tz))).toBeLessThan(Date.parse(cycleAt(anchor, plan, n + 1, tz)));
      }),
      { numRuns: 500 },
    );
  });

  it('nextCycleIndex is the smallest n ≥ 1 whose cycle is after the given instant', () => {
    const offset = fc.integer({ min: -366 * 86_400_000, max: 30 * 366 * 86_400_000 });
    fc.assert(
      fc.property(arbitraries.anchor, arbitraries.plan, offset, arbitraries.zone, (anchor, plan, ms, tz) => {
        const after = new Date(Date.parse(anchor) + ms).toISOString();
        const n = nextCycleIndex(anchor, plan, after, tz);
        expect(n).toBeGreaterThanOrEqual(1);
        expect(cycleAt(anchor, plan, n, tz) > after).toBe(true);
        if (n > 1) expect(cycleAt(anchor, plan, n - 1, tz) <= after).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

// The same answers inside Temporal's workflow sandbox: the calendar is bundled into a tiny workflow
// and run by replaying a hand-written history (no server needed). The workflow throws, failing the
// workflow task and so the replay, when an answer differs or when the sandbox does not see the
// host zone this process has (so the calendar-tz run proves the sandbox was under New York).
const SANDBOX_CASES: { fn: string; args: unknown[]; expected: unknown }[] = [
  { fn: 'cycleAt', args: ['2024-01-31T09:00:00Z', MONTHLY, 1, 'Europe/Berlin'], expected: '2024-02-29T09:00:00.000Z' },
  { fn: 'cycleAt', args: ['2024-01-31T09:00:00Z', MONTHLY, 2, 'Europe/Berlin'], expected: '2024-03-31T08:00:00.000Z' },
  {
    fn: 'cycleAt',
    args: ['2024-02-29T12:00:00Z', { unit: 'Year', value: 1 }, 1, 'UTC'],
    expected: '2025-02-28T12:00:00.000Z',
  },
  {
    fn: 'cycleAt',
    args: ['2024-01-10T07:30:00Z', DAILY, 60, 'America/New_York'],
    expected: '2024-03-10T07:30:00.000Z',
  },
  { fn: 'nextCycleIndex', args: ['2024-01-31T15:00:00Z', MONTHLY, '2024-02-29T15:00:00.000Z', 'UTC'], expected: 2 },
  { fn: 'startOfNextMonth', args: ['2024-01-31T12:00:00Z', 'Pacific/Auckland'], expected: '2024-02-29T11:00:00.000Z' },
  { fn: 'startOfNextMonth', args: ['2024-12-15T12:00:00Z', 'UTC'], expected: '2025-01-01T00:00:00.000Z' },
  {
    fn: 'startOfNextMonth',
    args: ['2024-02-01T05:00:00Z', 'America/Los_Angeles'],
    expected: '2024-02-01T08:00:00.000Z',
  },
  {
    fn: 'moveAnchor',
    args: ['2024-01-31T14:00:00Z', '2024-03-15', 'America/New_York'],
    expected: '2024-03-15T13:00:00.000Z',
  },
  { fn: 'addDays', args: ['2024-03-09T15:00:00Z', 1, 'America/New_York'], expected: '2024-03-10T14:00:00.000Z' },
  { fn: 'localDateOf', args: ['2024-01-31T12:00:00Z', 'Pacific/Auckland'], expected: '2024-02-01' },
  { fn: 'isTimeZone', args: ['Europe/Berlin'], expected: true },
  { fn: 'isTimeZone', args: ['Mars/Olympus_Mons'], expected: false },
];

const calendarPath = fileURLToPath(new URL('./calendar.ts', import.meta.url));
const repoNodeModules = fileURLToPath(new URL('../../node_modules', import.meta.url));
const SANDBOX_WORKFLOW = `
import * as calendar from ${JSON.stringify(calendarPath)};
export async function calendarInSandbox(input: { hostZone: string; cases: { fn: string; args: unknown[]; expected: unknown }[] }): Promise<number> {
  const fns = calendar as unknown as Record<string, (...args: unknown[]) => unknown>;
  const host = new Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (host !== input.hostZone) throw new Error('host zone in the sandbox: ' + host);
  const wrong = input.cases.map((c) => ({ ...c, got: fns[c.fn]!(...c.args) })).filter((c) => c.got !== c.expected);
  if (wrong.length) throw new Error('differs in the sandbox: ' + JSON.stringify(wrong));
  return input.cases.length;
}
`;

const b64 = (s: string) => Buffer.from(s).toString('base64');
const at = '2024-01-01T00:00:00Z';
const sandboxHistory = (input: unknown) =>
  historyFromJSON({
    events: [
      {
        eventId: '1',
        eventTime: at,
        eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED',
        workflowExecutionStartedEventAttributes: {
          workflowType: { name: 'calendarInSandbox' },
          taskQueue: { name: 'calendar' },
          workflowId: 'calendar',
          attempt: 1,
          workflowTaskTimeout: '10s',
          originalExecutionRunId: 'run',
          firstExecutionRunId: 'run',
          input: { payloads: [{ metadata: { encoding: b64('json/plain') }, data: b64(JSON.stringify(input)) }] },
        },
      },
      {
        eventId: '2',
        eventTime: at,
        eventType: 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED',
        workflowTaskScheduledEventAttributes: {
          taskQueue: { name: 'calendar' },
          startToCloseTimeout: '10s',
          attempt: 1,
        },
      },
      {
        eventId: '3',
        eventTime: at,
        eventType: 'EVENT_TYPE_WORKFLOW_TASK_STARTED',
        workflowTaskStartedEventAttributes: { scheduledEventId: '2' },
      },
      {
        eventId: '4',
        eventTime: at,
        eventType: 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED',
        workflowTaskCompletedEventAttributes: { scheduledEventId: '2', startedEventId: '3' },
      },
      {
        eventId: '5',
        eventTime: at,
        eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED',
        workflowExecutionCompletedEventAttributes: { workflowTaskCompletedEventId: '4' },
      },
    ],
  });

describe('inside the Temporal workflow sandbox', () => {
  let dir: string;
  let workflowBundle: WorkflowBundleWithSourceMap;
  const silent = {
    log: () => undefined,
    trace: () => undefined,
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
  };

  beforeAll(async () => {
    // The failing replay below is expected: keep its WARN lines out of the test output.
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }), forward: {} } },
    });
    dir = await mkdtemp(join(tmpdir(), 'calendar-sandbox-'));
    await writeFile(join(dir, 'workflows.ts'), SANDBOX_WORKFLOW);
    workflowBundle = await bundleWorkflowCode({
      workflowsPath: join(dir, 'workflows.ts'),
      logger: silent,
      // The entry lives outside the repo; let webpack find @temporalio/workflow in the repo's modules.
      webpackConfigHook: (config) => ({
        ...config,
        resolve: { ...config.resolve, modules: [...(config.resolve?.modules ?? ['node_modules']), repoNodeModules] },
      }),
    });
  }, 180_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('calendar.ts imports only temporal-polyfill and types, nothing from Node', async () => {
    const source = await readFile(calendarPath, 'utf8');
    expect(
      [...source.matchAll(/^import\s.*from\s+'([^']+)';$/gm)].map((m) =>
        m[0].startsWith('import type') ? `type ${m[1]}` : m[1],
      ),
    ).toEqual(['temporal-polyfill', 'type ../subscription-messages']);
    expect(source).not.toMatch(/require\(|import\(|from 'node:/);
  });

  it('bundles into workflow code and gives the same answers there, under the host zone the sandbox sees', async () => {
    await expect(
      Worker.runReplayHistory({ workflowBundle }, sandboxHistory({ hostZone: hostZone(), cases: SANDBOX_CASES })),
    ).resolves.toBeUndefined();
  }, 180_000);

  it('the sandbox check is not vacuous: a wrong expected answer, or the wrong host zone, fails the replay', async () => {
    const wrong = [{ ...SANDBOX_CASES[0]!, expected: '2024-02-28T09:00:00.000Z' }];
    await expect(
      Worker.runReplayHistory({ workflowBundle }, sandboxHistory({ hostZone: hostZone(), cases: wrong })),
    ).rejects.toThrow(/differs in the sandbox/);
    await expect(
      Worker.runReplayHistory(
        { workflowBundle },
        sandboxHistory({ hostZone: 'Mars/Olympus_Mons', cases: SANDBOX_CASES }),
      ),
    ).rejects.toThrow(new RegExp(`host zone in the sandbox: ${hostZone()}`));
  }, 180_000);
});

it.each(SANDBOX_CASES.map((c) => [`${c.fn}(${c.args.map((a) => JSON.stringify(a)).join(', ')})`, c] as const))(
  'outside the sandbox too: %s',
  (_, c) => {
    const fns: Record<string, (...args: never[]) => unknown> = {
      cycleAt,
      nextCycleIndex,
      startOfNextMonth,
      moveAnchor,
      addDays,
      localDateOf,
      isTimeZone,
    };
    expect(fns[c.fn]!(...(c.args as never[]))).toBe(c.expected);
  },
);
