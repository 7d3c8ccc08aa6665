// The `tidemark` command line. Each command is one file under commands/.
import { Command, InvalidArgumentError, Option } from 'commander';
import { backupCommand } from './commands/backup.ts';
import { restoreCommand } from './commands/restore.ts';
import { listCommand, showCommand, verifyCommand } from './commands/inspect.ts';
import { reportFailure } from './output.ts';
import { addCloudOptions, routeToCloud } from './cloud/route.ts';

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`"${value}" is not a positive whole number.`);
  return n;
};

export async function main(argv: string[]): Promise<number> {
  const program = new Command('tidemark')
    .description('Consistent, verifiable logical backups of PostgreSQL, run by Step Functions state machines (locally here).')
    .showHelpAfterError()
    .exitOverride()
    .option('--stack <name>', 'run in AWS: the CloudFormation stack of the deployed Tidemark app (see docs/cloud-cli.md)');
  const repoOption = () => new Option('--repo <dir|s3://bucket/prefix>', 'the repository (default: $TIDEMARK_REPO, else ./tidemark-repo)');
  const catalogOption = () =>
    new Option('--catalog <dir|dynamodb://table>', 'the catalog (default: $TIDEMARK_CATALOG, else <repo>/catalog for a directory repository)');
  const jsonOption = () => new Option('--json', 'print one JSON document on stdout and nothing else');
  let json = false;
  let code = 0;
  const run = (fn: (...args: any[]) => Promise<void>) => async (...args: any[]) => {
    const options = args.find((a) => a && typeof a === 'object' && !Array.isArray(a) && !(a instanceof Command)) ?? {};
    json = Boolean(options.json);
    await (routeToCloud(program, args) ?? fn(...args));
  };

  program
    .command('backup')
    .description('take a consistent backup of a database into the repository; prints the backup id')
    .option('--source <postgres-url>', 'database to back up (default: $TIDEMARK_SOURCE)')
    .addOption(repoOption())
    .addOption(catalogOption())
    .addOption(jsonOption())
    .option('--workers <n>', 'parallel export workers', positiveInt, 4)
    .option('--snapshot-hold-seconds <n>', 'longest export window; in AWS the Lambda limit caps it at 840', positiveInt, 86_400)
    .addOption(new Option('--chunk-bytes <n>', 'target uncompressed chunk size').argParser(positiveInt).hideHelp())
    .addOption(new Option('--range-bytes <n>', 'target table bytes per export task').argParser(positiveInt).hideHelp())
    .action(run((opts) => backupCommand(opts)));

  program
    .command('restore')
    .description('restore a backup into a new or empty database, then verify it')
    .argument('<backup-id>', 'a backup id, or "latest"')
    .option('--target <postgres-url>', 'database to restore into; created when missing (default: $TIDEMARK_TARGET)')
    .addOption(repoOption())
    .addOption(catalogOption())
    .addOption(jsonOption())
    .option('--workers <n>', 'parallel load workers', positiveInt, 4)
    .action(run((backup, opts) => restoreCommand(backup, opts)));

  program.command('list').description('list the backups in the repository').addOption(repoOption())
    .addOption(catalogOption()).addOption(jsonOption()).action(run((opts) => listCommand(opts)));

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

  addCloudOptions(program);

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (e.code?.startsWith('commander.')) {
      // Help and version are successes; usage errors were already printed by commander.
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' || e.code === 'commander.version' ? 0 : 2;
    }
    // Already reported as JSON on stdout: only the stderr line is left to print.
    if ((err as { reported?: boolean }).reported) return reportFailure(err, { json: false });
    code = reportFailure(err, { json });
  }
  return code;
}
