// YugabyteDB speaks PostgreSQL's protocol, but its logical replication is its own (a CDC service
// with LSNs that are not WAL byte positions): the change archive cannot be built on it, and
// untested it is refused (issue 13, item 7).
import type { SqlSession } from '../ports/database.ts';
import { TidemarkError } from '../errors.ts';
import { isYugabyte } from '../sql.ts';

/** The source is YugabyteDB: no point-in-time recovery from it. */
export class PitrUnsupportedSourceError extends TidemarkError {
  override readonly exitCode = 2;
}

export interface ServerFacts {
  /** `SELECT version()`. */
  version: string;
  /** `server_version`. */
  serverVersion: string;
  /** Names of the server's settings that begin with `yb_`. */
  ybSettings: string[];
}

/** Why the facts say YugabyteDB, or undefined when they do not. */
export function yugabyteEvidence(facts: ServerFacts): string | undefined {
  if (isYugabyte(facts.serverVersion)) return `server_version is ${facts.serverVersion}`;
  if (/-YB-|\bYugabyteDB\b/i.test(facts.version)) return `version() is "${facts.version}"`;
  if (facts.ybSettings.length) return `it has YugabyteDB settings (${facts.ybSettings.slice(0, 3).join(', ')})`;
  return undefined;
}

export async function serverFacts(session: SqlSession): Promise<ServerFacts> {
  const [row] = await session.query<{ version: string; server_version: string; yb: string[] }>(
    `SELECT pg_catalog.version() AS version, pg_catalog.current_setting('server_version') AS server_version,
            ARRAY(SELECT name FROM pg_catalog.pg_settings WHERE name LIKE 'yb\\_%' ORDER BY name) AS yb`,
  );
  return { version: row!.version, serverVersion: row!.server_version, ybSettings: row!.yb };
}

/** Refuses a YugabyteDB source, saying what to use instead. */
export async function refuseYugabyte(session: SqlSession, collection: string): Promise<void> {
  const evidence = yugabyteEvidence(await serverFacts(session));
  if (!evidence) return;
  throw new PitrUnsupportedSourceError(
    `Point-in-time recovery cannot be enabled for collection ${collection}: its source is YugabyteDB (${evidence}). ` +
      "Tidemark's change archive reads PostgreSQL logical decoding, whose LSNs are WAL byte positions; YugabyteDB's logical replication has LSNs of its own and is not supported. " +
      "Nothing was changed. Backups of the collection work as before; for restores to a point in time use YugabyteDB's own PITR (yb-admin create_snapshot_schedule).",
  );
}
