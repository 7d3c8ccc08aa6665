// Runs the real backup and restore state machines in-process, the way the CLI does, for tests
// that need more control than the CLI gives (options, events, task-level checks).
import { mkdtemp, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLocalContext, type LocalContext } from '#local/local-context.ts';
import { runStateMachine, type RunOptions } from '#local/state-machine-runner.ts';
import type { CommitOutput } from '#core/backup/commit.ts';
import { backupRunInput } from '#core/backup/run-input.ts';
import { restoreRunInput } from '#core/restore/run-input.ts';
import type { CompleteOutput } from '#core/restore/complete.ts';

export async function tempRepository(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tidemark-repo-'));
  await chmod(dir, 0o755);
  return join(dir, 'repo');
}

export interface BackupRun {
  output: CommitOutput;
  ctx: LocalContext;
}

export async function runBackup(
  repo: string,
  sourceUrl: string,
  options: {
    workers?: number;
    chunkBytes?: number;
    rangeBytes?: number;
    holdSeconds?: number;
    collection?: string;
  } & RunOptions = {},
): Promise<BackupRun> {
  const ctx = await openLocalContext(repo, { create: true });
  ctx.credentials.register('source', sourceUrl);
  const output = await runStateMachine(
    'backup',
    backupRunInput({
      source: { credentials: 'source' },
      ...(options.collection ? { collection: options.collection } : {}),
      workers: options.workers ?? 4,
      snapshotHoldSeconds: options.holdSeconds ?? 3600,
      plan: { chunkBytes: options.chunkBytes ?? 4 * 1024 * 1024, rangeBytes: options.rangeBytes ?? 64 * 1024 * 1024 },
    }),
    ctx,
    options,
  );
  return { output, ctx };
}

export async function runRestore(
  repo: string,
  backup: string,
  targetUrl: string,
  options: { workers?: number; verify?: boolean } & RunOptions = {},
): Promise<CompleteOutput> {
  const ctx = await openLocalContext(repo, { create: false });
  ctx.credentials.register('target', targetUrl);
  const input = restoreRunInput({
    backup,
    target: { credentials: 'target' },
    workers: options.workers,
    verify: options.verify,
  });
  return runStateMachine('restore', input, ctx, options);
}
