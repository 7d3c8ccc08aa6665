// Retention: restic's keep-last / keep-daily / keep-weekly / keep-monthly, periods in UTC, the
// newest backup always kept, and no rule at all keeps everything.
import { describe, expect, it } from 'vitest';
import { applyRetention, isoWeek, type RetentionCandidate } from '#core/maintenance/retention.ts';

/** One backup per given UTC instant; the id says when, so failures read easily. */
const backups = (...times: string[]): RetentionCandidate[] => times.map((time) => ({ backupId: `b-${time}`, time }));
const kept = (list: RetentionCandidate[], policy: Parameters<typeof applyRetention>[1]) =>
  applyRetention(list, policy).keep.map((k) => k.backupId);

/** Every day of a span at the given hour, oldest first. */
function daily(from: string, days: number, hour = 2): RetentionCandidate[] {
  const start = Date.parse(`${from}T00:00:00Z`);
  return Array.from({ length: days }, (_, i) => {
    const time = new Date(start + i * 86_400_000 + hour * 3_600_000).toISOString();
    return { backupId: `b-${time.slice(0, 10)}`, time };
  });
}

describe('applyRetention', () => {
  it('a policy with no rule keeps everything', () => {
    const list = daily('2026-01-01', 10);
    const decision = applyRetention(list, {});
    expect(decision.expire).toEqual([]);
    expect(decision.keep).toHaveLength(10);
    expect(applyRetention(list, { keepLast: undefined }).expire).toEqual([]);
  });

  it('keep-last N keeps the N most recent, whatever the input order', () => {
    const list = backups(
      '2026-03-01T10:00:00Z',
      '2026-03-03T10:00:00Z',
      '2026-03-02T10:00:00Z',
      '2026-03-04T10:00:00Z',
    );
    const decision = applyRetention(list, { keepLast: 2 });
    expect(decision.keep.map((k) => k.backupId)).toEqual(['b-2026-03-04T10:00:00Z', 'b-2026-03-03T10:00:00Z']);
    expect(decision.keep[0]!.reasons).toEqual(['last']);
    expect(decision.expire).toEqual(['b-2026-03-02T10:00:00Z', 'b-2026-03-01T10:00:00Z']);
  });

  it('keep-daily keeps the newest backup of each of the last N days that have one (gaps do not count)', () => {
    const list = backups(
      '2026-05-01T01:00:00Z',
      '2026-05-01T23:00:00Z', // May 1: the 23:00 one wins
      '2026-05-03T08:00:00Z', // May 2 has none: it is skipped, not counted
      '2026-05-04T00:00:00Z',
      '2026-05-04T12:00:00Z',
      '2026-05-04T23:59:59Z',
    );
    const decision = applyRetention(list, { keepDaily: 3 });
    expect(decision.keep).toEqual([
      { backupId: 'b-2026-05-04T23:59:59Z', reasons: ['daily 2026-05-04'] },
      { backupId: 'b-2026-05-03T08:00:00Z', reasons: ['daily 2026-05-03'] },
      { backupId: 'b-2026-05-01T23:00:00Z', reasons: ['daily 2026-05-01'] },
    ]);
    expect(decision.expire).toHaveLength(3);
  });

  it('days are UTC days: 23:30 at UTC-5 is the next UTC day', () => {
    const list = [
      { backupId: 'evening-new-york', time: '2026-06-10T23:30:00-05:00' }, // 2026-06-11T04:30Z
      { backupId: 'morning-utc', time: '2026-06-11T01:00:00Z' },
    ];
    expect(applyRetention(list, { keepDaily: 1 }).keep).toEqual([
      { backupId: 'evening-new-york', reasons: ['daily 2026-06-11'] },
    ]);
  });

  it('keep-weekly uses ISO weeks: Monday starts a week, and the week of Jan 1 may belong to the previous year', () => {
    expect(isoWeek(new Date('2026-01-01T12:00:00Z'))).toBe('2026-W01'); // a Thursday
    expect(isoWeek(new Date('2027-01-01T12:00:00Z'))).toBe('2026-W53'); // a Friday: last week of 2026
    expect(isoWeek(new Date('2024-12-30T00:00:00Z'))).toBe('2025-W01'); // a Monday: first week of 2025
    expect(isoWeek(new Date('2026-11-22T23:59:59Z'))).toBe('2026-W47'); // a Sunday
    expect(isoWeek(new Date('2026-11-23T00:00:00Z'))).toBe('2026-W48'); // the next Monday
    // 28 daily backups from Monday 2026-02-02: four whole weeks; keep the Sunday of the last three.
    const decision = applyRetention(daily('2026-02-02', 28), { keepWeekly: 3 });
    expect(decision.keep.map((k) => k.backupId)).toEqual(['b-2026-03-01', 'b-2026-02-22', 'b-2026-02-15']);
    expect(decision.keep.map((k) => k.reasons[0])).toEqual(['weekly 2026-W09', 'weekly 2026-W08', 'weekly 2026-W07']);
  });

  it('keep-monthly keeps the last backup of each month, across a year boundary and a leap day', () => {
    const list = daily('2023-11-15', 120); // to 2024-03-13
    const decision = applyRetention(list, { keepMonthly: 4 });
    expect(decision.keep.map((k) => k.backupId)).toEqual([
      'b-2024-03-13',
      'b-2024-02-29',
      'b-2024-01-31',
      'b-2023-12-31',
    ]);
  });

  it('rules combine: a backup kept by several rules lists every reason, and each rule counts its own periods', () => {
    const list = daily('2026-01-01', 60);
    const decision = applyRetention(list, { keepLast: 2, keepDaily: 3, keepWeekly: 2, keepMonthly: 2 });
    const byId = new Map(decision.keep.map((k) => [k.backupId, k.reasons]));
    expect(byId.get('b-2026-03-01')).toEqual(['last', 'daily 2026-03-01', 'weekly 2026-W09', 'monthly 2026-03']);
    expect(byId.get('b-2026-02-28')).toEqual(['last', 'daily 2026-02-28', 'monthly 2026-02']);
    expect(byId.get('b-2026-02-27')).toEqual(['daily 2026-02-27']);
    expect(byId.get('b-2026-02-22')).toEqual(['weekly 2026-W08']);
    expect(decision.keep).toHaveLength(4);
    expect(decision.expire).toHaveLength(56);
    expect(new Set([...decision.keep.map((k) => k.backupId), ...decision.expire]).size).toBe(60);
  });

  it('the newest backup is always kept, even by a rule whose periods are all older', () => {
    for (const policy of [{ keepLast: 1 }, { keepDaily: 1 }, { keepWeekly: 1 }, { keepMonthly: 1 }]) {
      const list = daily('2026-04-01', 10);
      expect(kept(list, policy)[0]).toBe('b-2026-04-10');
    }
  });

  it('one backup, or none, is handled', () => {
    expect(applyRetention([], { keepLast: 3 })).toEqual({ keep: [], expire: [] });
    expect(applyRetention(backups('2026-01-01T00:00:00Z'), { keepMonthly: 1 }).keep).toHaveLength(1);
  });

  it('two backups at the same instant: the larger id counts as newer, so the choice is stable', () => {
    const list = [
      { backupId: '20260101T000000Z-aaaaaa', time: '2026-01-01T00:00:00Z' },
      { backupId: '20260101T000000Z-bbbbbb', time: '2026-01-01T00:00:00Z' },
    ];
    expect(kept(list, { keepDaily: 1 })).toEqual(['20260101T000000Z-bbbbbb']);
    expect(kept([...list].reverse(), { keepDaily: 1 })).toEqual(['20260101T000000Z-bbbbbb']);
  });
});
