// How the statements of one post-data wave may run side by side. Two kinds of statement race
// when run concurrently on one partition tree:
// - `ALTER INDEX p ATTACH PARTITION c`: PostgreSQL marks p valid when the last of its partitions
//   is attached *and valid*. Attaching c to p while another session still attaches c's own
//   partitions to c leaves p INVALID for good (neither session sees the other's work). So the
//   attaches of one index tree run in one session, deepest first.
// - A foreign key of a partitioned table recurses into every partition, and a foreign key
//   declared on one of its partitions locks that partition first: two sessions deadlock. So the
//   foreign keys (and other recursing ALTER TABLEs) of one partition tree run in one session.
// Everything else stays a unit of its own. Derived from the statements alone (the partition
// attachments of pre-data name every parent), so manifests written before this rule benefit too.
import type { DdlStatement } from './model.ts';

/** A quoted identifier as quote_ident writes it, and a qualified name of two. */
const IDENT = String.raw`(?:"(?:[^"]|"")*"|[^\s".(),;]+)`;
const QNAME = String.raw`${IDENT}\.${IDENT}`;
const INDEX_ATTACH = new RegExp(String.raw`^ALTER INDEX (${QNAME}) ATTACH PARTITION (${QNAME})$`);
const TABLE_ATTACH = new RegExp(String.raw`^ALTER TABLE (?:ONLY )?(${QNAME}) ATTACH PARTITION (${QNAME}) `);
const ALTER_TABLE = new RegExp(String.raw`^ALTER TABLE (ONLY )?(${QNAME}) `);

/** Parent of each partition (child → parent), from pre-data's `ALTER TABLE … ATTACH PARTITION`. */
export function partitionParents(preData: readonly DdlStatement[]): Map<string, string> {
  const parents = new Map<string, string>();
  for (const statement of preData) {
    const m = TABLE_ATTACH.exec(statement.sql);
    if (m) parents.set(m[2]!, m[1]!);
  }
  return parents;
}

function rootOf(name: string, parents: ReadonlyMap<string, string>): { root: string; depth: number } {
  let root = name;
  let depth = 0;
  // Bounded: a malformed map cannot loop forever.
  for (let parent = parents.get(root); parent !== undefined && depth < 1000; parent = parents.get(root)) {
    root = parent;
    depth++;
  }
  return { root, depth };
}

/**
 * Splits one wave into units: the items of one unit run in order on one session, units run
 * concurrently. `tableParents` comes from partitionParents(preData). Unit order and the order
 * inside a unit follow the wave, except index attaches, which go deepest first.
 */
export function postDataUnits<T>(
  wave: readonly T[],
  statementOf: (item: T) => DdlStatement,
  tableParents: ReadonlyMap<string, string>,
): T[][] {
  const indexParents = new Map<string, string>();
  for (const item of wave) {
    const m = INDEX_ATTACH.exec(statementOf(item).sql);
    if (m) indexParents.set(m[2]!, m[1]!);
  }
  const units = new Map<string, { item: T; depth: number }[]>();
  wave.forEach((item, i) => {
    const statement = statementOf(item);
    let unit = `#${i}`;
    let depth = 0;
    const attach = INDEX_ATTACH.exec(statement.sql);
    const alter = ALTER_TABLE.exec(statement.sql);
    if (statement.kind === 'default privileges' || statement.object.startsWith('publication ')) {
      // One catalog row changed by several statements (a pg_default_acl entry; a publication,
      // created, then given its owner, tables and comment): two sessions at once fail
      // ("tuple concurrently updated"), and the publication must exist first.
      unit = `object ${statement.object}`;
    } else if (attach) {
      const tree = rootOf(attach[2]!, indexParents);
      unit = `index ${tree.root}`;
      depth = tree.depth;
    } else if (alter && (statement.kind === 'foreign key' || !alter[1])) {
      unit = `table ${rootOf(alter[2]!, tableParents).root}`;
    }
    const list = units.get(unit);
    if (list) list.push({ item, depth });
    else units.set(unit, [{ item, depth }]);
  });
  // Array.prototype.sort is stable: equal depths keep the wave's order.
  return [...units.values()].map((list) => list.sort((a, b) => b.depth - a.depth).map((u) => u.item));
}

// Retrying what PostgreSQL says is retryable lives in ../retry.ts, shared by every step.
export { isRetryableState, retryRetryable, sqlState } from '../retry.ts';

/**
 * The post-data scheduler, the one production and the tests use: waves in order; in a wave, its
 * units (above) are taken from one queue by `lanes` workers (a lane is typically a session), a
 * unit's items in order on one lane. `skip` leaves out items already done (a resumed restore).
 */
export async function runWaves<T, L>(
  waves: readonly (readonly T[])[],
  lanes: readonly L[],
  statementOf: (item: T) => DdlStatement,
  tableParents: ReadonlyMap<string, string>,
  apply: (lane: L, item: T) => Promise<void>,
  skip: (item: T) => boolean = () => false,
): Promise<void> {
  for (const wave of waves) {
    const queue = postDataUnits(wave, statementOf, tableParents)
      .map((unit) => unit.filter((item) => !skip(item)))
      .filter((unit) => unit.length > 0);
    await Promise.all(
      lanes.slice(0, Math.max(1, queue.length)).map(async (lane) => {
        for (let unit = queue.shift(); unit; unit = queue.shift()) {
          for (const item of unit) await apply(lane, item);
        }
      }),
    );
  }
}
