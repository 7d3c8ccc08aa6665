// Wires cloud mode into the command line: the --stack option and its command options, and the
// routing of a command to src/cli/cloud/commands.ts, loaded (with the AWS SDK) only when used.
import { Command, Option } from 'commander';
import { UsageError } from '#core/errors.ts';

const cloud = () => import('./commands.ts');

/** Adds --source-secret / --target-secret, --database and --no-wait to `backup` and `restore`. */
export function addCloudOptions(program: Command): void {
  const command = (name: string) => program.commands.find((c) => c.name() === name);
  const database = (help: string) => new Option('--database <name>', help);
  const noWait = () =>
    new Option('--no-wait', 'with --stack: print the execution ARN and run id as soon as it starts, do not follow it');
  command('backup')
    ?.addOption(
      new Option(
        '--source-secret <secret-arn>',
        'with --stack: Secrets Manager secret (ARN or name) holding the connection to back up',
      ),
    )
    .addOption(database('with --stack: database to back up, if not the one the secret names'))
    .addOption(noWait());
  command('restore')
    ?.addOption(
      new Option(
        '--target-secret <secret-arn>',
        'with --stack: Secrets Manager secret (ARN or name) of the server to restore into',
      ),
    )
    .addOption(database('with --stack: database to restore into; created when missing, must be empty'))
    .addOption(noWait());
}

/**
 * Runs the command in the cloud when `--stack` was given and returns its promise; returns
 * undefined for local mode. Cloud-only flags without --stack are a usage error.
 */
export function routeToCloud(program: Command, args: unknown[]): Promise<void> | undefined {
  const command = args.find((a): a is Command => a instanceof Command);
  const options = (command?.opts() ?? {}) as Record<string, unknown>;
  const stack = program.opts().stack as string | undefined;
  if (!stack) {
    const cloudOnly = ['sourceSecret', 'targetSecret', 'database'].filter((k) => options[k] !== undefined);
    if (cloudOnly.length > 0 || options.wait === false) {
      throw new UsageError(
        '--source-secret, --target-secret, --database and --no-wait work with --stack <name> only (cloud mode).',
      );
    }
    return undefined;
  }
  const positional = args.filter((a) => typeof a === 'string') as string[];
  switch (command?.name()) {
    case 'backup':
      // The local default window (a day) is past what a Lambda can hold; cloud mode's default is the limit.
      options.snapshotHoldSecondsGiven = command!.getOptionValueSource('snapshotHoldSeconds') !== 'default';
      return cloud().then((m) => m.cloudBackup(stack, options as any));
    case 'restore':
      return cloud().then((m) => m.cloudRestore(stack, positional[0], options as any));
    case 'list':
      return cloud().then((m) => m.cloudList(stack, options));
    case 'show':
      return cloud().then((m) => m.cloudShow(stack, positional[0]!, options));
    default:
      throw new UsageError(`\`tidemark ${command?.name()}\` runs in local mode only for now; drop --stack.`);
  }
}
