// Quoting for names and literals assembled on the client. Names that come straight from the
// catalogs are quoted by the server (quote_ident) in the capture queries; this is for role names
// and values we splice together ourselves.

// Reserved keywords (PostgreSQL 13–18): a bare role name may be any non-reserved word.
const RESERVED = new Set(
  ('all analyse analyze and any array as asc asymmetric authorization binary both case cast check ' +
    'collate collation column concurrently constraint create cross current_catalog current_date ' +
    'current_role current_schema current_time current_timestamp current_user default deferrable desc ' +
    'distinct do else end except false fetch for foreign freeze from full grant group having ilike in ' +
    'initially inner intersect into is isnull join lateral leading left like limit localtime ' +
    'localtimestamp natural not notnull null offset on only or order outer overlaps placing primary ' +
    'references returning right select session_user similar some symmetric system_user table ' +
    'tablesample then to trailing true union unique user using variadic verbose when where window with')
    .split(' '),
);

/** A role list as in GRANT … TO or CREATE POLICY … TO; null is PUBLIC. */
export function roleList(roles: readonly (string | null)[]): string {
  return roles.map((r) => (r === null ? 'PUBLIC' : quoteIdent(r))).join(', ');
}

/** Quotes an identifier the way quote_ident() does for role names (non-reserved words stay bare). */
export function quoteIdent(name: string): string {
  if (/^[a-z_][a-z0-9_$]*$/.test(name) && !RESERVED.has(name)) return name;
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a string literal like quote_literal(): E'' form when it holds backslashes. */
export function quoteLiteral(value: string): string {
  const body = value.replaceAll("'", "''");
  return value.includes('\\') ? `E'${body.replaceAll('\\', '\\\\')}'` : `'${body}'`;
}

/** ` OPTIONS (…)` of a foreign server, mapping, table or column, from the catalog's `name=value` form. */
export function fdwOptions(options: readonly string[] | null | undefined): string {
  if (!options?.length) return '';
  const items = options.map((option) => {
    const eq = option.indexOf('=');
    return `${quoteIdent(option.slice(0, eq))} ${quoteLiteral(option.slice(eq + 1))}`;
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
