// The owners, privileges and event triggers a restore reproduced, against what the backup recorded
// (schema/privilege-state.ts). A difference the restore warned about — a statement skipped for a
// role the target lacks or the restoring role cannot act as, a GRANT or REVOKE PostgreSQL accepted
// with only a warning, an event trigger the restoring role may not create — is expected: the
// warning names the object, and that object is not held against the restore. Any other difference
// is: the privilege was lost or changed after the restore applied it, or never applied.
import type {
  EventTriggerState,
  LargeObjectGroup,
  ObjectPrivileges,
  PrivilegeState,
} from '../schema/privilege-state.ts';

/** Whether a restore warning names `object` (as the captured statements name it). */
export function warnedAbout(warnings: readonly string[]): (object: string) => boolean {
  return (object) =>
    warnings.some((w) => {
      for (let i = w.indexOf(object); i >= 0; i = w.indexOf(object, i + 1)) {
        const before = i === 0 ? ' ' : w[i - 1]!;
        const after = w.slice(i + object.length, i + object.length + 2);
        if (/[\s("]/.test(before) && (after === '' || /^([\s:;,)]|\.(\s|$))/.test(after))) return true;
      }
      return false;
    });
}

const describe = (acl: string[] | undefined) =>
  acl === undefined
    ? 'the default privileges'
    : acl.length === 0
      ? 'no privileges'
      : /^[+-]/.test(acl[0]!)
        ? `default ${acl.join(' ')}`
        : acl.join(' ');
const same = (a: string[] | undefined, b: string[] | undefined) => (a ?? null)?.join(' ') === (b ?? null)?.join(' ');
const name = (p: ObjectPrivileges) => (p.column ? `column ${p.column} of ${p.object}` : p.object);
const keyOf = (p: ObjectPrivileges) => `${p.object}\u0000${p.column ?? ''}`;

/** `public`'s ACL: the source's changes from its version's default, applied to the target's default. */
function expectedFromDefault(want: ObjectPrivileges, got: ObjectPrivileges): string[] {
  const wanted = new Set(want.acl ?? []);
  const sourceDefault = new Set(want.defaultAcl ?? []);
  const result = new Set(got.defaultAcl ?? []);
  for (const item of sourceDefault) if (!wanted.has(item)) result.delete(item);
  for (const item of wanted) if (!sourceDefault.has(item)) result.add(item);
  return [...result].sort();
}

/** Each unexpected difference in words; `warned` excuses the objects the restore warned about. */
export function privilegeDifferences(
  expected: PrivilegeState,
  actual: PrivilegeState,
  warnings: readonly string[],
): string[] {
  const out: string[] = [];
  const warned = warnedAbout(warnings);
  const objects = new Map(actual.objects.map((p) => [keyOf(p), p]));
  for (const want of expected.objects) {
    if (warned(want.object)) continue;
    const got = objects.get(keyOf(want));
    if (!got) {
      out.push(`${want.object} is missing (owner ${want.owner ?? 'as a new database has it'}, ${describe(want.acl)})`);
      continue;
    }
    if ((got.owner ?? null) !== (want.owner ?? null))
      out.push(
        `${want.object} is owned by ${got.owner ?? 'its default owner'} (${want.owner ?? 'its default owner'} at the source)`,
      );
    const wantAcl = want.defaultAcl && got.defaultAcl ? expectedFromDefault(want, got) : want.acl;
    if (!same(wantAcl, got.acl))
      out.push(`${want.object} has ${describe(got.acl)} (expected ${describe(wantAcl)}, as the backup restores them)`);
  }
  const bothWays = (wanted: ObjectPrivileges[], have: ObjectPrivileges[], otherwise: string) => {
    const got = new Map(have.map((p) => [keyOf(p), p]));
    const want = new Map(wanted.map((p) => [keyOf(p), p]));
    for (const key of new Set([...want.keys(), ...got.keys()])) {
      const w = want.get(key);
      const g = got.get(key);
      const object = (w ?? g)!;
      if (warned(object.object) || same(w?.acl, g?.acl)) continue;
      out.push(
        `${name(object)} has ${g ? describe(g.acl) : otherwise} (${w ? describe(w.acl) : otherwise} at the source)`,
      );
    }
  };
  bothWays(expected.columns, actual.columns, 'no column privileges');
  bothWays(expected.defaultPrivileges, actual.defaultPrivileges, 'the built-in default privileges');
  bothWays(expected.initialPrivileges, actual.initialPrivileges, 'the privileges a new database gives it');
  const warnedLargeObjects = new Set(
    warnings.flatMap((w) => [...w.matchAll(/large object (\d+)/g)].map((m) => Number(m[1]))),
  );
  out.push(...largeObjectDifferences(expected.largeObjects, actual.largeObjects, warnedLargeObjects));
  return out;
}

type Ranges = [number, number][];

const parseRanges = (oids: string): Ranges =>
  (oids === '' ? [] : oids.split(',')).map((r) => {
    const [lo, hi] = r.split('-').map(Number);
    return [lo!, hi ?? lo!];
  });

/** The oids of `a` not in `b`; both sorted and disjoint. */
function subtract(a: Ranges, b: Ranges): Ranges {
  const out: Ranges = [];
  let j = 0;
  for (const [lo0, hi] of a) {
    let lo = lo0;
    while (j < b.length && b[j]![1] < lo) j++;
    for (let k = j; k < b.length && b[k]![0] <= hi; k++) {
      if (b[k]![0] > lo) out.push([lo, b[k]![0] - 1]);
      lo = Math.max(lo, b[k]![1] + 1);
    }
    if (lo <= hi) out.push([lo, hi]);
  }
  return out;
}

const MAX_LARGE_OBJECTS_NAMED = 5;

/**
 * Large objects are compared as groups of one owner and ACL, each a list of oid ranges, so that
 * thousands of them take a few rows; only where a group differs are single oids looked at.
 */
function largeObjectDifferences(
  expected: LargeObjectGroup[],
  actual: LargeObjectGroup[],
  warned: ReadonlySet<number>,
): string[] {
  const groupKey = (g: LargeObjectGroup) => `${g.owner}\u0000${g.acl?.join(' ') ?? ''}`;
  const want = new Map(expected.map((g) => [groupKey(g), g]));
  const have = new Map(actual.map((g) => [groupKey(g), g]));
  const wrong = new Set<number>();
  for (const key of new Set([...want.keys(), ...have.keys()])) {
    const w = want.get(key);
    const h = have.get(key);
    if (w && h && w.oids === h.oids) continue;
    const [a, b] = [parseRanges(w?.oids ?? ''), parseRanges(h?.oids ?? '')] as const;
    for (const [lo, hi] of [...subtract(a, b), ...subtract(b, a)]) {
      // Only the warned ones may be excused; past them, a few are enough to name.
      for (let oid = lo; oid <= hi && wrong.size <= MAX_LARGE_OBJECTS_NAMED; oid++) {
        if (!warned.has(oid)) wrong.add(oid);
      }
    }
  }
  const find = (groups: LargeObjectGroup[], oid: number) =>
    groups.find((g) => parseRanges(g.oids).some(([lo, hi]) => lo <= oid && oid <= hi));
  const out = [...wrong]
    .sort((x, y) => x - y)
    .slice(0, MAX_LARGE_OBJECTS_NAMED)
    .map((oid) => {
      const [w, h] = [find(expected, oid), find(actual, oid)];
      const what = (g: LargeObjectGroup | undefined) => (g ? `owner ${g.owner}, ${describe(g.acl)}` : 'missing');
      return `large object ${oid} has ${what(h)} (${what(w)} at the source)`;
    });
  if (wrong.size > MAX_LARGE_OBJECTS_NAMED) out.push(`and more large objects differ`);
  return out;
}

const EVENT_TRIGGER_STATE: Record<string, string> = {
  O: 'enabled',
  D: 'disabled',
  R: 'enabled for replica only',
  A: 'enabled always',
};

/** Each unexpected difference of the target's event triggers from the source's, in words. */
export function eventTriggerDifferences(
  expected: EventTriggerState[],
  actual: EventTriggerState[],
  warned: (object: string) => boolean,
): string[] {
  const out: string[] = [];
  const have = new Map(actual.map((t) => [t.name, t]));
  for (const want of expected) {
    const object = `event trigger ${want.name}`;
    if (warned(object)) continue;
    const got = have.get(want.name);
    if (!got) {
      out.push(`${object} is missing`);
      continue;
    }
    const was = (what: string, g: string, w: string) =>
      g !== w && out.push(`${object} ${what} ${g} (${w} at the source)`);
    was('fires on', got.event, want.event);
    was('runs', `${got.function}()`, `${want.function}()`);
    was('is', EVENT_TRIGGER_STATE[got.enabled] ?? got.enabled, EVENT_TRIGGER_STATE[want.enabled] ?? want.enabled);
    was('fires for tags', got.tags?.join(', ') ?? 'every tag', want.tags?.join(', ') ?? 'every tag');
    was('is owned by', got.owner, want.owner);
  }
  return out;
}
