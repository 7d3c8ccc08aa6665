// EventBridge Scheduler expressions as Tidemark accepts them, and the longest gap between two
// runs of one — the staleness alarm waits twice that long for a committed backup.
//
//   rate(<n> minute[s]|hour[s]|day[s])
//   cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)
//
// Cron fields take `*`, numbers, names (JAN…DEC, SUN…SAT), ranges `a-b`, steps `/n` and lists;
// exactly one of day-of-month / day-of-week is `?`. Scheduler's `L`, `W` and `#` are refused:
// the gap of such schedules is not worth computing here, and a backup series rarely needs them.

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON = /^cron\((.+)\)$/;
const UNIT_MINUTES: Record<string, number> = { minute: 1, hour: 60, day: 1440 };
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
}

const FIELDS: FieldSpec[] = [
  { name: 'minutes', min: 0, max: 59 },
  { name: 'hours', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day-of-week', min: 1, max: 7, names: DAYS },
  { name: 'year', min: 1970, max: 2199 },
];

/** A parsed cron: the allowed values of each field, `undefined` for `?`. */
type CronSets = (Set<number> | undefined)[];

/** Parses and checks an expression; throws an Error whose message says what is wrong. */
export function parseScheduleExpression(
  expression: string,
): { kind: 'rate'; minutes: number } | { kind: 'cron'; fields: CronSets } {
  const rate = RATE.exec(expression);
  if (rate) {
    const n = Number(rate[1]);
    const unit = rate[2]!;
    if (n < 1) throw new Error(`"${expression}": the rate must be at least 1`);
    if ((n === 1) !== !unit.endsWith('s'))
      throw new Error(
        `"${expression}": write "rate(1 ${unit.replace(/s$/, '')})" or "rate(${n > 1 ? n : 2} ${unit.replace(/s?$/, 's')})" (singular unit for 1 only)`,
      );
    return { kind: 'rate', minutes: n * UNIT_MINUTES[unit.replace(/s$/, '')]! };
  }
  const cron = CRON.exec(expression);
  if (!cron) throw new Error(`"${expression}" is neither rate(<n> <unit>) nor cron(<6 fields>)`);
  const parts = cron[1]!.trim().split(/\s+/);
  if (parts.length !== 6)
    throw new Error(
      `"${expression}": a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), found ${parts.length}`,
    );
  const fields = parts.map((part, i) => parseField(part, FIELDS[i]!, expression));
  if ((fields[2] === undefined) === (fields[4] === undefined)) {
    throw new Error(`"${expression}": exactly one of day-of-month and day-of-week must be "?"`);
  }
  return { kind: 'cron', fields };
}

function parseField(text: string, spec: FieldSpec, expression: string): Set<number> | undefined {
  const fail = (why: string): never => {
    throw new Error(`"${expression}": ${spec.name} field "${text}": ${why}`);
  };
  if (text === '?')
    return spec.name === 'day-of-month' || spec.name === 'day-of-week'
      ? undefined
      : fail('"?" is only allowed in day-of-month or day-of-week');
  const values = new Set<number>();
  for (const item of text.split(',')) {
    if (/#|^\d*L$|^LW$|^\d+W$/i.test(item))
      fail('L, W and # are not supported by Tidemark; use lists, ranges and steps');
    const [range, stepText] = item.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) fail(`step "${stepText}" is not a positive whole number`);
    let from: number;
    let to: number;
    if (range === '*') [from, to] = [spec.min, spec.max];
    else {
      const [a, b] = range!.split('-');
      from = value(a!, spec, fail);
      to = b === undefined ? (stepText === undefined ? from : spec.max) : value(b, spec, fail);
      if (to < from) fail(`range ${range} runs backwards`);
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

function value(text: string, spec: FieldSpec, fail: (why: string) => never): number {
  const named = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  const n = named >= 0 ? named + 1 : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= spec.min && n <= spec.max))
    fail(
      `"${text}" is not a value of ${spec.min}-${spec.max}${spec.names ? ` or ${spec.names[0]}-${spec.names.at(-1)}` : ''}`,
    );
  return n;
}

/**
 * The longest gap, in minutes, between two consecutive runs of the schedule (Infinity when it
 * runs less than twice in two years). Cron gaps are measured over two years in UTC; the
 * schedule's time zone only shifts runs by its offset, and a DST change by an hour at most.
 */
export function longestIntervalMinutes(expression: string): number {
  const parsed = parseScheduleExpression(expression);
  if (parsed.kind === 'rate') return parsed.minutes;
  const [minutes, hours, dom, months, dow] = parsed.fields;
  const times: number[] = [];
  for (const h of [...hours!].sort((a, b) => a - b))
    for (const m of [...minutes!].sort((a, b) => a - b)) times.push(h * 60 + m);
  const runs: number[] = [];
  const start = Date.UTC(2025, 0, 1);
  for (let day = 0; day < 730; day++) {
    const date = new Date(start + day * 86_400_000);
    if (!months!.has(date.getUTCMonth() + 1)) continue;
    if (dom ? !dom.has(date.getUTCDate()) : !dow!.has(date.getUTCDay() + 1)) continue;
    for (const t of times) runs.push(day * 1440 + t);
  }
  if (runs.length < 2) return Infinity;
  let longest = 0;
  for (let i = 1; i < runs.length; i++) longest = Math.max(longest, runs[i]! - runs[i - 1]!);
  return longest;
}
