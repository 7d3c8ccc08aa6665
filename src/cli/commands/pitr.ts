// `tidemark pitr enable|disable|status|archive --collection <name>` and
// `tidemark restore --collection <name> --to <target> --target <url>` (FORMAT.md,
// "Point-in-time recovery"). Local runtime: the restore state machine runs in-process, base
// backup and replay, as in AWS.
import { Command, Option } from 'commander';
import { openLocalContext, repositoryPath } from '#local/local-context.ts';
import { UsageError } from '#core/errors.ts';
import { restoreRunInput, tablespaceMapFrom } from '#core/restore/run-input.ts';
import { enablePitr, disablePitr } from '#core/pitr/enable.ts';
import { pitrStatus } from '#core/pitr/status.ts';
import { listChains } from '#core/pitr/chain.ts';
import { readSegment } from '#core/pitr/segment.ts';
import { chainBackups } from '#core/pitr/base-backup.ts';
import { parseTarget } from '#core/pitr/target.ts';
import { formatBytes, formatCount, printJson, say } from '../output.ts';
import { reportPointRestore, runRestoreMachine } from './restore-run.ts';
import { takeBaseBackup, withSource, type PitrOptions } from './pitr-source.ts';
import { GAP_CAUSES, pitrArchiveCommand, pitrFollowCommand, positiveSeconds } from './pitr-archive.ts';

interface Helpers {
  repoOption(): Option;
  catalogOption(): Option;
  jsonOption(): Option;
  run(fn: (...args: any[]) => Promise<void>): (...args: any[]) => Promise<void>;
}

export function registerPitrCommands(program: Command, h: Helpers): void {
  const pitr = program
    .command('pitr')
    .description("point-in-time recovery: archive a collection's committed changes, restore with `restore --to`");
  const common = (c: Command) =>
    c
      .requiredOption('--collection <name>', 'the collection')
      .addOption(h.repoOption())
      .addOption(h.catalogOption())
      .addOption(h.jsonOption());
  common(
    pitr
      .command('enable')
      .description(
        'check the source, create its slot and DDL capture (tidemark_*), start a chain, take its base backup',
      ),
  )
    .option('--no-backup', 'do not take the base backup now (a point-in-time restore needs one taken after enable)')
    .option(
      '--replica-identity-full',
      'set REPLICA IDENTITY FULL on the tables that have no primary key or replica identity index, instead of refusing them',
    )
    .action(h.run((opts) => pitrEnableCommand(opts)));
  common(
    pitr
      .command('disable')
      .description('drop the slot, the event trigger and its function from the source (the archive stays)'),
  ).action(h.run((opts) => pitrDisableCommand(opts)));
  common(
    pitr
      .command('status')
      .description(
        "what Tidemark has in the source, the slot's retained WAL, and the recoverable window of each chain",
      ),
  ).action(h.run((opts) => pitrStatusCommand(opts)));
  common(
    pitr
      .command('archive')
      .description(
        'drain the slot into change segments until caught up, then exit (what a scheduler runs); after a gap, start a new chain and its base backup',
      ),
  )
    .addOption(
      new Option('--segment-bytes <n>', 'uncompressed record bytes per segment').argParser((v) => Number(v)).hideHelp(),
    )
    .option('--follow', 'keep draining until SIGINT or SIGTERM, then seal what has committed and exit')
    .addOption(
      new Option('--segment-seconds <n>', 'with --follow: seal a segment at least this often while commits arrive')
        .default(30)
        .argParser(positiveSeconds('--segment-seconds')),
    )
    .addOption(
      new Option('--heartbeat-seconds <n>', 'with --follow: move the slot of an idle source on this often')
        .default(60)
        .argParser(positiveSeconds('--heartbeat-seconds')),
    )
    .action(h.run((opts) => (opts.follow ? pitrFollowCommand(opts) : pitrArchiveCommand(opts))));
}

export async function pitrEnableCommand(options: PitrOptions): Promise<void> {
  const result = await withSource(options, async (ctx, session, stream) => {
    const enabled = await enablePitr(session, stream, ctx.storage, options.collection, {
      replicaIdentityFull: options.replicaIdentityFull,
    });
    if (!options.json) {
      if (enabled.replicaIdentityFull.length)
        say(`REPLICA IDENTITY FULL set on: ${enabled.replicaIdentityFull.join(', ')}`);
      for (const w of enabled.warnings) say(`warning: ${w}`);
      say(
        `Point-in-time recovery enabled for ${options.collection}: slot ${enabled.slot}, chain ${enabled.chain} from ${enabled.startLsn}.`,
      );
    }
    let backupId: string | undefined;
    if (options.backup !== false) {
      backupId = await takeBaseBackup(ctx, options.collection);
      if (!options.json)
        say(`Base backup ${backupId} committed: the collection can be restored to any point from its snapshot on.`);
    } else if (!options.json) say(`Take a base backup now: tidemark backup --collection ${options.collection}`);
    return { ...enabled, ...(backupId ? { backupId } : {}) };
  });
  if (options.json) printJson({ ok: true, ...result });
}

export async function pitrDisableCommand(options: PitrOptions): Promise<void> {
  const { dropped } = await withSource(options, (_ctx, session, stream) =>
    disablePitr(session, stream, options.collection),
  );
  if (options.json) printJson({ ok: true, dropped });
  else
    say(
      dropped.length
        ? `Dropped from the source: ${dropped.join(', ')}. The change archive stays in the repository.`
        : "Nothing of Tidemark's was left in the source.",
    );
}

export async function pitrStatusCommand(options: PitrOptions): Promise<void> {
  const status = await withSource(options, async (ctx, session, stream) => {
    const found = await pitrStatus(session, stream, ctx.storage, options.collection);
    // A restore into a chain starts from a backup taken in it: the oldest one opens its window.
    const places = await listChains(ctx.storage, options.collection);
    const chains = [];
    for (const c of found.chains) {
      let oldest: { backupId: string; snapshotTime: string } | undefined;
      const opening = await readSegment(ctx.storage, places.get(c.chain)![0]!);
      for await (const m of chainBackups(ctx.catalog, ctx.storage, options.collection, opening))
        oldest = { backupId: m.backupId, snapshotTime: m.snapshot.time };
      chains.push({ ...c, ...(oldest ? { firstBackup: oldest } : {}) });
    }
    return { ...found, chains };
  });
  if (options.json) return printJson({ ok: true, ...status });
  say(`Collection ${status.collection}`);
  say(`  in the source: ${status.objects.join(', ') || 'nothing (point-in-time recovery is not enabled)'}`);
  if (status.slot)
    say(
      `  slot: confirmed ${status.slot.confirmedLsn}, retains ${formatBytes(status.slot.retainedBytes)} of WAL, wal_status ${status.slot.walStatus ?? 'unknown'}${status.slot.active ? ', in use' : ''}`,
    );
  for (const c of status.chains) {
    const window = c.firstCommit
      ? `${c.firstCommit.time} (xid:${c.firstCommit.xid}) to ${c.lastCommit!.time} (xid:${c.lastCommit!.xid}, lsn:${c.lastCommit!.lsn})`
      : 'no transactions yet';
    say(
      `  chain ${c.chain}${c.timeline ? ` (timeline ${c.timeline})` : ''}: ${formatCount(c.segments)} segments, ${formatCount(c.transactions)} transactions, ${window}${c.lastSealedAt ? `; last segment sealed ${c.lastSealedAt}` : ''}; ` +
        (c.firstBackup
          ? `restorable from its backup ${c.firstBackup.backupId} (snapshot ${c.firstBackup.snapshotTime}) on`
          : `no backup taken in it yet, so nothing in it is restorable: tidemark backup --collection ${status.collection}`),
    );
  }
  for (const g of status.gaps)
    say(
      `  gap (${g.reason === 'new-enable' ? 'a new pitr enable' : GAP_CAUSES[g.reason]}) between chain ${g.previousChain} and chain ${g.chain}: nothing restorable after ${g.after} (lsn:${g.afterLsn}) until ${g.until}`,
    );
}

export interface PointRestoreOptions {
  collection?: string;
  to?: string;
  target?: string;
  repo?: string;
  catalog?: string;
  json?: boolean;
  workers: number;
  verify: boolean;
  /** `--tablespace-map <old>=<new>` entries, as given. */
  tablespaceMap?: string[];
  resume?: string;
}

/** `restore --collection <name> --to <target>`: the newest backup before the target, then the archived transactions after it. */
export async function pitrRestoreCommand(backup: string | undefined, options: PointRestoreOptions): Promise<void> {
  if (backup)
    throw new UsageError(
      `Give either a backup id (${backup}) or --to <target>, not both: --to picks the backup itself.`,
    );
  if (options.resume)
    throw new UsageError(
      `--resume ${options.resume} carries on with that restore to its own point (kept in the catalog): leave out --collection and --to.`,
    );
  if (!options.to)
    throw new UsageError(
      'restore --collection restores to a point: add --to <time|lsn:X/Y|xid:N|latest>, or name a backup id without --collection.',
    );
  if (!options.collection)
    throw new UsageError(
      '--to needs --collection <name>: the collection whose backups and change archive to restore from.',
    );
  const target = options.target ?? process.env.TIDEMARK_TARGET;
  if (!target)
    throw new UsageError(
      'Missing --target <postgres-url> (or $TIDEMARK_TARGET): the database to restore into (created when missing; must be empty).',
    );
  parseTarget(options.to); // a usage error before anything opens
  const tablespaceMap = tablespaceMapFrom(options.tablespaceMap);
  const ctx = await openLocalContext(repositoryPath(options.repo), { create: false, catalog: options.catalog });
  ctx.credentials.register('target', target);
  const started = performance.now();
  // The restore state machine as AWS runs it: Resolve plans the replay, ReplayChanges replays.
  const run = await runRestoreMachine(
    restoreRunInput({
      collection: options.collection,
      to: options.to,
      target: { credentials: 'target' },
      workers: options.workers,
      verify: options.verify,
      tablespaceMap,
    }),
    ctx,
  );
  reportPointRestore({ output: run.output, replayed: run.replayed! }, (performance.now() - started) / 1000, options);
}
