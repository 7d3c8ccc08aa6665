// `tidemark list`, `show` and `verify`: read the catalog and the repository, change nothing.
import { openLocalContext, repositoryPath } from '#local/local-context.ts';
import { findCommittedBackup } from '#core/restore/resolve.ts';
import { readManifest } from '#core/repository/manifest.ts';
import { verifyBackup } from '#core/verify-backup.ts';
import { BackupNotFoundError, IntegrityError } from '#core/errors.ts';
import { createProgress } from '../progress.ts';
import { formatBytes, formatCount, printJson, say } from '../output.ts';
import { printBackupDetails, printBackupList } from '../report.ts';

interface CommonOptions {
  repo?: string;
  catalog?: string;
  json?: boolean;
}

export async function listCommand(options: CommonOptions): Promise<void> {
  const ctx = await openLocalContext(repositoryPath(options.repo), { create: false, catalog: options.catalog });
  printBackupList(await ctx.catalog.listBackups(), { json: options.json, where: ctx.storage.location });
  // Left out of the list, not hidden: each is named on stderr.
  for (const problem of (await ctx.catalog.unreadableItems?.()) ?? []) say(`warning: ${problem}`);
}

export async function showCommand(backupId: string, options: CommonOptions): Promise<void> {
  const ctx = await openLocalContext(repositoryPath(options.repo), { create: false, catalog: options.catalog });
  const record =
    backupId === 'latest'
      ? await findCommittedBackup(ctx.catalog, 'latest', ctx.storage.location)
      : await ctx.catalog.getBackup(backupId);
  if (!record)
    throw new BackupNotFoundError(
      `Backup ${backupId} is not in the catalog of ${ctx.storage.location}. Run \`tidemark list\` to see the backups.`,
    );
  const manifest = record.state === 'committed' ? await readManifest(ctx.storage, record.backupId) : undefined;
  printBackupDetails(record, manifest, { json: options.json, repository: ctx.storage.location });
}

export async function verifyCommand(backupId: string, options: CommonOptions): Promise<void> {
  const ctx = await openLocalContext(repositoryPath(options.repo), { create: false, catalog: options.catalog });
  const record = await findCommittedBackup(ctx.catalog, backupId, ctx.storage.location);
  const progress = createProgress('verify', !options.json);
  const started = performance.now();
  let report;
  try {
    report = await verifyBackup(ctx.storage, record.backupId, (e) => progress.onEvent(e));
  } finally {
    progress.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const error =
    report.problems.length > 0
      ? new IntegrityError(
          `Backup ${report.backupId} is damaged: ${report.problems.length} of ${report.chunks} chunks fail verification (first: ${report.problems[0]!.object}).`,
        )
      : undefined;
  if (options.json) {
    printJson({
      ok: !error,
      ...(error && { error: { type: error.name, message: error.message } }),
      ...report,
      seconds: Number(seconds.toFixed(3)),
    });
  } else {
    for (const p of report.problems) say(`damaged: ${p.object}${p.table ? ` (${p.table})` : ''}: ${p.problem}`);
    say(
      `Verified backup ${report.backupId}: manifest checksum ok, ${formatCount(report.chunks)} chunks, ${formatBytes(report.bytes)}, ${report.problems.length} damaged, in ${seconds.toFixed(1)} s.`,
    );
  }
  if (error) {
    (error as { reported?: boolean }).reported = options.json;
    throw error;
  }
}
