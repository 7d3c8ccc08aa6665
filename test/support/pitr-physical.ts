// PostgreSQL's own point-in-time recovery, the oracle of Tidemark's (LOCAL-STACK.md,
// "Point-in-time recovery"): Debian's PostgreSQL 15 server with WAL archiving, a physical base
// backup, and recovery of a copy of it to a recovery_target_*; and the clusters of tests that need
// a data directory of their own (newCluster, startCluster: pitr-timeline restarts and promotes one).
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, chmod, mkdir, appendFile, writeFile, rm, cp, chown } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import pg from 'pg';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';
/** The Debian package's postgres user (its ids differ between machines). */
export const POSTGRES_UID = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
export const POSTGRES_GID = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());

export async function asPostgres(cmd: string, args: string[]): Promise<string> {
  const { stdout } = await run('runuser', ['-u', 'postgres', '--', join(BIN, cmd), ...args], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface PhysicalServer {
  port: number;
  url(database?: string): string;
  sql(text: string, database?: string): Promise<pg.QueryResult>;
  stop(): Promise<void>;
}

/**
 * A new cluster in a temporary directory (owned by postgres, listening on 127.0.0.1 only, logical
 * WAL, `settings` of its root appended), not started: its root, data directory and port.
 */
export async function newCluster(
  prefix: string,
  settings: (root: string) => string[] = () => [],
): Promise<{ root: string; data: string; port: number }> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  await chmod(root, 0o755);
  await chown(root, POSTGRES_UID, POSTGRES_GID);
  const data = join(root, 'data');
  await asPostgres('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  await appendFile(
    join(data, 'postgresql.conf'),
    [
      "listen_addresses = '127.0.0.1'",
      "unix_socket_directories = ''",
      `port = ${port}`,
      'wal_level = logical',
      'max_wal_senders = 5',
      'max_replication_slots = 5',
      'fsync = off',
      "timezone = 'UTC'",
      ...settings(root),
      '',
    ].join('\n'),
  );
  return { root, data, port };
}

/** Starts the cluster in `dir` on `port`. */
export async function startCluster(dir: string, port: number): Promise<PhysicalServer> {
  await asPostgres('pg_ctl', ['-D', dir, '-l', join(dir, 'server.log'), '-o', `-p ${port}`, '-w', '-t', '60', 'start']);
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  return {
    port,
    url,
    async sql(text, database = 'postgres') {
      const client = new pg.Client({ connectionString: url(database) });
      await client.connect();
      try {
        return await client.query(text);
      } finally {
        await client.end();
      }
    },
    async stop() {
      await asPostgres('pg_ctl', ['-D', dir, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    },
  };
}

export interface ArchivingSource extends PhysicalServer {
  /** Takes the physical base backup (pg_basebackup -X none: its WAL comes from the archive). */
  baseBackup(): Promise<void>;
  /** Switches to a new WAL file and waits until every file so far is archived. */
  archiveAll(): Promise<void>;
  /** Recovers a copy of the base backup to `target` (e.g. `recovery_target_xid = '123'`) and starts it. */
  recoverTo(target: string): Promise<PhysicalServer>;
  destroy(): Promise<void>;
}

export async function startArchivingSource(): Promise<ArchivingSource> {
  // No autovacuum: its commits would land between the workload's and blur the lsn targets.
  const { root, data, port } = await newCluster('tidemark-pitr-oracle-', (dir) => [
    'autovacuum = off',
    'archive_mode = on',
    `archive_command = 'cp %p ${join(dir, 'archive')}/%f'`,
  ]);
  const archive = join(root, 'archive');
  const base = join(root, 'base');
  await mkdir(archive);
  await chown(archive, POSTGRES_UID, POSTGRES_GID);
  const server = await startCluster(data, port);
  const recovered: PhysicalServer[] = [];
  let copies = 0;
  return {
    ...server,
    async baseBackup() {
      await asPostgres('pg_basebackup', [
        '-h',
        '127.0.0.1',
        '-p',
        String(server.port),
        '-U',
        'postgres',
        '-D',
        base,
        '-X',
        'none',
        '-c',
        'fast',
      ]);
    },
    async archiveAll() {
      const { rows } = await server.sql('SELECT pg_walfile_name(pg_current_wal_lsn()) AS file, pg_switch_wal()');
      const deadline = Date.now() + 30_000;
      for (;;) {
        const { rows: a } = await server.sql('SELECT last_archived_wal FROM pg_stat_archiver');
        if (a[0].last_archived_wal && a[0].last_archived_wal >= rows[0].file) return;
        if (Date.now() > deadline) throw new Error(`WAL file ${rows[0].file} was not archived within 30 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async recoverTo(target) {
      const dir = join(root, `recovered-${++copies}`);
      await cp(base, dir, { recursive: true });
      await run('chown', ['-R', 'postgres:postgres', dir]);
      await appendFile(
        join(dir, 'postgresql.auto.conf'),
        `\narchive_mode = off\nrestore_command = 'cp ${archive}/%f %p'\n${target}\nrecovery_target_action = 'promote'\n`,
      );
      await writeFile(join(dir, 'recovery.signal'), '');
      await run('chown', ['postgres:postgres', join(dir, 'recovery.signal')]);
      await chmod(dir, 0o700);
      const copy = await startCluster(dir, await freePort());
      recovered.push(copy);
      const deadline = Date.now() + 60_000;
      while ((await copy.sql('SELECT pg_is_in_recovery() AS r')).rows[0].r) {
        if (Date.now() > deadline) throw new Error(`recovery to ${target} did not finish within 60 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return copy;
    },
    async destroy() {
      for (const r of recovered) await r.stop();
      await server.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Every table of the public schema and its rows as sorted text: what two databases must share. */
export async function tableContents(sql: (text: string) => Promise<pg.QueryResult>): Promise<Record<string, string[]>> {
  const { rows } = await sql(
    "SELECT c.oid::regclass::text AS name FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY 1",
  );
  const out: Record<string, string[]> = {};
  for (const { name } of rows) {
    const { rows: data } = await sql(
      `SELECT coalesce(array_agg(x::text ORDER BY x::text), '{}') AS rows FROM ${name} x`,
    );
    out[name] = data[0].rows;
  }
  return out;
}
