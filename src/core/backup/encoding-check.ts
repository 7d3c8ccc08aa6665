// A SQL_ASCII database stores whatever bytes it was given. Tidemark reads every database as UTF-8
// (session.ts), so PostgreSQL refuses to send a value that is not valid UTF-8 — mid-export, with
// only "invalid byte sequence for encoding UTF8". Such a database is checked first, table by table
// (one scan, converting each row as the export would), and a value that cannot travel stops the
// backup before any chunk, naming its table and column and how to convert it. Other encodings
// convert to UTF-8 losslessly.
import { UnsupportedObjectError, listNames } from '../errors.ts';
import type { TableData } from '../schema/model.ts';
import { qualifiedName, quoteIdent, quoteLiteral } from '../sql.ts';
import { sqlState } from '../retry.ts';
import { catalogText } from './catalog-text.ts';

type Query = (sql: string, params?: unknown[]) => Promise<Array<Record<string, any>>>;

const INVALID_BYTES = '22021';

/** Throws UnsupportedObjectError naming each column holding bytes that are not UTF-8. */
export async function refuseNonUtf8Text(query: Query, tables: readonly TableData[]): Promise<void> {
  const [db] = await query(
    `SELECT pg_catalog.current_database() AS name, pg_catalog.pg_encoding_to_char(encoding) AS encoding
       FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()`,
  );
  if (db?.encoding !== 'SQL_ASCII') return;
  const bad: string[] = [];
  const updates: string[] = [];
  for (const table of tables) {
    if (table.source?.kind === 'large objects' || table.columns.length === 0) continue;
    const name = qualifiedName(table.schema, table.name);
    if (await convertsToUtf8(query, 'x::pg_catalog.text', `ONLY ${name} x`)) continue;
    const sets: string[] = [];
    for (const column of table.columns) {
      if (await convertsToUtf8(query, `x.${quoteIdent(column)}::pg_catalog.text`, `ONLY ${name} x`)) continue;
      bad.push(`column ${quoteIdent(column)} of ${name}`);
      sets.push(`${quoteIdent(column)} = ${await latin1ToUtf8(query, name, column)}`);
    }
    if (sets.length > 0) updates.push(`UPDATE ONLY ${name} SET ${sets.join(', ')};`);
  }
  if (updates.length === 0) return;
  throw new UnsupportedObjectError(
    `Database ${quoteLiteral(db.name)} is in the SQL_ASCII encoding and ${listNames(bad, 20)} hold bytes that are not valid UTF-8, ` +
      'the encoding Tidemark reads every database in: the backup is not taken. Convert those values to UTF-8 in place ' +
      `(for Latin-1 text: ${updates.slice(0, 20).join(' ')}${updates.length > 20 ? ` and the same for ${updates.length - 20} more tables` : ''}), ` +
      'or back this database up with pg_dump, which keeps its encoding.',
  );
}

const LATIN1_TO_UTF8 = (text: string) =>
  `convert_from(convert(convert_to(${text}, 'SQL_ASCII'), 'LATIN1', 'UTF8'), 'SQL_ASCII')`;

/**
 * The expression converting `column` of `table` from Latin-1 to UTF-8. A text, varchar or char
 * column converts as it is; any other type (an array, a domain, a composite) has no convert_to(),
 * so its text form converts and is cast back: Latin-1 bytes are never a quote, brace or comma, and
 * their UTF-8 forms neither, so an array's elements, bounds and quoting come back as they were.
 * The cast names the type without its modifier, so a varchar(n)[] too long once converted fails
 * the assignment instead of being cut.
 */
async function latin1ToUtf8(query: Query, table: string, column: string): Promise<string> {
  const [type] = await query(
    `SELECT a.atttypid IN ('pg_catalog.text'::pg_catalog.regtype, 'pg_catalog.varchar'::pg_catalog.regtype,
                           'pg_catalog.bpchar'::pg_catalog.regtype) AS plain,
            a.atttypid::pg_catalog.regtype::pg_catalog.text AS name
       FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::pg_catalog.regclass AND a.attname = $2`,
    [table, column],
  );
  const ident = quoteIdent(column);
  return type?.plain ? LATIN1_TO_UTF8(ident) : `${LATIN1_TO_UTF8(`${ident}::text`)}::${type?.name}`;
}

/**
 * The catalog's counterpart of refuseNonUtf8Text, run before the capture reads anything (which
 * would fail with only "invalid byte sequence"): names each object whose name, option, comment or
 * definition (catalog-text.ts) is not valid UTF-8 (escaped, as PostgreSQL's escape format writes bytes).
 */
export async function refuseNonUtf8Catalog(query: Query): Promise<void> {
  const [db] = await query(
    `SELECT pg_catalog.current_database() AS name, pg_catalog.pg_encoding_to_char(encoding) AS encoding
       FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()`,
  );
  if (db?.encoding !== 'SQL_ASCII') return;
  const [server] = await query(
    `SELECT pg_catalog.current_setting('server_version_num')::int AS version,
            pg_catalog.has_column_privilege('pg_catalog.pg_subscription', 'subconninfo', 'SELECT') AS conninfo`,
  );
  const bad: string[] = [];
  for (const { from, text, id } of catalogText(Number(server!.version), Boolean(server!.conninfo))) {
    if (await convertsToUtf8(query, text, from)) continue;
    // Candidates hold a byte above 0x7f (valid UTF-8 letters too); each is converted alone.
    const candidates = await query(
      `SELECT c.classid::pg_catalog.oid AS classid, c.objid, c.objsubid, pg_catalog.encode(pg_catalog.convert_to(
         pg_catalog.pg_describe_object(c.classid, c.objid, c.objsubid), 'SQL_ASCII'), 'escape') AS name
       FROM (SELECT ${id} FROM ${from} WHERE ${text} ~ '[\\x80-\\xff]') c(classid, objid, objsubid)`,
    );
    for (const c of candidates.slice(0, 50)) {
      const one = `(SELECT * FROM ${from} WHERE (${id}) = (${Number(c.classid)}::pg_catalog.oid, ${Number(c.objid)}::pg_catalog.oid, ${Number(c.objsubid)})) x`;
      if (!(await convertsToUtf8(query, text, one))) bad.push(fromEscapeFormat(String(c.name)));
    }
  }
  if (bad.length === 0) return;
  throw new UnsupportedObjectError(
    `Database ${quoteLiteral(db.name)} is in the SQL_ASCII encoding and the name, option, comment or definition of ${listNames([...new Set(bad)], 20)} ` +
      'holds bytes that are not valid UTF-8, the encoding Tidemark reads every database in: the backup is not taken. ' +
      'Rename, re-comment, redefine or set the options of them in UTF-8, or back this database up with pg_dump, which keeps its encoding.',
  );
}

/** bytea's escape format (a doubled backslash, \ooo for other bytes) read as UTF-8; an invalid byte becomes U+FFFD. */
function fromEscapeFormat(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '\\') {
      bytes.push(text.charCodeAt(i));
    } else if (text[i + 1] === '\\') {
      bytes.push(0x5c);
      i += 1;
    } else {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** True when every value of `text` over `from` can be sent as UTF-8 (converting it checks it). */
async function convertsToUtf8(query: Query, text: string, from: string): Promise<boolean> {
  await query('SAVEPOINT tidemark_encoding');
  try {
    await query(
      `SELECT pg_catalog.count(pg_catalog.convert_from(pg_catalog.convert_to(${text}, 'SQL_ASCII'), 'UTF8')) FROM ${from}`,
    );
    await query('RELEASE SAVEPOINT tidemark_encoding');
    return true;
  } catch (err) {
    await query('ROLLBACK TO SAVEPOINT tidemark_encoding');
    if (sqlState(err) === INVALID_BYTES) return false;
    throw err;
  }
}
