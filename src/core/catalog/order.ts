// How the catalog orders what it lists and compares what it stores; one definition for every
// backend, so the same catalog content lists and compares the same everywhere.
import type { BackupRecord } from '../ports/catalog.ts';

/** Code-unit order (not locale order): stable across hosts. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Oldest first: by instant, then startedAt text (the same instant written with other offsets),
 * then id, so ties have one order too.
 */
export function byStartTime(a: BackupRecord, b: BackupRecord): number {
  return (
    Date.parse(a.startedAt) - Date.parse(b.startedAt) ||
    compare(a.startedAt, b.startedAt) ||
    compare(a.backupId, b.backupId)
  );
}

export function byName<R extends { name: string }>(a: R, b: R): number {
  return compare(a.name, b.name);
}

/** A JSON-plain copy (undefined dropped): what every backend stores and returns. */
export function plain<V>(value: V): V {
  return JSON.parse(JSON.stringify(value)) as V;
}

/** Canonical JSON (sorted keys, undefined dropped), so equal records encode equally. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => compare(a, b)))
      : v,
  );
}
