// Topological order of the pre-data objects. Ties are broken by a kind priority close to
// pg_dump's and then by name, so the same database always yields the same statement list.
// A cycle (which pg_dump would break with dummy objects) is broken at its smallest member
// and reported.
import type { Capture, SchemaObject } from './context.ts';
import type { Dependency } from './dependencies.ts';

const PRIORITY: Record<string, number> = {
  schema: 1,
  extension: 2,
  collation: 2.5,
  type: 3,
  'shell type': 3,
  domain: 3,
  function: 4,
  'base type': 4.2,
  'procedural language': 4.3,
  transform: 4.4,
  conversion: 4.4,
  'access method': 4.5,
  aggregate: 5,
  operator: 5.5,
  'operator family': 5.52,
  'operator class': 5.53,
  cast: 5.5,
  'text search parser': 5.58,
  'text search template': 5.59,
  'text search dictionary': 5.6,
  'text search configuration': 5.7,
  'foreign-data wrapper': 5.75,
  'foreign server': 5.8,
  'user mapping': 5.9,
  sequence: 6,
  table: 7,
  default: 8,
  'partition attach': 9,
  'sequence owned by': 10,
  view: 11,
  'materialized view': 12,
  constraint: 13,
};

function compare(a: SchemaObject, b: SchemaObject): number {
  return (
    (PRIORITY[a.kind] ?? 50) - (PRIORITY[b.kind] ?? 50) ||
    (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0) ||
    (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  );
}

/**
 * Orders capture.objects. A constraint that a pre-data object needs (a view grouping by a
 * primary key) is moved from post-data into pre-data; the moved statements are returned.
 */
export function orderObjects(
  capture: Capture,
  dependencies: Dependency[],
): { ordered: SchemaObject[]; promoted: Set<object> } {
  const promoted = new Set<object>();
  const needs = new Map<string, Set<string>>();
  const addEdge = (from: string, to: string) => {
    if (from === to) return;
    let set = needs.get(from);
    if (!set) needs.set(from, (set = new Set()));
    set.add(to);
  };
  for (const dep of dependencies) {
    const from = capture.aliases.get(dep.from);
    if (!from) continue;
    let to = capture.aliases.get(dep.to);
    const promotable = capture.promotable.get(dep.to);
    if (!to && promotable) {
      capture.add({
        key: dep.to,
        kind: 'constraint',
        identity: promotable.statement.object,
        statements: [promotable.statement],
        after: [promotable.tableKey],
      });
      promoted.add(promotable.statement);
      to = dep.to;
    }
    // An object's explicit `after` wins over pg_depend's opposite edge (a base type after its I/O
    // functions, which pg_depend says need the type; they follow its shell instead).
    if (to && !capture.objects.get(to)?.after?.includes(from)) addEdge(from, to);
  }
  for (const object of capture.objects.values()) {
    for (const to of object.after ?? []) if (capture.objects.has(to)) addEdge(object.key, to);
  }

  const waiting = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const object of capture.objects.values()) {
    const reqs = [...(needs.get(object.key) ?? [])].filter((k) => capture.objects.has(k));
    waiting.set(object.key, reqs.length);
    for (const r of reqs) {
      const list = dependents.get(r);
      if (list) list.push(object.key);
      else dependents.set(r, [object.key]);
    }
  }
  const ready = new Heap<SchemaObject>(compare);
  for (const object of capture.objects.values()) if (waiting.get(object.key) === 0) ready.push(object);

  const ordered: SchemaObject[] = [];
  const done = new Set<string>();
  while (ordered.length < capture.objects.size) {
    let next = ready.pop();
    if (!next) {
      next = [...capture.objects.values()].filter((o) => !done.has(o.key)).sort(compare)[0];
      capture.warnings.push(
        `dependency cycle broken at ${next.statements[0]?.object ?? next.key}; its restore may fail`,
      );
    }
    if (done.has(next.key)) continue;
    done.add(next.key);
    ordered.push(next);
    for (const dependent of dependents.get(next.key) ?? []) {
      const left = (waiting.get(dependent) ?? 0) - 1;
      waiting.set(dependent, left);
      if (left === 0 && !done.has(dependent)) ready.push(capture.objects.get(dependent)!);
    }
  }
  return { ordered, promoted };
}

/** A binary min-heap. */
class Heap<T> {
  private items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => number) {}
  push(item: T): void {
    const a = this.items;
    a.push(item);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (this.less(a[i], a[p]) >= 0) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length && last !== undefined) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l], a[m]) < 0) m = l;
        if (r < a.length && this.less(a[r], a[m]) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}
