// Part of step "VerifyBatch" (batch 0): the restored database's catalog state against the one the
// backup recorded (schema/catalog-state.ts) — DESIGN invariant 11. Rows can all match while an
// index is left INVALID by a race, a NOT VALID constraint came back validated, or a trigger came
// back enabled, a grant was lost or an owner changed (verify-privileges.ts); each such difference
// fails verification, naming the object.
import type { CatalogQuery } from '../schema/model.ts';
import { constraintKey, readCatalogState, type CatalogState } from '../schema/catalog-state.ts';
import { readEventTriggerState } from '../schema/privilege-state.ts';
import { VerificationError } from '../errors.ts';
import { PROGRESS_SCHEMA } from './progress-table.ts';
import { eventTriggerDifferences, privilegeDifferences, warnedAbout } from './verify-privileges.ts';

const TRIGGER_STATE: Record<string, string> = {
  O: 'enabled',
  D: 'disabled',
  R: 'enabled for replica only',
  A: 'enabled always',
};
const PERSISTENCE: Record<string, string> = { p: 'LOGGED', u: 'UNLOGGED', t: 'TEMPORARY' };
const MAX_NAMED = 20;

/**
 * Each difference between what the backup recorded and what the target holds, in words.
 * `warnings`: the restore's; a privilege or owner difference on an object one names is expected.
 */
export function catalogDifferences(
  expected: CatalogState,
  actual: CatalogState,
  warnings: readonly string[] = [],
): { catalog: string[]; privileges: string[] } {
  const out: string[] = [];
  const byKey = <T>(rows: T[], key: (row: T) => string) => new Map(rows.map((r) => [key(r), r]));
  const relations = byKey(actual.relations, (r) => r.name);
  for (const want of expected.relations) {
    const got = relations.get(want.name);
    if (!got) out.push(`relation ${want.name} is missing`);
    else {
      if (got.accessMethod !== want.accessMethod)
        out.push(
          `relation ${want.name} uses access method ${got.accessMethod ?? '(none)'} (${want.accessMethod ?? '(none)'} at the source)`,
        );
      if (got.persistence !== want.persistence)
        out.push(
          `relation ${want.name} is ${PERSISTENCE[got.persistence] ?? got.persistence} (${PERSISTENCE[want.persistence] ?? want.persistence} at the source)`,
        );
    }
  }
  const indexes = byKey(actual.indexes, (i) => i.name);
  for (const want of expected.indexes) {
    const got = indexes.get(want.name);
    if (!got) out.push(`index ${want.name} is missing`);
    else {
      if (got.valid !== want.valid)
        out.push(
          `index ${want.name} is ${got.valid ? 'valid' : 'not valid'} (${want.valid ? 'valid' : 'not valid'} at the source)`,
        );
      if (got.ready !== want.ready)
        out.push(
          `index ${want.name} is ${got.ready ? 'ready' : 'not ready'} (${want.ready ? 'ready' : 'not ready'} at the source)`,
        );
    }
  }
  const constraints = byKey(actual.constraints, constraintKey);
  for (const want of expected.constraints) {
    const name = `constraint ${want.name} on ${want.table}`;
    const got = constraints.get(constraintKey(want));
    if (!got) out.push(`${name} is missing`);
    else {
      if (got.validated !== want.validated)
        out.push(
          `${name} is ${got.validated ? 'validated' : 'NOT VALID'} (${want.validated ? 'validated' : 'NOT VALID'} at the source)`,
        );
      if (got.local !== want.local)
        out.push(
          `${name} is ${got.local ? 'declared on the table itself' : 'only inherited'} (${want.local ? 'declared on the table itself' : 'only inherited'} at the source)`,
        );
    }
  }
  const triggers = byKey(actual.triggers, (t) => `${t.table} ${t.name}`);
  for (const want of expected.triggers) {
    const name = `trigger ${want.name} on ${want.table}`;
    const got = triggers.get(`${want.table} ${want.name}`);
    if (!got) out.push(`${name} is missing`);
    else if (got.enabled !== want.enabled)
      out.push(
        `${name} is ${TRIGGER_STATE[got.enabled] ?? got.enabled} (${TRIGGER_STATE[want.enabled] ?? want.enabled} at the source)`,
      );
  }
  // Manifests written before privileges were recorded have none to compare.
  const privileges =
    expected.privileges && actual.privileges
      ? privilegeDifferences(expected.privileges, actual.privileges, warnings)
      : [];
  return { catalog: out, privileges };
}

const named = (list: string[]) =>
  list.slice(0, MAX_NAMED).join('; ') +
  (list.length > MAX_NAMED ? `; and ${list.length - MAX_NAMED} more differences` : '');

/**
 * Throws VerificationError listing the differences. Manifests written before catalog states were
 * recorded have none to compare with: returns false (rows are still verified).
 */
export async function verifyCatalog(
  query: CatalogQuery,
  expected: CatalogState | undefined,
  backupId: string,
): Promise<boolean> {
  if (!expected) return false;
  const actual = await asCaptured(query, () =>
    readCatalogState(query, { source: false, progressSchema: PROGRESS_SCHEMA }),
  );
  const { catalog, privileges } = catalogDifferences(expected, actual, await restoreWarnings(query));
  const differences = [...catalog, ...privileges];
  if (differences.length > 0) {
    throw new VerificationError(
      `The restored database's catalog does not match backup ${backupId}: ${named(differences)}. ` +
        'Its rows may be complete, but it is not the database that was backed up: do not use it as is. ' +
        (privileges.length > 0 ? PRIVILEGES_ADVICE : '') +
        'Restore again into a new database; if the same difference comes back, report it with this message.',
    );
  }
  return true;
}

/**
 * Runs `read` with the search_path the backup's capture used (empty, capture.ts): names that
 * PostgreSQL qualifies only when they are not visible (pg_describe_object, function arguments,
 * pg_get_*def) then read the same on both sides; the session's own is put back after.
 */
async function asCaptured<T>(query: CatalogQuery, read: () => Promise<T>): Promise<T> {
  const [{ path }] = await query<{ path: string }>(`SELECT pg_catalog.current_setting('search_path') AS path`);
  await query(`SELECT pg_catalog.set_config('search_path', '', false)`);
  try {
    return await read();
  } finally {
    // In a transaction a failed read aborted, the ROLLBACK puts it back instead.
    await query(`SELECT pg_catalog.set_config('search_path', $1, false)`, [path]).catch(() => undefined);
  }
}

const PRIVILEGES_ADVICE =
  'A privilege or owner the restore applied was changed afterwards (another session, an event trigger or ' +
  'ALTER DEFAULT PRIVILEGES on the target) or never applied: set it as the backup has it (GRANT, REVOKE, ' +
  'ALTER … OWNER TO) before using the database, or restore again. Privileges are listed as grantee=PRIVILEGE, ' +
  '* with grant option, (owner) for the owner, and as changes from the default an object gets ' +
  '(default +granted -revoked). ';

/** The warnings the restore recorded so far, in its progress schema (progress-table.ts); none when it has none. */
async function restoreWarnings(query: CatalogQuery): Promise<string[]> {
  const [table] = await query<{ ok: boolean }>(
    `SELECT pg_catalog.to_regclass('${PROGRESS_SCHEMA}.warnings') IS NOT NULL AS ok`,
  );
  if (!table?.ok) return [];
  const rows = await query<{ message: string }>(`SELECT message FROM ${PROGRESS_SCHEMA}.warnings ORDER BY seq`);
  return rows.map((r) => r.message);
}

/**
 * The event triggers against the source's, once Complete created them (event-triggers.ts), in its
 * transaction: throws VerificationError naming each unexpected difference. `warnings`: those of
 * their creation; a trigger one names (not created, its owner skipped) is expected to differ.
 */
export async function verifyEventTriggers(
  query: CatalogQuery,
  expected: CatalogState | undefined,
  warnings: readonly string[],
): Promise<void> {
  if (!expected?.eventTriggers) return;
  const differences = eventTriggerDifferences(
    expected.eventTriggers,
    await asCaptured(query, () => readEventTriggerState(query)),
    warnedAbout(warnings),
  );
  if (differences.length > 0) {
    throw new VerificationError(
      `The restored database's event triggers do not match the backup: ${named(differences)}. ` +
        "They are created last, in one transaction with the removal of the restore's progress schema, and that " +
        'transaction was rolled back: the restore failed and committed none of them. Restore again into a new ' +
        'database; if the same difference comes back, report it with this message.',
    );
  }
}
