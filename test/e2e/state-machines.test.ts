// The ASL definitions in state-machines/ are the ones CDK deploys (DESIGN.md invariant 7): they
// must validate as Amazon States Language, name only functions that exist, and keep every state
// payload under Step Functions' 256 KB limit at any database size (invariant 4).
import { createRequire } from 'node:module';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionEntries, functionHandlers } from '#functions/index.ts';
import {
  definitionPath,
  loadDefinition,
  PAYLOAD_LIMIT_BYTES,
  PayloadTooLargeError,
  runStateMachine,
  walkStates,
  type StateEvent,
} from '#local/state-machine-runner.ts';
import { openLocalContext } from '#local/local-context.ts';
import { readPlanHeader } from '#core/backup/plan.ts';
import { startPostgres, type PostgresServer } from '../support/postgres-server.ts';

// asl-validator is CommonJS without type declarations.
const aslValidator = createRequire(import.meta.url)('asl-validator') as (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => { isValid: boolean; errors: unknown[]; errorsText: (separator?: string) => string };

const MACHINES = ['backup', 'restore', 'maintenance', 'archive'] as const;
const PLACEHOLDER = /\$\{(\w+)FunctionArn\}/g;

async function definitionText(name: (typeof MACHINES)[number]): Promise<string> {
  return readFile(definitionPath(name), 'utf8');
}

/** What CDK does at deploy time: every `${XxxFunctionArn}` becomes a Lambda ARN. */
function withDummyArns(text: string): unknown {
  return JSON.parse(
    text
      .replace(PLACEHOLDER, (_, fn: string) => `arn:aws:lambda:eu-west-1:123456789012:function:tidemark-${fn}`)
      .replaceAll('${EventBusName}', 'tidemark-events'),
  );
}

describe('ASL definitions', () => {
  for (const name of MACHINES) {
    it(`${name}.asl.json is valid Amazon States Language once its function ARNs are substituted`, async () => {
      const text = await definitionText(name);
      expect(text).toMatch(PLACEHOLDER);
      const result = aslValidator(withDummyArns(text), { checkPaths: true, checkArn: true });
      expect(result.errorsText('\n'), `${name}.asl.json`).toBe('');
      expect(result.isValid).toBe(true);
    });
  }

  it('the validator is not a rubber stamp: a dangling Next is rejected', async () => {
    const definition = withDummyArns(await definitionText('backup')) as any;
    definition.States.Commit.Next = 'NoSuchState';
    delete definition.States.Commit.End;
    expect(aslValidator(definition).isValid).toBe(false);
  });

  it('every placeholder names a function in functions/index.ts, and every function is used', async () => {
    const used = new Set<string>();
    for (const name of MACHINES) {
      const definition = JSON.parse(await definitionText(name));
      walkStates(definition.States, (stateName, state) => {
        if (state.Type !== 'Task') return;
        expect(
          ['arn:aws:states:::lambda:invoke', 'arn:aws:states:::events:putEvents'],
          `Task ${stateName}: Resource`,
        ).toContain(state.Resource);
        if (state.Resource === 'arn:aws:states:::events:putEvents') {
          // The only other Task kind: events on the stack's bus, named by its own placeholder.
          for (const entry of state.Parameters.Entries) expect(entry.EventBusName, stateName).toBe('${EventBusName}');
          return;
        }
        const fn = /^\$\{(\w+)FunctionArn\}$/.exec(state.Parameters?.FunctionName ?? '');
        expect(
          fn,
          `Task ${stateName} of ${name}.asl.json: FunctionName ${state.Parameters?.FunctionName}`,
        ).not.toBeNull();
        used.add(fn![1]!);
      });
      // No placeholder hides outside a Task's FunctionName (e.g. in a Comment or Parameters).
      for (const [, fn] of (await definitionText(name)).matchAll(PLACEHOLDER)) expect(used.has(fn!), fn).toBe(true);
      // And no placeholder that deployment would not fill.
      for (const [placeholder] of (await definitionText(name)).matchAll(/\$\{\w+\}/g)) {
        expect(placeholder, name).toMatch(/^\$\{(\w+FunctionArn|EventBusName)\}$/);
      }
    }
    const defined = Object.keys(functionHandlers).sort();
    expect([...used].sort()).toEqual(defined);
    for (const fn of defined) expect(typeof functionHandlers[fn], fn).toBe('function');
    // The bundling entry list names the same functions, each an existing file.
    expect(Object.keys(functionEntries).sort()).toEqual(defined);
    for (const [name, file] of Object.entries(functionEntries)) {
      expect((await stat(new URL(`../../functions/${file}`, import.meta.url))).isFile(), file).toBe(true);
      // Its logs and metrics name the task as the registry does.
      expect(await readFile(new URL(`../../functions/${file}`, import.meta.url), 'utf8'), file).toContain(
        `taskHandler('${name}',`,
      );
    }
  });
});

describe('the local runner', () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'tidemark-sm-'));
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  // aws-local-stepfunctions times a Task out after 60 s unless it says otherwise; a snapshot
  // hold or an export batch on a slow machine takes longer (CI failed on States.Timeout once).
  it.each(MACHINES)(
    'gives every %s Task at least the 1-day local snapshot window, not the library default of 60 s',
    async (name) => {
      const tasks: [string, number][] = [];
      walkStates((await loadDefinition(name)).definition.States, (stateName, state) => {
        if (state.Type === 'Task') tasks.push([stateName, state.TimeoutSeconds]);
      });
      expect(tasks.length).toBeGreaterThanOrEqual(3); // the walk reaches nested states (archive has 3 Tasks)
      for (const [stateName, seconds] of tasks) expect(seconds, stateName).toBeGreaterThanOrEqual(86_400);
    },
  );

  it('rejects a state payload over 256 KB, naming the state', async () => {
    const ctx = await openLocalContext(join(scratch, 'oversized-repo'), { create: true });
    ctx.credentials.register('source', 'postgres://nobody@127.0.0.1:1/none');
    const input = {
      source: { credentials: 'source' },
      options: { workers: 1, snapshotHoldSeconds: 60, plan: { chunkBytes: 65536, rangeBytes: 1 << 20 } },
      note: 'x'.repeat(300 * 1024),
    };
    const error = await runStateMachine('backup', input, ctx).then(
      () => undefined,
      (err: unknown) => err as Error & { errorName?: string },
    );
    expect(error, 'the run succeeded with a 300 KB payload').toBeDefined();
    expect(error!.message).toMatch(/StartBackup (input|output) is \d+ bytes, over the 256 KB Step Functions limit/);
    expect(
      error instanceof PayloadTooLargeError || error!.errorName === 'States.DataLimitExceeded',
      `${error!.name}: ${error!.message}`,
    ).toBe(true);
    // Nothing was recorded as a backup.
    expect(await ctx.catalog.listBackups()).toEqual([]);
  });
});

describe('a run with 5,000+ export tasks', () => {
  let pg: PostgresServer;
  let scratch: string;
  beforeAll(async () => {
    [pg, scratch] = await Promise.all([startPostgres({ major: 15 }), mkdtemp(join(tmpdir(), 'tidemark-sm-'))]);
    await pg.createDatabase('pages');
    // ~1 KB rows, 7 to a page: ~5,700 heap pages (~46 MB), one export task each with 8 KB ranges.
    await pg.sql(
      `CREATE TABLE wide (id int PRIMARY KEY, body text NOT NULL) WITH (autovacuum_enabled = off);
       INSERT INTO wide SELECT g, lpad(g::text, 1000, md5(g::text)) FROM generate_series(1, 40000) g;
       ANALYZE wide;`,
      'pages',
    );
  });
  afterAll(async () => {
    await pg?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  it('keeps every state payload under 256 KB, commits, and restores every row', async () => {
    const [{ pages }] = (await pg.sql(`SELECT pg_relation_size('wide') / 8192 AS pages`, 'pages')).rows;
    expect(Number(pages)).toBeGreaterThanOrEqual(5000);

    const repo = join(scratch, 'repo');
    const ctx = await openLocalContext(repo, { create: true });
    ctx.credentials.register('source', pg.url('pages'));
    ctx.credentials.register('target', pg.url('pages_restored'));
    const sizes: StateEvent[] = [];
    const onState = (e: StateEvent) => {
      if (e.bytes !== undefined) sizes.push(e);
    };
    const largest = () => sizes.reduce((a, b) => (b.bytes! > a.bytes! ? b : a));

    let started = Date.now();
    const backup = await runStateMachine(
      'backup',
      {
        source: { credentials: 'source' },
        options: { workers: 4, snapshotHoldSeconds: 600, plan: { chunkBytes: 4 << 20, rangeBytes: 8192 } },
      },
      ctx,
      { onState },
    );
    const plan = await readPlanHeader(ctx, backup.backupId);
    expect(plan.taskCount).toBeGreaterThanOrEqual(5000);
    expect((await ctx.catalog.getBackup(backup.backupId))?.state).toBe('committed');
    // One result per batch; far fewer batches than tasks, so the Map's item list stays small.
    expect((await readdir(join(repo, 'runs', backup.backupId, 'results'))).length).toBe(plan.batchCount);
    expect(sizes.some((e) => e.state === 'ExportBatch')).toBe(true);
    const backupLargest = largest();
    console.log(
      `backup: ${plan.taskCount} tasks in ${plan.batchCount} batches, ${Date.now() - started} ms; largest state payload ${backupLargest.bytes} bytes (${backupLargest.type} ${backupLargest.state})`,
    );
    expect(backupLargest.bytes).toBeLessThan(PAYLOAD_LIMIT_BYTES);

    sizes.length = 0;
    started = Date.now();
    const restore = await runStateMachine(
      'restore',
      { backup: backup.backupId, target: { credentials: 'target' }, options: { workers: 4 } },
      ctx,
      { onState },
    );
    expect(restore).toMatchObject({ backupId: backup.backupId, rows: 40000 });
    const restoreLargest = largest();
    const loadBatches = sizes.filter((e) => e.type === 'StateEntered' && e.state === 'LoadBatch').length;
    console.log(
      `restore: ${loadBatches} load batches, ${Date.now() - started} ms; largest state payload ${restoreLargest.bytes} bytes (${restoreLargest.type} ${restoreLargest.state})`,
    );
    expect(restoreLargest.bytes).toBeLessThan(PAYLOAD_LIMIT_BYTES);
    const [counts] = (
      await pg.sql(
        `SELECT count(*)::int AS n, count(DISTINCT id)::int AS d, sum(length(body))::bigint AS len FROM wide`,
        'pages_restored',
      )
    ).rows;
    expect(counts).toEqual({ n: 40000, d: 40000, len: '40000000' });
  });
});
