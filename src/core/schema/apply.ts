// Applying captured statements to a restore target. Statements needing a role the target lacks
// are skipped with a warning (the rest of the schema still restores); a statement that applies to
// a list of roles (a policy's TO) keeps the roles the target has, and when it has none of them
// the object is not created and the statements on it (its comment) are skipped too. Any other
// failure stops the restore with the object's name and PostgreSQL's message.
//
// The restoring role need not be a superuser (RDS and Aurora have none). Giving an object to an
// owner and replaying a grant as its grantor then need the restoring role to be able to act as
// that role (a member with its privileges; from PostgreSQL 16 also with SET). Where it cannot,
// the statement is skipped like one for a missing role, and the object stays the restoring
// role's — so its grants are skipped too: a view or a SECURITY DEFINER function owned by the
// restoring role would let grantees act with that role's rights.
import { RestoreTargetError, TransientError } from '../errors.ts';
import type { CatalogQuery, DdlStatement } from './model.ts';
import { retryRetryable, runWaves, sqlState } from './post-data-units.ts';
import { roleList } from './quote.ts';
import { serverVersion } from '../sql.ts';
import { LEFT_IN_DEFAULT_TABLESPACE } from './tablespaces.ts';

/** The role a restore runs as, and the roles it can act as. */
export interface Restorer {
  name: string;
  superuser: boolean;
  /** Roles whose privileges it has and that it may SET ROLE to; every role, for a superuser. */
  actAs: ReadonlySet<string>;
}

/** What the target's roles mean for a set of statements (`rolesOnTarget`). */
export interface TargetRoles {
  existing: ReadonlySet<string>;
  /** Objects whose creating statement applies to no role the target has, with the roles it lacks. */
  notCreated: ReadonlyMap<string, string[]>;
  restorer: Restorer;
}

/** The roles of the target (the cluster), the restoring role's, and what they leave out of `statements`. */
export async function targetRoles(query: CatalogQuery, statements: readonly DdlStatement[]): Promise<TargetRoles> {
  const server = await serverVersion(query);
  // Before PostgreSQL 16 membership alone allows SET ROLE; from 16 it is an option of its own.
  const canSet = server.num >= 160000 ? ` AND pg_catalog.pg_has_role(r.oid, 'SET')` : '';
  const rows = await query<{ rolname: string; act_as: boolean; me: boolean; rolsuper: boolean }>(
    `SELECT r.rolname, pg_catalog.pg_has_role(r.oid, 'USAGE')${canSet} AS act_as, r.rolname = CURRENT_USER AS me, r.rolsuper
       FROM pg_catalog.pg_roles r`,
  );
  const me = rows.find((r) => r.me)!;
  const restorer = {
    name: me.rolname,
    superuser: me.rolsuper,
    actAs: new Set(rows.filter((r) => r.act_as).map((r) => r.rolname)),
  };
  return rolesOnTarget(new Set(rows.map((r) => r.rolname)), statements, restorer);
}

/** `restorer` defaults to a superuser, who can act as every role. */
export function rolesOnTarget(
  existing: ReadonlySet<string>,
  statements: readonly DdlStatement[],
  restorer?: Restorer,
): TargetRoles {
  const notCreated = new Map<string, string[]>();
  const target = { existing, notCreated, restorer: restorer ?? { name: 'postgres', superuser: true, actAs: existing } };
  // A policy is the one creating statement that can be skipped for its roles; statementForTarget
  // decides, and statements on a skipped policy's object follow it.
  for (const statement of statements) {
    if (statement.kind === 'policy' && statementForTarget(statement, target).sql === undefined) {
      notCreated.set(statement.object, missingRoles(statement, existing));
    }
  }
  return target;
}

/** The roles a statement names (its `roles`, or its `appliesTo` list) that the target lacks. */
function missingRoles(statement: DdlStatement, existing: ReadonlySet<string>): string[] {
  const named = statement.appliesTo
    ? statement.appliesTo.roles.filter((r): r is string => r !== null)
    : (statement.roles ?? []);
  return named.filter((role) => !existing.has(role));
}

/**
 * The roles a statement acts as: an owner statement its owner, a grant the object's owner and the
 * grantor. Manifests written before `actsAs` give the owner first in a grant's `roles`, and the
 * grantor, when another role, in its SET SESSION AUTHORIZATION.
 */
function actingRoles(statement: DdlStatement): string[] {
  if (statement.actsAs) return statement.actsAs;
  if (statement.kind === 'owner') return statement.roles ?? [];
  if (statement.kind !== 'acl' || !isGrant(statement.sql)) return [];
  const grantor = SESSION_AUTHORIZATION.exec(statement.sql)?.[1];
  return [...new Set([statement.roles?.[0], grantor === undefined ? undefined : unquote(grantor)])].filter(
    (r): r is string => r !== undefined,
  );
}

/** acl.ts writes a grant by a role other than the owner as `SET SESSION AUTHORIZATION g; GRANT …; RESET SESSION AUTHORIZATION`. */
const SESSION_AUTHORIZATION =
  /^SET SESSION AUTHORIZATION ("(?:[^"]|"")*"|[^\s;]+); ([\s\S]*); RESET SESSION AUTHORIZATION$/;
const isGrant = (sql: string) => sql.startsWith('GRANT ') || SESSION_AUTHORIZATION.test(sql);
const unquote = (ident: string) => (ident.startsWith('"') ? ident.slice(1, -1).replaceAll('""', '"') : ident);

/** A restrictive policy's `appliesTo` (policies.ts writes "… AS RESTRICTIVE FOR <command> TO "). */
function isRestrictive(appliesTo: NonNullable<DdlStatement['appliesTo']>): boolean {
  return / AS RESTRICTIVE FOR [A-Z]+ TO $/.test(appliesTo.head);
}

/** The SQL to run for `statement` on this target (none: skip it), and the warning to report. */
export function statementForTarget(statement: DdlStatement, target: TargetRoles): { sql?: string; warning?: string } {
  const quoted = (roles: string[]) => roles.map((r) => `"${r}"`).join(', ');
  const skipped = (why: string) => ({ warning: `skipped ${statement.kind} statement for ${statement.object}: ${why}` });
  const missing = missingRoles(statement, target.existing);
  if (statement.appliesTo) {
    const { head, tail, roles } = statement.appliesTo;
    const kept = roles.filter((r) => r === null || target.existing.has(r));
    if (missing.length === 0) return { sql: statement.sql };
    // A restrictive policy limits its roles' members, who may exist here without the role:
    // dropping it would widen access, so it limits everyone instead.
    if (isRestrictive(statement.appliesTo)) {
      return {
        sql: head + 'PUBLIC' + tail,
        warning: `${statement.object} is RESTRICTIVE and role ${quoted(missing)} does not exist on the target: it now restricts PUBLIC`,
      };
    }
    if (kept.length === 0) return skipped(`role ${quoted(missing)} does not exist on the target`);
    return {
      sql: head + roleList(kept) + tail,
      warning: `${statement.object} applies to ${roleList(kept)} only: role ${quoted(missing)} does not exist on the target`,
    };
  }
  const lacking = statement.kind === 'policy' ? undefined : target.notCreated.get(statement.object);
  if (lacking) return skipped(`it was not created, as role ${quoted(lacking)} does not exist on the target`);
  // A revoke from PUBLIC always runs. (Manifests written before this rule list the owner in its
  // `roles`; skipping it would leave PUBLIC a privilege the source took away.)
  if (statement.kind === 'acl' && /^REVOKE .* FROM PUBLIC$/.test(statement.sql)) return { sql: statement.sql };
  const { restorer } = target;
  const cannotAct = actingRoles(statement).filter((r) => target.existing.has(r) && !restorer.actAs.has(r));
  if (missing.length > 0 || cannotAct.length > 0) {
    const why =
      missing.length > 0
        ? `role ${quoted(missing)} does not exist on the target`
        : `the restoring role "${restorer.name}" cannot act as role ${quoted(cannotAct)}; ` +
          `to restore it, grant the membership first (GRANT ${roleList(cannotAct)} TO ${roleList([restorer.name])}) or restore as a superuser`;
    const instead = statement.insteadIfRolesMissing;
    return instead ? { sql: instead.sql, ...skipped(`${why}; ${instead.why}`) } : skipped(why);
  }
  // Only a superuser may SET SESSION AUTHORIZATION; a member of the grantor may SET ROLE to it,
  // which is all a GRANT looks at.
  if (!restorer.superuser) {
    const asGrantor = SESSION_AUTHORIZATION.exec(statement.sql);
    if (asGrantor) return { sql: `SET ROLE ${asGrantor[1]}; ${asGrantor[2]}; RESET ROLE` };
  }
  return { sql: statement.sql };
}

const PRIVILEGE_NOT_REVOKED = '01006';
const OUT_OF_MEMORY = '53200';
const PRIVILEGE_NOT_GRANTED = '01007';

// Deadlocks can happen between statements of one post-data wave run concurrently (two foreign
// keys between the same tables lock them in opposite orders); they are worth a retry
// (post-data-units.ts retries them).
const RETRYABLE = new Set(['40P01', '40001', '55P03']);

/**
 * Runs `statements` in order on one session. Works inside or outside a transaction; it sets
 * check_function_bodies off for the session first when functions are among the statements
 * (bodies may reference objects created later, as in pg_dump's output).
 * Returns one warning per statement skipped or changed for a missing role.
 * Throws RestoreTargetError (TransientError for deadlocks) naming the object on failure.
 */
export async function applyStatements(
  query: CatalogQuery,
  statements: readonly DdlStatement[],
  target: TargetRoles,
  serverWarnings: () => Array<{ code: string; message: string }> = () => [],
): Promise<string[]> {
  const warnings: string[] = [];
  if (statements.some((s) => s.kind === 'function' || s.kind === 'procedure')) {
    await query('SET check_function_bodies = false');
  }
  serverWarnings(); // none of them are the statements'
  for (const statement of statements) {
    const { sql, warning } = statementForTarget(statement, target);
    if (warning) warnings.push(warning);
    if (sql === undefined) continue;
    try {
      await query(sql);
      for (const w of serverWarnings()) {
        if (w.code === LEFT_IN_DEFAULT_TABLESPACE) {
          warnings.push(w.message);
          continue;
        }
        // A GRANT or REVOKE by a role without the grant options succeeds with only a warning.
        if (w.code !== PRIVILEGE_NOT_REVOKED && w.code !== PRIVILEGE_NOT_GRANTED) continue;
        const left =
          w.code === PRIVILEGE_NOT_REVOKED
            ? 'the privilege stays where the source had revoked it'
            : 'the grantee lacks a privilege it had';
        const grantor = SESSION_AUTHORIZATION.exec(statement.sql)?.[1];
        const who = grantor
          ? `The grantor ${grantor} lacks the grant option on this object here (a grant to it was skipped or failed)`
          : `The restoring role "${target.restorer.name}" may not change this object's privileges; run the statement as its owner` +
            (target.restorer.superuser ? '' : ', or restore as a superuser');
        warnings.push(`${statement.object}: ${w.message} (running ${sql}): ${left}. ${who}`);
      }
    } catch (err) {
      // The session adapter wraps driver errors: the SQLSTATE may be on the cause.
      const { message } = err as { message?: string };
      const code = sqlState(err);
      let text = `Restoring ${statement.object} failed: ${message ?? String(err)}`;
      if (code === '42501' && !target.restorer.superuser) {
        text +=
          ` (the restoring role "${target.restorer.name}" is not a superuser: grant it what the statement needs on the target` +
          `${statement.kind === 'owner' ? " — a new owner also needs CREATE on the object's schema —" : ''} or restore as a superuser)`;
      }
      if (code === OUT_OF_MEMORY && /shared memory/i.test(message ?? '')) {
        // The lock table (max_locks_per_transaction × connections) is full: one statement that
        // locks a whole partition tree, or a server sized below PostgreSQL's defaults.
        text +=
          '. The target server ran out of lock table space: raise max_locks_per_transaction on it ' +
          '(ALTER SYSTEM SET max_locks_per_transaction = 256, then restart the server) and resume the restore';
      }
      if (code && RETRYABLE.has(code)) throw new TransientError(text, { cause: err });
      throw new RestoreTargetError(text, { cause: err });
    }
  }
  return warnings;
}

/**
 * Applies post-data waves in order, running the units of one wave (post-data-units.ts) on up to
 * `concurrency` sessions at once; a statement that deadlocks is retried with backoff. `run`
 * applies a list of statements on one session (usually by opening or borrowing a session and
 * calling applyStatements) and returns its warnings. `tableParents`: partitionParents(preData).
 */
export async function applyWaves(
  waves: readonly DdlStatement[][],
  run: (statements: DdlStatement[]) => Promise<string[]>,
  concurrency: number,
  tableParents: ReadonlyMap<string, string> = new Map(),
): Promise<string[]> {
  const warnings: string[] = [];
  const lanes = Array.from({ length: Math.max(1, Math.floor(concurrency)) }, (_, i) => i);
  await runWaves(
    waves,
    lanes,
    (s) => s,
    tableParents,
    async (_lane, statement) => {
      warnings.push(...(await retryRetryable(() => run([statement]))));
    },
  );
  return warnings;
}
