// Before any row is exported: can the backup's role read every row of every table? A role
// without SELECT would fail halfway through the export; a role that row-level security applies
// to would read only the rows its policies let through, and the backup would look complete. The
// sessions also run with row_security off (snapshot-session.ts), so a policy that comes
// into force later still fails the export instead of filtering it, as pg_dump does.
import { SourceAccessError, listNames } from '../errors.ts';
import { qualifiedName, quoteIdent } from '../sql.ts';

type Query = (sql: string, params?: unknown[]) => Promise<Array<Record<string, any>>>;

/** Throws SourceAccessError naming every table the role cannot read whole, and why. */
export async function checkReadAccess(
  query: Query,
  tables: readonly { schema: string; name: string }[],
): Promise<void> {
  if (tables.length === 0) return;
  const rows = await query(
    `SELECT t.name, pg_catalog.quote_ident(n.nspname) AS schema,
            NOT pg_catalog.has_schema_privilege(c.relnamespace, 'USAGE') AS no_usage,
            -- Table-level SELECT: grants on the columns alone do not cover the system columns
            -- that ranged (ctid) and incremental (xmin) exports read.
            NOT pg_catalog.has_table_privilege(c.oid, 'SELECT') AS no_select,
            pg_catalog.row_security_active(c.oid) AS filtered
       FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[])) AS t(name, nspname, relname)
       JOIN pg_catalog.pg_namespace n ON n.nspname = t.nspname
       JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.relname`,
    // By name, not ::regclass, which itself needs USAGE on the schema.
    [tables.map((t) => qualifiedName(t.schema, t.name)), tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  const noUsage = [...new Set(rows.filter((r) => r.no_usage).map((r) => r.schema as string))];
  const noSelect = rows.filter((r) => !r.no_usage && r.no_select).map((r) => r.name as string);
  const filtered = rows.filter((r) => !r.no_usage && !r.no_select && r.filtered).map((r) => r.name as string);
  const [role] = await query('SELECT CURRENT_USER AS name');
  const problems: string[] = [];
  if (noUsage.length) {
    problems.push(
      `it has no USAGE privilege on schema ${list(noUsage)}: grant it (GRANT USAGE ON SCHEMA … TO ${quoteIdent(role!.name)})`,
    );
  }
  if (noSelect.length) {
    problems.push(
      `it has no SELECT privilege on ${list(noSelect)}: grant it (GRANT SELECT ON … TO ${quoteIdent(role!.name)}) or back up as the tables' owner`,
    );
  }
  if (filtered.length) {
    problems.push(
      `row-level security applies to it on ${list(filtered)}, so only the rows its policies allow would be saved: ` +
        'back up as a superuser, a role with BYPASSRLS, or the table owner (for tables without FORCE ROW LEVEL SECURITY)',
    );
  }
  if (problems.length) {
    throw new SourceAccessError(
      `Role "${role!.name}" cannot read every row of the database, so nothing was exported: ${problems.join('; ')}.`,
    );
  }
}

const list = (names: string[]) => listNames(names, 10);
