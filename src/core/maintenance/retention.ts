// Retention (FORMAT.md, "Retention"): which committed backups of one collection to keep, with
// restic's semantics. Pure: no ports, no clock; the caller passes the backups and the policy.
import type { RetentionPolicy } from '../ports/catalog.ts';

export interface RetentionCandidate {
  backupId: string;
  /** The instant the backup represents (its snapshot time), ISO-8601; periods are taken in UTC. */
  time: string;
}

export interface KeptBackup {
  backupId: string;
  /** Why it is kept, e.g. `last`, `daily 2026-11-21`, `weekly 2026-W47`, `monthly 2026-11`, `newest`. */
  reasons: string[];
}

export interface RetentionDecision {
  /** Newest first. */
  keep: KeptBackup[];
  /** Newest first. */
  expire: string[];
}

type RuleName = 'last' | 'daily' | 'weekly' | 'monthly';

/** Each rule names the period a backup falls in; `last` gives every backup a period of its own. */
const RULES: {
  name: RuleName;
  count: (p: RetentionPolicy) => number | undefined;
  period: (time: Date, index: number) => string;
}[] = [
  { name: 'last', count: (p) => p.keepLast, period: (_time, index) => String(index) },
  { name: 'daily', count: (p) => p.keepDaily, period: (time) => time.toISOString().slice(0, 10) },
  { name: 'weekly', count: (p) => p.keepWeekly, period: isoWeek },
  { name: 'monthly', count: (p) => p.keepMonthly, period: (time) => time.toISOString().slice(0, 7) },
];

/** True when the policy has at least one rule with a positive count; with none, everything is kept. */
export function hasRetentionRules(policy: RetentionPolicy): boolean {
  return RULES.some((rule) => (rule.count(policy) ?? 0) > 0);
}

/**
 * Walks the backups newest first; each rule with count N keeps the newest backup of each of the
 * N most recent periods that have a backup (restic `forget`). The newest backup is always kept:
 * it is the parent the next incremental backup builds on.
 */
export function applyRetention(backups: RetentionCandidate[], policy: RetentionPolicy): RetentionDecision {
  const newestFirst = [...backups].sort(
    (a, b) => Date.parse(b.time) - Date.parse(a.time) || (a.backupId < b.backupId ? 1 : -1),
  );
  if (!hasRetentionRules(policy)) {
    return { keep: newestFirst.map((b) => ({ backupId: b.backupId, reasons: ['no retention rule'] })), expire: [] };
  }
  const state = RULES.map((rule) => ({
    rule,
    left: rule.count(policy) ?? 0,
    lastPeriod: undefined as string | undefined,
  }));
  const keep: KeptBackup[] = [];
  const expire: string[] = [];
  newestFirst.forEach((backup, index) => {
    const time = new Date(backup.time);
    const reasons: string[] = [];
    for (const s of state) {
      if (s.left <= 0) continue;
      const period = s.rule.period(time, index);
      if (period === s.lastPeriod) continue;
      s.lastPeriod = period;
      s.left--;
      reasons.push(s.rule.name === 'last' ? 'last' : `${s.rule.name} ${period}`);
    }
    if (index === 0 && reasons.length === 0) reasons.push('newest');
    if (reasons.length > 0) keep.push({ backupId: backup.backupId, reasons });
    else expire.push(backup.backupId);
  });
  return { keep, expire };
}

/** ISO-8601 week of a UTC instant, e.g. `2026-W01`: weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeek(time: Date): string {
  const day = new Date(Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), time.getUTCDate()));
  const weekday = day.getUTCDay() || 7;
  // The Thursday of this week decides the week's year.
  day.setUTCDate(day.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((day.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${day.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}
