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
  let example: { table: string; column: string } | undefined;
  for (const table of tables) {
    if (table.source?.kind === 'large objects' || table.columns.length === 0) continue;
    const name = qualifiedName(table.schema, table.name);
    if (await convertsToUtf8(query, 'x::pg_catalog.text', `ONLY ${name} x`)) continue;
    for (const column of table.columns) {
      if (await convertsToUtf8(query, `x.${quoteIdent(column)}::pg_catalog.text`, `ONLY ${name} x`)) continue;
      bad.push(`column ${quoteIdent(column)} of ${name}`);
      example ??= { table: name, column: quoteIdent(column) };
    }
  }
  if (!example) return;
  const { table, column } = example;
  throw new UnsupportedObjectError(
    `Database ${quoteLiteral(db.name)} is in the SQL_ASCII encoding and ${listNames(bad, 20)} hold bytes that are not valid UTF-8, ` +
      'the encoding Tidemark reads every database in: the backup is not taken. Convert those values to UTF-8 in place ' +
      `(for Latin-1 text: UPDATE ${table} SET ${column} = convert_from(convert(convert_to(${column}, 'SQL_ASCII'), 'LATIN1', 'UTF8'), 'SQL_ASCII')), ` +
      'or back this database up with pg_dump, which keeps its encoding.',
  );
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
