// Schema capture from the system catalogs: what pg_dump --schema-only would write, as ordered
// statements (see model.ts). Runs inside the caller's REPEATABLE READ transaction and only reads;
// search_path is emptied for the duration so every pg_get_*def output is schema-qualified.
import { refuseNonUtf8Catalog } from '../backup/encoding-check.ts';
import { UnsupportedObjectError } from '../errors.ts';
import { captureAccessMethods } from './access-methods.ts';
import { captureBaseTypes } from './base-types.ts';
import { captureCatalogGrants } from './catalog-grants.ts';
import { readCatalogState } from './catalog-state.ts';
import { captureCollations } from './collations.ts';
import { captureConversions } from './conversions.ts';
import { captureLanguages } from './languages.ts';
import { captureCasts, captureOperators } from './operators.ts';
import { captureOperatorClasses } from './opclasses.ts';
import { captureTextSearch } from './text-search.ts';
import { captureComments } from './comments.ts';
import { captureDefaultPrivileges } from './default-privileges.ts';
import { addConstraint } from './constraints.ts';
import { Capture } from './context.ts';
import { readDependencies } from './dependencies.ts';
import { captureEventTriggers } from './event-triggers.ts';
import { captureExtensions } from './extensions.ts';
import { captureExtensionConfiguration } from './extension-config.ts';
import { captureLargeObjects } from './large-objects.ts';
import { captureExtensionMemberPrivileges } from './extension-members.ts';
import { captureForeignServers } from './foreign-data.ts';
import { captureFunctions } from './functions.ts';
import { captureIndexes } from './indexes.ts';
import type { CatalogQuery, DdlStatement, SchemaSnapshot } from './model.ts';
import { orderObjects } from './ordering.ts';
import { capturePolicies } from './policies.ts';
import { capturePublications } from './publications.ts';
import { readColumns, readConstraints, readRelations } from './relations.ts';
import { captureSchemas } from './schemas.ts';
import { captureSecurityLabels } from './security-labels.ts';
import { captureSequences } from './sequences.ts';
import { captureStatistics } from './statistics.ts';
import { captureTablespaces } from './tablespaces.ts';
import { captureSubscriptions } from './subscriptions.ts';
import { addTable } from './tables.ts';
import { captureRules, captureTriggers } from './triggers-rules.ts';
import { captureTypes } from './types.ts';
import { guardUncaptured } from './uncaptured.ts';
import { addView } from './views.ts';

export const MIN_SERVER_VERSION = 130000;

export async function captureSchema(query: CatalogQuery): Promise<SchemaSnapshot> {
  const [settings] = await query<{ version: number; search_path: string }>(
    `SELECT pg_catalog.current_setting('server_version_num')::pg_catalog.int4 AS version,
       pg_catalog.current_setting('search_path') AS search_path`,
  );
  if (settings.version < MIN_SERVER_VERSION) {
    throw new UnsupportedObjectError(`PostgreSQL ${settings.version} is not supported: Tidemark needs 13 or later`);
  }
  // Local to the transaction; outside one it would not stick and the output could depend on
  // the caller's search_path, so that is refused.
  await query(`SELECT pg_catalog.set_config('search_path', '', true)`);
  const [emptied] = await query<{ path: string }>(`SELECT pg_catalog.current_setting('search_path') AS path`);
  if (emptied.path !== '') throw new UnsupportedObjectError('captureSchema must run inside a transaction');
  await refuseNonUtf8Catalog(query); // a SQL_ASCII database's names, comments and definitions
  const capture = new Capture(query, settings.version);
  await captureSchemas(capture);
  await captureExtensions(capture);
  await captureExtensionMemberPrivileges(capture);
  await captureCollations(capture); // before the types and columns using them
  await captureTypes(capture);
  await captureFunctions(capture);
  await captureBaseTypes(capture); // after their I/O functions
  await captureLanguages(capture); // after their handlers, before the functions written in them (pg_depend)
  await captureConversions(capture);
  await captureAccessMethods(capture); // after their handler functions, before the tables using them
  await captureOperators(capture);
  await captureOperatorClasses(capture); // after their operators and functions
  await captureCasts(capture);
  await captureTextSearch(capture);
  await captureForeignServers(capture);
  await captureSequences(capture); // before tables: identity columns need their sequence options
  await captureRelations(capture);
  await captureIndexes(capture);
  await captureTablespaces(capture); // after the tables, views and indexes it moves
  await captureStatistics(capture);
  await captureTriggers(capture);
  await captureRules(capture);
  await capturePolicies(capture);
  await captureCatalogGrants(capture);
  await captureDefaultPrivileges(capture);
  await capturePublications(capture);
  await captureSubscriptions(capture);
  await captureExtensionConfiguration(capture);
  await captureLargeObjects(capture);
  await captureComments(capture); // last: appends to the objects above
  await captureSecurityLabels(capture); // placed like the comments
  const eventTriggers = await captureEventTriggers(capture);
  await guardUncaptured(capture);
  const snapshot = toSnapshot(capture, await readDependencies(capture), eventTriggers);
  snapshot.catalogState = await readCatalogState(query, { source: true });
  // Not in a finally: after a failed query the transaction is aborted and this would mask it.
  await query(`SELECT pg_catalog.set_config('search_path', $1, true)`, [settings.search_path]);
  return snapshot;
}

async function captureRelations(capture: Capture): Promise<void> {
  const [relations, columns, constraints] = [
    await readRelations(capture),
    await readColumns(capture),
    await readConstraints(capture),
  ];
  const columnsOf = groupBy(columns, (c) => c.attrelid);
  const constraintsOf = groupBy(constraints, (c) => c.conrelid);
  const hasChildren = new Set(relations.flatMap((r) => (r.parents ?? []).map(([oid]) => oid)));
  for (const rel of relations) {
    const cols = columnsOf.get(rel.oid) ?? [];
    if (rel.relkind === 'v' || rel.relkind === 'm') {
      addView(capture, rel, cols);
      continue;
    }
    const cons = constraintsOf.get(rel.oid) ?? [];
    const checks = cons.filter((c) => c.contype === 'c');
    addTable(capture, rel, cols, checks, (oid) => columnsOf.get(oid) ?? [], hasChildren.has(rel.oid));
    for (const con of cons) addConstraint(capture, rel, con, hasChildren.has(rel.oid));
  }
}

function groupBy<T>(rows: T[], by: (row: T) => number): Map<number, T[]> {
  const map = new Map<number, T[]>();
  for (const row of rows) {
    const list = map.get(by(row));
    if (list) list.push(row);
    else map.set(by(row), [row]);
  }
  return map;
}

/** `eventTriggers`: their waves, after the rest (the restore creates them last: event-triggers.ts). */
function toSnapshot(
  capture: Capture,
  dependencies: Awaited<ReturnType<typeof readDependencies>>,
  eventTriggers: DdlStatement[][],
): SchemaSnapshot {
  const { ordered, promoted } = orderObjects(capture, dependencies);
  const position = new Map(ordered.map((o, i) => [o.key, i]));
  const byPosition = (a: { key: string }, b: { key: string }) =>
    (position.get(a.key) ?? 0) - (position.get(b.key) ?? 0);
  const strip = <T extends { key: string }>({ key: _key, ...rest }: T) => rest;
  const preData = ordered.flatMap((o) => o.statements);
  return {
    serverVersionNum: capture.version,
    preData: preData.filter((s) => !isGrant(s)),
    postData: [
      ...capture.post.map((wave) =>
        wave
          .filter((s) => !promoted.has(s) && !isLargeObjectAcl(s))
          .sort((a, b) => cmp(a.object, b.object) || cmp(a.sql, b.sql)),
      ),
      ...eventTriggers,
      ...grantWaves([...preData.filter(isGrant), ...capture.post.flat().filter(isLargeObjectAcl)]),
    ].filter((wave) => wave.length > 0),
    tables: [...capture.tables].sort(byPosition).map(strip),
    sequences: [...capture.sequences].sort((a, b) => cmp(a.schema, b.schema) || cmp(a.name, b.name)).map(strip),
    materializedViews: [...capture.populatedMatviews].sort(byPosition).map(strip),
    warnings: capture.warnings,
  };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A GRANT on a table, view or sequence (acl.ts writes one made by a role other than the owner
 * inside SET SESSION AUTHORIZATION). Grants on schemas, types and functions stay with their
 * objects: index expressions and constraints run as the table's owner and may need them.
 */
function isGrant(statement: DdlStatement): boolean {
  return (
    statement.kind === 'acl' &&
    /^(table|view|materialized view|sequence) /.test(statement.object) &&
    (statement.sql.startsWith('GRANT ') || statement.sql.startsWith('SET SESSION AUTHORIZATION '))
  );
}

/** A large object's privilege statements: post-data from the start, placed as relation grants are. */
function isLargeObjectAcl(statement: DdlStatement): boolean {
  return statement.kind === 'acl' && statement.object.startsWith('large object ');
}

/**
 * Grants on relations go last, after the data, row-level security and policies, as pg_restore's
 * ACL pass does: until then no grantee can read or write a half-restored table. One object's
 * grants keep their captured order, one per wave: a grant made by a grantee holding GRANT OPTION
 * needs that option given first, and two GRANTs on one object at once fail ("tuple concurrently
 * updated"). Grants on different objects run side by side.
 */
function grantWaves(grants: DdlStatement[]): DdlStatement[][] {
  const waves: DdlStatement[][] = [];
  const seen = new Map<string, number>();
  for (const grant of grants) {
    const level = seen.get(grant.object) ?? 0;
    seen.set(grant.object, level + 1);
    (waves[level] ??= []).push(grant);
  }
  return waves;
}
