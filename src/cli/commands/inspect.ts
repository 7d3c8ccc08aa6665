// `tidemark list`, `show` and `verify`: read the catalog and the repository, change nothing.
import { openLocalContext, repositoryPath } from '#local/local-context.ts';
import { findCommittedBackup } from '#core/restore/resolve.ts';
import { readManifest } from '#core/repository/manifest.ts';
import { verifyBackup } from '#core/verify-backup.ts';
import { BackupNotFoundError, IntegrityError } from '#core/errors.ts';
import { qualifiedName } from '#core/sql.ts';
import { createProgress } from '../progress.ts';
import { formatBytes, formatCount, printJson, say } from '../output.ts';

interface CommonOptions {
  repo?: string;
  json?: boolean;
}

export async function listCommand(options: CommonOptions): Promise<void> {
  const ctx = await openLocalContext(repositoryPath(options.repo), { create: false });
  const backups = await ctx.catalog.listBackups();
  if (options.json) {
    printJson(backups.map((b) => ({ ...b, bytesStored: b.stats?.bytesStored, bytesReferenced: b.stats?.bytesReferenced })));
    return;
  }
  if (backups.length === 0) {
    say(`No backups in ${ctx.storage.location} yet.`);
    return;
  }
  const rows = backups.map((b) => [
    b.backupId,
    b.state,
    b.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    b.stats ? formatCount(b.stats.tables) : '',
    b.stats ? formatCount(b.stats.rows) : '',
    b.stats ? formatBytes(b.stats.bytesStored) : '',
    b.stats ? formatBytes(b.stats.bytesReferenced) : '',
    b.source,
  ]);
  printTable(['BACKUP', 'STATE', 'STARTED', 'TABLES', 'ROWS', 'STORED', 'REFERENCED', 'SOURCE'], rows);
}

export async function showCommand(backupId: string, options: CommonOptions): Promise<void> {
  const ctx = await openLocalContext(repositoryPath(options.repo), { create: false });
  const record = backupId === 'latest' ? await findCommittedBackup(ctx.catalog, 'latest', ctx.storage.location) : await ctx.catalog.getBackup(backupId);
  if (!record) throw new BackupNotFoundError(`Backup ${backupId} is not in the catalog of ${ctx.storage.location}. Run \`tidemark list\` to see the backups.`);
  const manifest = record.state === 'committed' ? await readManifest(ctx.storage, record.backupId) : undefined;
  const tables = manifest?.tables.map((t) => ({ table: qualifiedName(t.schema, t.name), rows: t.rows, bytes: t.bytes, chunks: t.chunks.length, storedBytes: t.chunks.reduce((s, c) => s + c.storedSize, 0) }));
  if (options.json) {
    printJson({ ...record, bytesStored: record.stats?.bytesStored, bytesReferenced: record.stats?.bytesReferenced, snapshot: manifest?.snapshot, serverVersion: manifest?.source.serverVersion, tables });
    return;
  }
  const lines = [
    `Backup      ${record.backupId}`,
    `State       ${record.state}${record.error ? ` (${record.error})` : ''}`,
    `Source      ${record.source}${manifest ? ` (PostgreSQL ${manifest.source.serverVersion})` : ''}`,
    `Started     ${record.startedAt}`,
    `Finished    ${record.finishedAt ?? '-'}`,
  ];
  if (manifest) {
    lines.push(`Snapshot    ${manifest.snapshot.time} at LSN ${manifest.snapshot.lsn ?? '-'}`);
    lines.push(`Contents    ${formatCount(manifest.stats.tables)} tables, ${formatCount(manifest.stats.rows)} rows, ${formatBytes(manifest.stats.bytesRead)} of COPY text`);
    lines.push(`Stored      ${formatBytes(manifest.stats.bytesStored)} new, ${formatBytes(manifest.stats.bytesReferenced)} referenced, ${formatCount(manifest.stats.chunks)} chunks`);
  }
  for (const line of lines) process.stdout.write(line + '\n');
  if (tables && tables.length > 0) {
    process.stdout.write('\n');
    printTable(['TABLE', 'ROWS', 'SIZE', 'CHUNKS', 'STORED'], tables.map((t) => [t.table, formatCount(t.rows), formatBytes(t.bytes), String(t.chunks), formatBytes(t.storedBytes)]));
  }
  for (const warning of record.warnings ?? []) say(`warning: ${warning}`);
}

export async function verifyCommand(backupId: string, options: CommonOptions): Promise<void> {
  const ctx = await openLocalContext(repositoryPath(options.repo), { create: false });
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
      ? new IntegrityError(`Backup ${report.backupId} is damaged: ${report.problems.length} of ${report.chunks} chunks fail verification (first: ${report.problems[0]!.object}).`)
      : undefined;
  if (options.json) {
    printJson({ ok: !error, ...(error && { error: { type: error.name, message: error.message } }), ...report, seconds: Number(seconds.toFixed(3)) });
  } else {
    for (const p of report.problems) say(`damaged: ${p.object}${p.table ? ` (${p.table})` : ''}: ${p.problem}`);
    say(`Verified backup ${report.backupId}: manifest checksum ok, ${formatCount(report.chunks)} chunks, ${formatBytes(report.bytes)}, ${report.problems.length} damaged, in ${seconds.toFixed(1)} s.`);
  }
  if (error) {
    (error as { reported?: boolean }).reported = options.json;
    throw error;
  }
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write([line(header), ...rows.map(line)].join('\n') + '\n');
}
