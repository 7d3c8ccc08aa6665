// Lists and option clauses assembled on the client, in the DDL's own spelling (the quoting
// itself is ../sql.ts). Names that come straight from the catalogs are quoted by the server
// (quote_ident) in the capture queries.
import { quoteIdentLikeServer, quoteLiteral } from '../sql.ts';

/** A role list as in GRANT … TO or CREATE POLICY … TO; null is PUBLIC. */
export function roleList(roles: readonly (string | null)[]): string {
  return roles.map((r) => (r === null ? 'PUBLIC' : quoteIdentLikeServer(r))).join(', ');
}

/** ` OPTIONS (…)` of a foreign server, mapping, table or column, from the catalog's `name=value` form. */
export function fdwOptions(options: readonly string[] | null | undefined): string {
  if (!options?.length) return '';
  const items = options.map((option) => {
    const eq = option.indexOf('=');
    return `${quoteIdentLikeServer(option.slice(0, eq))} ${quoteLiteral(option.slice(eq + 1))}`;
  });
  return ` OPTIONS (${items.join(', ')})`;
}

/** Renders a reloptions array (`{fillfactor=70}`) as a WITH list body. */
export function renderOptions(options: readonly string[], prefix = ''): string {
  return options
    .map((option) => {
      const eq = option.indexOf('=');
      return `${prefix}${option.slice(0, eq)}=${quoteLiteral(option.slice(eq + 1))}`;
    })
    .join(', ');
}
