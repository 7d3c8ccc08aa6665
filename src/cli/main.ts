// The `tidemark` command line. Each command is one file under commands/.
import { Command, InvalidArgumentError, Option } from 'commander';
import { backupCommand } from './commands/backup.ts';
import { restoreCommand } from './commands/restore.ts';
import { pitrRestoreCommand, registerPitrCommands } from './commands/pitr.ts';
import { listCommand, showCommand, verifyCommand } from './commands/inspect.ts';
import { collectionCreateCommand, collectionListCommand, collectionShowCommand } from './commands/collection.ts';
import { catalogRebuildCommand, expireCommand, gcCommand } from './commands/maintenance.ts';
import { repositorySealCommand } from './commands/repository.ts';
import { printJson, reportFailure } from './output.ts';
import { addCloudOptions, routeToCloud } from './cloud/route.ts';

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`"${value}" is not a positive whole number.`);
  return n;
};

/** A whole number within bounds, checked while the command line is parsed, naming the option. */
const boundedInt =
  (option: string, min: number, max: number, unit = '') =>
  (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        `${option} must be a whole number from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}${unit}, not "${value}".`,
      );
    }
    return n;
  };
/** Chunks are held in memory, several per worker (DESIGN.md invariant 6): 1 KiB to 1 GiB. */
const CHUNK_BYTES = boundedInt('--chunk-bytes', 1024, 1024 ** 3, ' bytes');
/** Export task ranges: 64 KiB to 1 TiB of table. */
const RANGE_BYTES = boundedInt('--range-bytes', 64 * 1024, 1024 ** 4, ' bytes');
const WORKERS = boundedInt('--workers', 1, 256);
const HOLD_SECONDS = boundedInt('--snapshot-hold-seconds', 1, 7 * 86_400, ' seconds');

const wholeNumber = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`"${value}" is not a whole number of seconds.`);
  return n;
};

export async function main(argv: string[]): Promise<number> {
  const program = new Command('tidemark')
    .description(
      'Consistent, verifiable logical backups of PostgreSQL, run by Step Functions state machines (locally here).',
    )
    .showHelpAfterError()
    .exitOverride()
    .option(
      '--stack <name>',
      'run in AWS: the CloudFormation stack of the deployed Tidemark app (see docs/cloud-cli.md)',
    );
  const repoOption = () =>
    new Option('--repo <dir|s3://bucket/prefix>', 'the repository (default: $TIDEMARK_REPO, else ./tidemark-repo)');
  const catalogOption = () =>
    new Option(
      '--catalog <dir|dynamodb://table>',
      'the catalog (default: $TIDEMARK_CATALOG, else <repo>/catalog for a directory repository)',
    );
  const jsonOption = () => new Option('--json', 'print one JSON document on stdout and nothing else');
  let json = false;
  let code = 0;
  const run =
    (fn: (...args: any[]) => Promise<void>) =>
    async (...args: any[]) => {
      const options =
        args.find((a) => a && typeof a === 'object' && !Array.isArray(a) && !(a instanceof Command)) ?? {};
      json = Boolean(options.json);
      await (routeToCloud(program, args) ?? fn(...args));
    };

  program
    .command('backup')
    .description('take a consistent backup of a database into the repository; prints the backup id')
    .option('--source <postgres-url>', "database to back up (default: the collection's source, else $TIDEMARK_SOURCE)")
    .option('--collection <name>', 'back up into this collection: incremental on its latest backup')
    .option(
      '--full',
      'in a collection: a full backup, not incremental (e.g. after a point-in-time recovery of the source)',
    )
    .addOption(repoOption())
    .addOption(catalogOption())
    .addOption(jsonOption())
    .option('--workers <n>', 'parallel export workers', WORKERS, 4)
    .option(
      '--snapshot-hold-seconds <n>',
      'longest export window; in AWS the Lambda limit caps it at 840',
      HOLD_SECONDS,
      86_400,
    )
    .addOption(
      new Option(
        '--chunk-bytes <n>',
        'target uncompressed chunk size (default 4 MiB; raise it for databases over ~4 TB, see README "Limits")',
      ).argParser(CHUNK_BYTES),
    )
    .addOption(new Option('--range-bytes <n>', 'target table bytes per export task').argParser(RANGE_BYTES).hideHelp())
    .action(run((opts) => backupCommand(opts)));

  program
    .command('restore')
    .description('restore a backup into a new or empty database, then verify it (unless --no-verify)')
    .argument('[backup-id]', 'a backup id, or "latest" (not needed with --resume)')
    .option('--target <postgres-url>', 'database to restore into; created when missing (default: $TIDEMARK_TARGET)')
    .option(
      '--resume <restore-id>',
      'carry on with a failed restore in the same target database: what it loaded is kept, the rest is done',
    )
    .option('--collection <name>', 'with --to: the collection whose backups and change archive to restore from')
    .option(
      '--to <target>',
      'restore to a point: an ISO-8601 time with zone, lsn:X/Y, xid:N or latest (needs --collection; see `tidemark pitr`)',
    )
    .addOption(repoOption())
    .addOption(catalogOption())
    .addOption(jsonOption())
    .option('--workers <n>', 'parallel load workers', WORKERS, 4)
    .option(
      '--tablespace-map <old=new>',
      'put the objects of source tablespace <old> into tablespace <new> of the target (may be pg_default); repeatable; --resume keeps the map of the run it resumes',
      (entry: string, entries: string[]) => [...entries, entry],
      [] as string[],
    )
    .option(
      '--no-verify',
      'skip reading the restored tables back to compare row counts and content checksums with the backup (faster; chunk hashes are still checked; the result says "not verified")',
    )
    .action(
      run((backup, opts) =>
        opts.to || opts.collection ? pitrRestoreCommand(backup, opts) : restoreCommand(backup, opts),
      ),
    );
  registerPitrCommands(program, { repoOption, catalogOption, jsonOption, run });

  program
    .command('list')
    .description('list the backups in the repository')
    .addOption(repoOption())
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(run((opts) => listCommand(opts)));

  program
    .command('show')
    .description('show one backup: state, snapshot, sizes, tables')
    .argument('<backup-id>', 'a backup id, or "latest"')
    .addOption(repoOption())
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(run((id, opts) => showCommand(id, opts)));

  program
    .command('verify')
    .description('re-read every chunk of a backup and check hashes and the manifest')
    .argument('<backup-id>', 'a backup id, or "latest"')
    .addOption(repoOption())
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(run((id, opts) => verifyCommand(id, opts)));

  // Collections and maintenance (expire, gc, catalog rebuild): local mode only for now.
  const collection = program
    .command('collection')
    .description('named series of backups of one database, with retention');
  collection
    .command('create')
    .description('define a collection: its source and retention (the password is not stored)')
    .argument('<name>', 'lowercase letters, digits, "-" and "_"')
    .option('--source <postgres-url>', 'database the collection backs up (default: $TIDEMARK_SOURCE)')
    .option('--schedule <cron>', 'cron expression of its schedule (used by the AWS deployment)')
    .option('--keep-last <n>', 'keep the n most recent backups', positiveInt)
    .option('--keep-daily <n>', 'keep the newest backup of each of the last n days that have one', positiveInt)
    .option('--keep-weekly <n>', 'keep the newest backup of each of the last n ISO weeks that have one', positiveInt)
    .option('--keep-monthly <n>', 'keep the newest backup of each of the last n months that have one', positiveInt)
    .addOption(repoOption())
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(run((name, opts) => collectionCreateCommand(name, opts)));
  collection
    .command('list')
    .description('list the collections')
    .addOption(repoOption())
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(run((opts) => collectionListCommand(opts)));
  collection
    .command('show')
    .description('show a collection: source, retention, and its backups with their sizes')
    .argument('<name>', 'the collection')
    .addOption(repoOption())
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(run((name, opts) => collectionShowCommand(name, opts)));

  const waitOption = () =>
    new Option('--wait <seconds>', 'wait this long for another maintenance task (or running backups) to finish')
      .argParser(wholeNumber)
      .default(0);
  const dryRunOption = () => new Option('--dry-run', 'report what would change; change nothing');
  program
    .command('expire')
    .description("apply each collection's retention: mark the backups it drops as expired (gc frees their space)")
    .option('--collection <name>', 'only this collection')
    .addOption(dryRunOption())
    .addOption(waitOption())
    .addOption(repoOption())
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(run((opts) => expireCommand(opts)));
  program
    .command('gc')
    .description('delete chunks no kept backup needs, manifests of expired backups and files of finished runs')
    .addOption(dryRunOption())
    .addOption(waitOption())
    .addOption(repoOption())
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(run((opts) => gcCommand(opts)));
  program
    .command('catalog')
    .description('the catalog, the index of the repository')
    .command('rebuild')
    .description('rebuild the catalog from the repository alone (collections and backups)')
    .addOption(waitOption())
    .addOption(repoOption())
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(run((opts) => catalogRebuildCommand(opts)));

  program
    .command('repository')
    .description('the repository itself')
    .command('seal')
    .description(
      'upgrade a repository written without a key: give every intact document a MAC with the key set now, then require MACs (see README "Upgrading")',
    )
    .option(
      '--reseal',
      'also seal documents without a MAC when the marker already names the key (an AWS bucket whose marker the upgraded stack wrote); only if you know who wrote them',
    )
    .addOption(waitOption())
    .addOption(repoOption())
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(run((opts) => repositorySealCommand(opts)));

  addCloudOptions(program);

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (e.code?.startsWith('commander.')) {
      // Help and version are successes; usage errors were already printed by commander.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version')
        return 0;
      // With --json, stdout still gets its one JSON document (README: `{"ok": false, …}`).
      if (argv.includes('--json'))
        printJson({
          ok: false,
          error: { type: 'UsageError', message: (err as Error).message.replace(/^error: /, '') },
        });
      return 2;
    }
    // Already reported as JSON on stdout: only the stderr line is left to print.
    if ((err as { reported?: boolean }).reported) return reportFailure(err, { json: false });
    code = reportFailure(err, { json });
  }
  return code;
}
