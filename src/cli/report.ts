// What the backup commands print, shared by local and cloud mode: one shape of JSON and one
// human layout, whichever runtime did the work.
import type { BackupRecord } from '#core/ports/catalog.ts';
import type { CompleteOutput } from '#core/restore/complete.ts';
import { tableChunkRefs, tableRowsAfter, type Manifest } from '#core/repository/manifest.ts';
import { qualifiedName, quoteIdentLikeServer } from '#core/sql.ts';
import { formatBytes, formatCount, printJson, say } from './output.ts';

/** The result of a committed backup: JSON on stdout, or its id on stdout and a summary on stderr. */
export function reportCommittedBackup(
  record: BackupRecord,
  seconds: number,
  options: { json?: boolean; extra?: Record<string, unknown> },
): void {
  const stats = record.stats!;
  if (options.json) {
    printJson({
      ok: true,
      backupId: record.backupId,
      ...options.extra,
      source: record.source,
      serverVersion: record.serverVersion,
      snapshotTime: record.snapshotTime,
      snapshotLsn: record.snapshotLsn,
      ...(record.collection ? { collection: record.collection, parent: record.parent ?? null } : {}),
      tables: stats.tables,
      rows: stats.rows,
      chunks: stats.chunks,
      bytesRead: stats.bytesRead,
      bytesStored: stats.bytesStored,
      bytesReferenced: stats.bytesReferenced,
      seconds: Number(seconds.toFixed(3)),
      warnings: record.warnings ?? [],
    });
    return;
  }
  process.stdout.write(record.backupId + '\n');
  const kind = record.collection
    ? record.parent
      ? ` (collection ${record.collection}, incremental on ${record.parent})`
      : ` (collection ${record.collection}, full)`
    : '';
  say(
    `Backup ${record.backupId} committed${kind}: ${formatCount(stats.tables)} tables, ${formatCount(stats.rows)} rows, ` +
      `${formatBytes(stats.bytesRead)} read, ${formatBytes(stats.bytesStored)} stored new, ${formatBytes(stats.bytesReferenced)} referenced, in ${seconds.toFixed(1)} s ` +
      `(${formatBytes(stats.bytesRead / Math.max(seconds, 0.001))}/s).`,
  );
  for (const warning of record.warnings ?? []) say(`warning: ${warning}`);
}

export function printBackupList(backups: BackupRecord[], options: { json?: boolean; where: string }): void {
  if (options.json) {
    printJson(
      backups.map((b) => ({
        ...b,
        collection: b.collection ?? null,
        parent: b.parent ?? null,
        bytesStored: b.stats?.bytesStored,
        bytesReferenced: b.stats?.bytesReferenced,
      })),
    );
    return;
  }
  if (backups.length === 0) {
    say(`No backups in ${options.where} yet.`);
    return;
  }
  printTable(
    ['BACKUP', 'STATE', 'STARTED', 'COLLECTION', 'PARENT', 'TABLES', 'ROWS', 'STORED', 'REFERENCED', 'SOURCE'],
    backups.map((b) => [
      b.backupId,
      b.state,
      b.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      b.collection ?? '-',
      b.parent ?? '-',
      b.stats ? formatCount(b.stats.tables) : '',
      b.stats ? formatCount(b.stats.rows) : '',
      b.stats ? formatBytes(b.stats.bytesStored) : '',
      b.stats ? formatBytes(b.stats.bytesReferenced) : '',
      b.source,
    ]),
  );
}

/** One backup: the catalog record, and the manifest's tables when it could be read. */
export function printBackupDetails(
  record: BackupRecord,
  manifest: Manifest | undefined,
  options: { json?: boolean; repository: string },
): void {
  const tables = manifest?.tables.map((t) => {
    // Everything the table needs: its rows, its incremental layers, its key index.
    const refs = [...new Map(tableChunkRefs(t).map((c) => [c.id, c])).values()];
    return {
      table: qualifiedName(t.schema, t.name),
      format: t.format,
      rows: tableRowsAfter(t),
      bytes: t.bytes + (t.layers ?? []).reduce((s, l) => s + l.bytes, 0),
      layers: t.layers?.length ?? 0,
      chunks: refs.length,
      storedBytes: refs.reduce((s, c) => s + c.storedSize, 0),
    };
  });
  if (options.json) {
    printJson({
      ...record,
      collection: record.collection ?? null,
      parent: record.parent ?? null,
      bytesStored: record.stats?.bytesStored,
      bytesReferenced: record.stats?.bytesReferenced,
      snapshot: manifest?.snapshot,
      repository: options.repository,
      tables,
    });
    return;
  }
  const lines = [
    `Backup      ${record.backupId}`,
    `State       ${record.state}${record.error ? ` (${record.error})` : ''}${record.expiredAt ? ` at ${record.expiredAt} (no restore point; gc frees what it alone used)` : ''}`,
    `Collection  ${record.collection ?? '-'}`,
    `Parent      ${record.parent ?? '- (full backup)'}`,
    `Source      ${record.source}${record.serverVersion ? ` (PostgreSQL ${record.serverVersion})` : ''}`,
    `Started     ${record.startedAt}`,
    `Finished    ${record.finishedAt ?? '-'}`,
  ];
  if (record.snapshotTime) lines.push(`Snapshot    ${record.snapshotTime} at LSN ${record.snapshotLsn ?? '-'}`);
  const stats = record.stats;
  if (stats) {
    lines.push(
      `Contents    ${formatCount(stats.tables)} tables, ${formatCount(stats.rows)} rows; ${formatBytes(stats.bytesRead)} of COPY data read from the source${record.parent ? ' (incremental: changed rows only)' : ''}`,
    );
    lines.push(
      `Stored      ${formatBytes(stats.bytesStored)} new, ${formatBytes(stats.bytesReferenced)} referenced, ${formatCount(stats.chunks)} chunks`,
    );
  }
  lines.push(`Repository  ${options.repository}`);
  for (const line of lines) process.stdout.write(line + '\n');
  if (tables && tables.length > 0) {
    process.stdout.write('\n');
    printTable(
      ['TABLE', 'FORMAT', 'ROWS', 'SIZE', 'LAYERS', 'CHUNKS', 'STORED'],
      tables.map((t) => [
        t.table,
        t.format,
        formatCount(t.rows),
        formatBytes(t.bytes),
        String(t.layers),
        String(t.chunks),
        formatBytes(t.storedBytes),
      ]),
    );
  }
  for (const warning of record.warnings ?? []) say(`warning: ${warning}`);
}

export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  process.stdout.write([line(header), ...rows.map(line)].join('\n') + '\n');
}

/** The result of a finished restore: JSON on stdout, or a summary on stderr. */
export function reportRestore(
  output: CompleteOutput,
  seconds: number,
  options: { json?: boolean; extra?: Record<string, unknown> },
): void {
  if (options.json) {
    printJson({ ok: true, ...output, ...options.extra, seconds: Number(seconds.toFixed(3)) });
    return;
  }
  // A stack deployed before `verified` existed reports none: say so rather than guess.
  const how =
    output.verified === true
      ? 'done and verified'
      : output.verified === false
        ? 'done, NOT verified (--no-verify)'
        : 'done (the state machine did not report whether it verified)';
  say(
    `Restore ${output.restoreId} of backup ${output.backupId} into ${output.target} ${how}: ` +
      `${formatCount(output.tables)} tables, ${formatCount(output.rows)} rows, ${formatBytes(output.bytes)} in ${seconds.toFixed(1)} s.`,
  );
  for (const [from, to] of Object.entries(output.tablespaceMap ?? {}))
    say(`tablespace ${quoteIdentLikeServer(from)} mapped to ${quoteIdentLikeServer(to)} (--tablespace-map)`);
  for (const warning of output.warnings) say(`warning: ${warning}`);
}
