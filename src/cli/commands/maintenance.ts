// `tidemark expire`, `gc` and `catalog rebuild`: the commands that change what the repository
// holds after the fact. Each holds the repository's maintenance lease while it works.
import { openLocalContext, repositoryPath } from '#local/local-context.ts';
import { expireBackups } from '#core/maintenance/expire.ts';
import { collectGarbage } from '#core/maintenance/gc.ts';
import { rebuildCatalog } from '#core/maintenance/catalog-rebuild.ts';
import { IntegrityError } from '#core/errors.ts';
import { formatBytes, formatCount, printJson, say } from '../output.ts';

interface CommonOptions {
  repo?: string;
  catalog?: string;
  json?: boolean;
  wait?: number;
}

const open = (options: CommonOptions) =>
  openLocalContext(repositoryPath(options.repo), { create: false, catalog: options.catalog });

export async function expireCommand(options: CommonOptions & { collection?: string; dryRun?: boolean }): Promise<void> {
  const report = await expireBackups(await open(options), {
    collection: options.collection,
    dryRun: options.dryRun,
    waitSeconds: options.wait,
  });
  if (options.json) return printJson({ ok: true, ...report });
  const verb = report.dryRun ? 'would expire' : 'expired';
  for (const c of report.collections) {
    for (const k of c.kept) say(`${c.collection}: keep ${k.backupId} (${k.reasons.join(', ')})`);
    for (const id of c.expired) say(`${c.collection}: ${verb} ${id}`);
    for (const id of c.completed) say(`${c.collection}: ${verb} ${id} (tombstoned by an earlier run)`);
    say(`Collection ${c.collection}: ${c.kept.length} kept, ${c.expired.length + c.completed.length} ${verb}.`);
  }
  if (report.collections.length === 0) say('No collections to expire backups in.');
  else if (!report.dryRun) say('Run `tidemark gc` to free the space expired backups alone used.');
}

export async function gcCommand(options: CommonOptions & { dryRun?: boolean }): Promise<void> {
  const report = await collectGarbage(await open(options), { dryRun: options.dryRun, waitSeconds: options.wait });
  if (options.json) return printJson({ ok: true, ...report });
  const verb = report.dryRun ? 'would delete' : 'deleted';
  say(
    `gc ${verb} ${formatCount(report.chunksDeleted)} of ${formatCount(report.chunksScanned)} chunks (${formatBytes(report.bytesFreed)}), ` +
      `${report.manifestsRemoved.length} expired manifests and the files of ${report.runsRemoved.length} finished runs; ` +
      `kept ${formatCount(report.chunksKept)} chunks (${formatBytes(report.bytesKept)}) for ${report.backupsKept} backups.`,
  );
  if (report.chunksMissing.length > 0) {
    say(
      `warning: ${report.chunksMissing.length} chunks that kept backups need are missing (first: ${report.chunksMissing[0]}); run \`tidemark verify\` on each backup.`,
    );
  }
  if (report.abandonedWritesRemoved.length > 0)
    say(
      `removed ${report.abandonedWritesRemoved.length} temp file(s) of writes that died (first: ${report.abandonedWritesRemoved[0]}).`,
    );
  for (const id of report.orphanManifestsRemoved)
    say(`${id}: ${report.dryRun ? 'would remove' : 'removed'} the manifest of a run that never committed.`);
  for (const id of report.restoresMarkedFailed)
    say(`restore ${id}: its process is gone; marked failed (resume it with \`tidemark restore --resume ${id}\`).`);
  for (const id of report.catalogExpired)
    say(`${id}: marked expired in the catalog (an earlier expire stopped after its tombstone).`);
  for (const c of report.catalogConflicts) {
    say(
      `warning: ${c.backupId} has an expiry tombstone but is ${c.state} in the catalog; gc kept it. Check it with \`tidemark show ${c.backupId}\`.`,
    );
  }
  // Expired is final, so the manifest came back from somewhere: a replay from a copy, or a tombstone
  // lost. Nothing is deleted on the strength of it either way; a person decides.
  for (const id of report.expiredInCatalog) {
    say(
      `warning: backup ${id} is expired in the catalog but its manifest is back in the repository without a tombstone; ` +
        `gc kept it and its chunks, and it is no restore point. Run \`tidemark show ${id}\` and find out who wrote backups/${id}/ ` +
        `(a replay from a copy of the repository, or a tombstone removed); if it is not wanted, remove that directory and run gc again.`,
    );
  }
}

export async function catalogRebuildCommand(options: CommonOptions): Promise<void> {
  const ctx = await open(options);
  const report = await rebuildCatalog(ctx, { waitSeconds: options.wait });
  const error =
    report.damaged.length > 0
      ? new IntegrityError(
          `Catalog rebuild skipped ${report.damaged.length} damaged object(s) in ${ctx.storage.location} (first: ${report.damaged[0]!.object}: ${report.damaged[0]!.problem})`,
        )
      : undefined;
  if (options.json) {
    printJson({ ok: !error, ...(error && { error: { type: error.name, message: error.message } }), ...report });
  } else {
    for (const d of report.damaged) say(`damaged: ${d.object}: ${d.problem}`);
    for (const id of report.repaired)
      say(`repaired ${id}: its catalog item was damaged and was written again from the repository.`);
    for (const id of report.uncommitted)
      say(`skipped ${id}: its manifest has no commit marker, the run never committed (gc removes it).`);
    say(
      `Catalog rebuilt from ${ctx.storage.location}: ${report.collectionsImported.length} collections and ` +
        `${report.backupsImported.length} backups imported, ${report.alreadyPresent} already present.`,
    );
  }
  if (error) {
    (error as { reported?: boolean }).reported = options.json;
    throw error;
  }
}
