// `restore --tablespace-map <old>=<new>`: objects of a source tablespace go into another of the
// target (or pg_default), decided at restore time from the manifest's unchanged statements.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '#test/support/postgres-server.ts';
import { describeResult, runCliInProcess } from '#test/support/cli.ts';
import { runBackup, tempRepository } from '#test/support/pipeline.ts';
import { openLocalContext } from '#local/local-context.ts';
import { readMove, tablespacesUsed, withTablespaceMap } from '#core/schema/tablespaces.ts';
import { restoreRunInput, tablespaceMapFrom } from '#core/restore/run-input.ts';
import { runStateMachine } from '#local/state-machine-runner.ts';
import { newRunId } from '#core/ids.ts';
import type { DdlStatement } from '#core/schema/model.ts';
import { UsageError } from '#core/errors.ts';
import { capture } from './helpers.ts';
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// A quote and a backslash in the name: the move is read back from the SQL it was written as.
const ODD = String.raw`Odd's \ place`;

describe('restore --tablespace-map', () => {
  let server: PostgresServer;
  let place: string;
  let repo: string;
  let statements: DdlStatement[];
  const placement = async (database: string) =>
    (
      await server.sql(
        `SELECT c.relname, COALESCE(t.spcname, '') AS space FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace
          WHERE n.nspname = 'sp' ORDER BY 1`,
        database,
      )
    ).rows as { relname: string; space: string }[];
  const restore = (database: string, ...map: string[]) =>
    runCliInProcess([
      'restore',
      'latest',
      '--repo',
      repo,
      '--target',
      server.url(database),
      '--json',
      ...map.flatMap((m) => ['--tablespace-map', m]),
    ]);

  beforeAll(async () => {
    server = await startPostgres({ major: 15 });
    // Tablespace directories belong to the server's user (postgres, when we are root).
    place = await mkdtemp(join(tmpdir(), 'tidemark-space-map-'));
    await chmod(place, 0o755);
    for (const dir of ['s', 'other', 'odd']) {
      await mkdir(join(place, dir));
      if (process.getuid?.() === 0) {
        const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString());
        await chown(join(place, dir), id('-u'), id('-g'));
      }
    }
    await server.sql(`CREATE TABLESPACE "Space S" LOCATION '${join(place, 's')}'`);
    await server.sql(`CREATE TABLESPACE other LOCATION '${join(place, 'other')}'`);
    await server.sql(`CREATE TABLESPACE "${ODD}" LOCATION '${join(place, 'odd')}'`);
    await server.createDatabase('spaced');
    await server.sql(
      `CREATE SCHEMA sp;
       CREATE TABLE sp.plain (id int PRIMARY KEY USING INDEX TABLESPACE "Space S", v text) TABLESPACE "Space S";
       INSERT INTO sp.plain SELECT g, 'v' || g FROM generate_series(1, 50) g;
       CREATE INDEX plain_v ON sp.plain (v) TABLESPACE "Space S";
       CREATE MATERIALIZED VIEW sp.mv TABLESPACE "Space S" AS SELECT id FROM sp.plain;
       CREATE TABLE sp.odd (id int) TABLESPACE "${ODD}";`,
      'spaced',
    );
    const snapshot = await capture(server.url('spaced'));
    statements = [...snapshot.preData, ...snapshot.postData.flat()];
    repo = await tempRepository();
    await runBackup(repo, server.url('spaced'));
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    if (repo) await rm(dirname(repo), { recursive: true, force: true });
    if (place) await rm(place, { recursive: true, force: true });
  });

  it('reads each move back from its statement, whatever the names hold', () => {
    const moves = statements.filter((s) => s.kind === 'tablespace').map(readMove);
    expect(moves.map((m) => [m.object, m.keyword, m.space]).sort()).toEqual([
      ['index sp.plain_pkey', 'INDEX', 'Space S'],
      ['index sp.plain_v', 'INDEX', 'Space S'],
      ['materialized view sp.mv', 'MATERIALIZED VIEW', 'Space S'],
      ['table sp.odd', 'TABLE', ODD],
      ['table sp.plain', 'TABLE', 'Space S'],
    ]);
    expect(tablespacesUsed(statements)).toEqual([ODD, 'Space S'].sort());
    // Unmapped statements are kept as captured; a mapped one is rewritten (at restore time only).
    const mapped = withTablespaceMap(statements, { [ODD]: 'other' });
    expect(mapped.filter((s) => !s.object.includes('sp.odd'))).toEqual(
      statements.filter((s) => !s.object.includes('sp.odd')),
    );
    const odd = mapped.find((s) => s.kind === 'tablespace' && s.object === 'table sp.odd')!;
    expect(readMove(odd)).toEqual({ object: 'table sp.odd', keyword: 'TABLE', ident: 'sp.odd', space: 'other' });
    expect(odd.sql).toContain('mapped by --tablespace-map');
  });

  it('checks --tablespace-map entries: one "=", both names non-empty, one target per source', () => {
    expect(tablespaceMapFrom(['Space S=other', 'b=pg_default'])).toEqual({ 'Space S': 'other', b: 'pg_default' });
    for (const bad of ['other', 'a=b=c', '=other', 'Space S=']) {
      expect(() => tablespaceMapFrom([bad]), bad).toThrow(UsageError);
      expect(() => tablespaceMapFrom([bad]), bad).toThrow(`--tablespace-map "${bad}" is not <old>=<new>`);
    }
    expect(() => tablespaceMapFrom(['a=b', 'a=c'])).toThrow('maps tablespace "a" twice');
  });

  it('puts the mapped objects into the tablespace named, and says so in --json and the catalog record', async () => {
    const result = await restore('mapped', 'Space S=other', `${ODD}=Space S`);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.json.verified).toBe(true);
    expect(result.json.tablespaceMap).toEqual({ 'Space S': 'other', [ODD]: 'Space S' });
    expect(result.json.warnings.filter((w: string) => w.includes('tablespace'))).toEqual([]);
    expect(await placement('mapped')).toEqual([
      { relname: 'mv', space: 'other' },
      { relname: 'odd', space: 'Space S' },
      { relname: 'plain', space: 'other' },
      { relname: 'plain_pkey', space: 'other' },
      { relname: 'plain_v', space: 'other' },
    ]);
    const ctx = await openLocalContext(repo, { create: false });
    expect((await ctx.catalog.getRestore(result.json.restoreId))?.tablespaceMap).toEqual(result.json.tablespaceMap);
  }, 120_000);

  it('maps to pg_default without a warning; what is not mapped goes to its own tablespace', async () => {
    const result = await restore('to_default', 'Space S=pg_default');
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.json.warnings.filter((w: string) => w.includes('tablespace'))).toEqual([]);
    const spaces = await placement('to_default');
    expect(spaces.filter((r) => r.relname !== 'odd').every((r) => r.space === '')).toBe(true);
    expect(spaces.find((r) => r.relname === 'odd')?.space).toBe(ODD);
  }, 120_000);

  it('leaves objects mapped to a tablespace the target lacks in the default one, naming both tablespaces', async () => {
    const result = await restore('to_missing', 'Space S=nowhere');
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.json.verified).toBe(true);
    const left = result.json.warnings.filter((w: string) => w.includes('stays in the default tablespace'));
    expect(left.sort()).toEqual(
      ['index sp.plain_pkey', 'index sp.plain_v', 'materialized view sp.mv', 'table sp.plain'].map(
        (object) =>
          `${object} stays in the default tablespace: the target has no tablespace nowhere (its tablespace "Space S" mapped by --tablespace-map) the restoring role may create in`,
      ),
    );
    expect((await placement('to_missing')).filter((r) => r.space !== '')).toEqual([{ relname: 'odd', space: ODD }]);
  }, 120_000);

  it('refuses a map entry for a tablespace no object of the backup is in, before creating anything', async () => {
    const result = await restore('never_created', 'Space S=other', 'elsewhere=other');
    expect(result.code, describeResult(result)).toBe(2);
    expect(result.stderr).toContain('--tablespace-map names tablespace "elsewhere", which no object of backup');
    expect(result.stderr).toContain(`its objects are in "${ODD}", "Space S"`);
    const exists = await server.sql(`SELECT 1 FROM pg_database WHERE datname = 'never_created'`);
    expect(exists.rows).toEqual([]);
  }, 120_000);

  it('a resumed restore keeps the map of the run it resumes: another is refused naming both, none reuses the recorded one, and the output says which', async () => {
    // The first run fails once its rows are loaded: its tables are in "other", its indexes to come.
    const ctx = await openLocalContext(repo, { create: false });
    ctx.credentials.register('target', server.url('resumed_map'));
    const failedId = newRunId();
    let killed = false;
    const failed = runStateMachine(
      'restore',
      restoreRunInput({ backup: 'latest', target: { credentials: 'target' }, tablespaceMap: { 'Space S': 'other' } }),
      ctx,
      {
        executionName: failedId,
        aroundTask: async (fn, invoke) => {
          if (fn !== 'RestoreLoadBatch' || killed) return invoke();
          killed = true;
          await invoke();
          throw Object.assign(new Error(`${fn} was killed`), { name: 'TaskKilled' });
        },
      },
    );
    await expect(failed).rejects.toThrow('was killed');
    expect((await ctx.catalog.getRestore(failedId))?.state).toBe('failed');
    const resume = (...args: string[]) =>
      runCliInProcess([
        'restore',
        '--resume',
        failedId,
        '--repo',
        repo,
        '--target',
        server.url('resumed_map'),
        ...args,
      ]);

    for (const other of [['Space S=pg_default'], ['Space S=other', `${ODD}=other`]]) {
      const refused = await resume('--json', ...other.flatMap((m) => ['--tablespace-map', m]));
      expect(refused.code, describeResult(refused)).toBe(2);
      expect(refused.stderr).toContain(
        `Restore ${failedId} ran with --tablespace-map "Space S=other", and this resume gives ${other
          .sort()
          .map((m) => `--tablespace-map "${m}"`)
          .join(' ')}: a resumed restore carries on with the map of the restore it resumes`,
      );
    }

    const resumed = await resume();
    expect(resumed.code, describeResult(resumed)).toBe(0);
    expect(resumed.stderr).toContain('tablespace "Space S" mapped to other (--tablespace-map)');
    expect(await placement('resumed_map')).toEqual([
      { relname: 'mv', space: 'other' },
      { relname: 'odd', space: ODD },
      { relname: 'plain', space: 'other' },
      { relname: 'plain_pkey', space: 'other' },
      { relname: 'plain_v', space: 'other' },
    ]);
    const resumedId = /Restore (\S+) of backup/.exec(resumed.stderr)![1]!;
    expect(resumedId).not.toBe(failedId);
    expect((await ctx.catalog.getRestore(resumedId))?.tablespaceMap).toEqual({ 'Space S': 'other' });
  }, 120_000);

  it('refuses a malformed entry on the command line', async () => {
    const result = await restore('never_created', 'Space S');
    expect(result.code, describeResult(result)).toBe(2);
    expect(result.stderr).toContain('--tablespace-map "Space S" is not <old>=<new>');
  });
});
