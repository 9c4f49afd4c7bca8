// The billing calendar: pure functions over ISO instants, run inside workflow code. Dates are
// computed with Temporal.ZonedDateTime from temporal-polyfill with an explicit IANA zone, never
// with Date's local-time methods or date-fns: the sandbox makes Date.now() deterministic but not
// the host's time zone, which leaks into anything "local" (../shared/docs/billing-and-events.md,
// "Calendar math inside workflow code").
// Nothing here may read the host zone (Temporal.Now.timeZoneId() would).
import { Temporal } from 'temporal-polyfill';
import type { FrequencyUnit } from '../subscription-messages';

export interface CalendarPlan {
  unit: FrequencyUnit;
  /** Every `value` units; a positive integer. */
  value: number;
}

const UNITS: Record<FrequencyUnit, 'days' | 'weeks' | 'months' | 'years'> = {
  Day: 'days',
  Week: 'weeks',
  Month: 'months',
  Year: 'years',
};

const DAY_MS = 86_400_000;
/** Average lengths (Gregorian: 365.2425 days a year), only to estimate a cycle index. */
const AVERAGE_MS: Record<FrequencyUnit, number> = {
  Day: DAY_MS,
  Week: 7 * DAY_MS,
  Month: (365.2425 / 12) * DAY_MS,
  Year: 365.2425 * DAY_MS,
};

/** True for an IANA zone name the runtime's zone data knows (`Europe/Berlin`, `UTC`, `Etc/GMT+5`); false for offsets like `+01:00`. */
export const isTimeZone = (tz: unknown): tz is string => {
  if (typeof tz !== 'string' || !/^[A-Za-z]/.test(tz)) return false;
  try {
    // The constructor takes an identifier only (toZonedDateTimeISO would also accept a whole ISO string).
    new Temporal.ZonedDateTime(0n, tz);
    return true;
  } catch {
    return false;
  }
};

/** True for an ISO 8601 instant with a `Z` or an offset (`2024-01-31T10:00:00Z`, `…+01:00`). */
export const isInstant = (s: unknown): s is string => {
  if (typeof s !== 'string') return false;
  try {
    Temporal.Instant.from(s);
    return true;
  } catch {
    return false;
  }
};

/** True for a calendar date `YYYY-MM-DD` that exists (`2024-02-29` yes, `2023-02-29` no). */
export const isLocalDate = (s: unknown): s is string => {
  if (typeof s !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  try {
    Temporal.PlainDate.from(s);
    return true;
  } catch {
    return false;
  }
};

const zone = (tz: string): string => {
  if (!isTimeZone(tz)) throw new RangeError(`not an IANA time zone: ${JSON.stringify(tz)}`);
  return tz;
};

const zoned = (at: string, tz: string): Temporal.ZonedDateTime => {
  if (typeof at !== 'string') throw new RangeError(`not an ISO instant: ${JSON.stringify(at)}`);
  return Temporal.Instant.from(at).toZonedDateTimeISO(zone(tz));
};

/** Date#toISOString's form (UTC, always milliseconds), so results compare as strings and match workflow timestamps. */
const iso = (z: Temporal.ZonedDateTime): string => z.toInstant().toString({ fractionalSecondDigits: 3 });

const integer = (name: string, v: number, min: number): number => {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${v}`);
  return v;
};

const periodsOf = (plan: CalendarPlan, n: number): Temporal.DurationLike => {
  const unit = UNITS[plan.unit];
  if (!unit) throw new RangeError(`unknown frequency unit: ${JSON.stringify(plan.unit)}`);
  return { [unit]: integer('plan.value', plan.value, 1) * integer('cycle', n, 0) };
};

/**
 * The instant of cycle n: the anchor's local date-time in timeZone plus n × value units, from the
 * anchor (never chained, so 31 Jan bills on 28/29 Feb and again on 31 Mar). Month and year ends are
 * clamped (29 Feb yearly → 28 Feb, and 29 Feb again in leap years). The local time of day is kept
 * across DST changes; a local time that does not exist that day moves forward by the gap, an
 * ambiguous one takes the earlier instant ('compatible'). Cycle 0 is the anchor itself.
 */
export const cycleAt = (anchor: string, plan: CalendarPlan, n: number, timeZone: string): string =>
  // ZonedDateTime.add of calendar units adds to the wall-clock date-time (overflow 'constrain'
  // clamps the day), then resolves it in the zone with 'compatible' disambiguation.
  iso(zoned(anchor, timeZone).add(periodsOf(plan, n)));

/**
 * The smallest n ≥ 1 whose cycle is strictly after `after`: the next cycle to bill once `after`
 * (the last billed cycle, or now) has passed. Estimated from average period lengths, then adjusted
 * by single steps, so ten years of daily cycles cost a handful of cycleAt calls.
 */
export const nextCycleIndex = (anchor: string, plan: CalendarPlan, after: string, timeZone: string): number => {
  const start = zoned(anchor, timeZone);
  const limit = Temporal.Instant.from(after).epochMilliseconds;
  const at = (n: number) => start.add(periodsOf(plan, n)).epochMilliseconds;
  const period = AVERAGE_MS[plan.unit] * integer('plan.value', plan.value, 1);
  let n = Math.max(1, Math.ceil((limit - start.epochMilliseconds) / period));
  while (n > 1 && at(n - 1) > limit) n--;
  while (at(n) <= limit) n++;
  return n;
};

/**
 * 00:00 on the first day of the calendar month after `at`'s month, in timeZone (the first instant
 * of that day where midnight does not exist). Amazon's monthly recurring cap resets then, so a
 * PeriodicAmountExceeded charge is deferred to it.
 */
export const startOfNextMonth = (at: string, timeZone: string): string => {
  const z = zoned(at, timeZone);
  return iso(z.toPlainDate().with({ day: 1 }).add({ months: 1 }).toZonedDateTime({ timeZone: z.timeZoneId }));
};

/**
 * The anchor moved to another billing date (`YYYY-MM-DD` in timeZone), keeping its local time of
 * day; cycles are then computed from the new anchor.
 */
export const moveAnchor = (anchor: string, newLocalDate: string, timeZone: string): string => {
  if (!isLocalDate(newLocalDate)) throw new RangeError(`not a date YYYY-MM-DD: ${JSON.stringify(newLocalDate)}`);
  const z = zoned(anchor, timeZone);
  const local = Temporal.PlainDate.from(newLocalDate).toPlainDateTime(z.toPlainTime());
  return iso(local.toZonedDateTime(z.timeZoneId, { disambiguation: 'compatible' }));
};

/**
 * `at` plus `days` calendar days in timeZone (negative: before), keeping the local time of day:
 * dunning retries after 1, 3, 5 days, and notices N days before a cycle.
 */
export const addDays = (at: string, days: number, timeZone: string): string => {
  if (!Number.isSafeInteger(days)) throw new RangeError(`days must be an integer, got ${days}`);
  return iso(zoned(at, timeZone).add({ days }));
};

/** `at`'s calendar date (`YYYY-MM-DD`) in timeZone: what a buyer sees as the billing date. */
export const localDateOf = (at: string, timeZone: string): string => zoned(at, timeZone).toPlainDate().toString();
