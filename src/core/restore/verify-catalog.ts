// Part of step "VerifyBatch" (batch 0): the restored database's catalog state against the one the
// backup recorded (schema/catalog-state.ts) — DESIGN invariant 11. Rows can all match while an
// index is left INVALID by a race, a NOT VALID constraint came back validated, or a trigger came
// back enabled; each such difference fails verification, naming the object.
import type { CatalogQuery } from '../schema/model.ts';
import { constraintKey, readCatalogState, type CatalogState } from '../schema/catalog-state.ts';
import { VerificationError } from '../errors.ts';

const TRIGGER_STATE: Record<string, string> = {
  O: 'enabled',
  D: 'disabled',
  R: 'enabled for replica only',
  A: 'enabled always',
};
const PERSISTENCE: Record<string, string> = { p: 'LOGGED', u: 'UNLOGGED', t: 'TEMPORARY' };
const MAX_NAMED = 20;

/** Each difference between what the backup recorded and what the target holds, in words. */
export function catalogDifferences(expected: CatalogState, actual: CatalogState): string[] {
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
  return out;
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
  const differences = catalogDifferences(expected, await readCatalogState(query, { source: false }));
  if (differences.length > 0) {
    throw new VerificationError(
      `The restored database's catalog does not match backup ${backupId}: ${named(differences)}. ` +
        'Its rows may be complete, but it is not the database that was backed up: do not use it as is. ' +
        'Restore again into a new database; if the same difference comes back, report it with this message.',
    );
  }
  return true;
}
