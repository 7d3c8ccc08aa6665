// Cloud mode: `tidemark --stack <name> backup | restore | list | show` starts the deployed state
// machines and reads the DynamoDB catalog. The output matches local mode's where it can.
import { SFNClient } from '@aws-sdk/client-sfn';
import { UsageError } from '#core/errors.ts';
import { newRunId } from '#core/ids.ts';
import { backupRunInput } from '#core/backup/run-input.ts';
import type { CompleteOutput } from '#core/restore/complete.ts';
import type { BackupOptions } from '../commands/backup.ts';
import type { RestoreOptions } from '../commands/restore.ts';
import { restoreRunInput, tablespaceMapFrom } from '#core/restore/run-input.ts';
import { printJson, say } from '../output.ts';
import { reportCommittedBackup, reportRestore } from '../report.ts';
import { resolveStack } from './stack.ts';
import { followExecution, startExecution } from './executions.ts';
import { describeProgress } from './history.ts';
import { cloudHoldSeconds, refuseLocalOnly, secretOption } from './options.ts';
import { listBackups, openCatalog, repositoryUrl, showBackup, waitForBackupRecord } from './inspect.ts';

// The SDK warns on Node < 22 that *future* SDK releases will need it. Ours are pinned, so the
// warning says nothing to a CLI user; it would only clutter stderr on every command.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

interface CloudFlags {
  database?: string;
  wait: boolean;
}

export async function cloudList(stackName: string, options: { repo?: string; json?: boolean }): Promise<void> {
  refuseLocalOnly(options, stackName);
  await listBackups(await resolveStack(stackName), options);
}

export async function cloudShow(
  stackName: string,
  backupId: string,
  options: { repo?: string; json?: boolean },
): Promise<void> {
  refuseLocalOnly(options, stackName);
  await showBackup(await resolveStack(stackName), backupId, options);
}

export async function cloudBackup(
  stackName: string,
  options: BackupOptions & CloudFlags & { sourceSecret?: string; snapshotHoldSecondsGiven?: boolean },
): Promise<void> {
  refuseLocalOnly(options, stackName);
  const credentials = secretOption('source', options.sourceSecret, options.source);
  const snapshotHoldSeconds = cloudHoldSeconds(options.snapshotHoldSeconds, options.snapshotHoldSecondsGiven ?? true);
  const stack = await resolveStack(stackName);
  // The run id is chosen here and is also the execution name: --no-wait can report it, and a
  // repeated StartExecution with the same name and input is idempotent in Step Functions.
  const backupId = newRunId();
  // An on-demand run of a collection: its first scheduled run created it in the catalog.
  const input = backupRunInput({
    backupId,
    source: { credentials, ...(options.database ? { database: options.database } : {}) },
    collection: options.collection,
    full: options.full,
    workers: options.workers,
    snapshotHoldSeconds,
    plan: { chunkBytes: options.chunkBytes, rangeBytes: options.rangeBytes },
  });
  const sfn = new SFNClient({ region: stack.region });
  const started = performance.now();
  const { executionArn } = await startExecution(sfn, stack.backupStateMachineArn, backupId, input);
  if (!options.wait)
    return reportStarted({
      executionArn,
      runId: backupId,
      json: options.json,
      what: `Backup ${backupId}`,
      stack: stackName,
    });
  if (!options.json) say(`Backup ${backupId} started on stack ${stackName}: ${executionArn}`);
  await follow(sfn, executionArn, 'backup', options.json);
  const record = await waitForBackupRecord(openCatalog(stack), backupId);
  const seconds = (performance.now() - started) / 1000;
  reportCommittedBackup(record, seconds, {
    json: options.json,
    extra: { repository: repositoryUrl(stack), executionArn },
  });
}

export async function cloudRestore(
  stackName: string,
  backup: string | undefined,
  options: RestoreOptions & CloudFlags & { targetSecret?: string; collection?: string; to?: string },
): Promise<void> {
  refuseLocalOnly(options, stackName);
  const credentials = secretOption('target', options.targetSecret, options.target);
  if (!options.database) {
    throw new UsageError(
      'Missing --database <name>: the database to restore into (created when missing; must be empty).',
    );
  }
  const stack = await resolveStack(stackName);
  const pointInTime = options.to !== undefined || options.collection !== undefined;
  if (!backup && !options.resume && !pointInTime)
    throw new UsageError(
      'Name the backup to restore (an id, or "latest"), --resume <restore-id> to carry on with a failed restore, or --collection <name> --to <target> for a point in time.',
    );
  // The same builder as the local CLI; Resolve checks the point-in-time fields (both, and no backup).
  const input = restoreRunInput({
    backup,
    target: { credentials, database: options.database },
    workers: options.workers,
    verify: options.verify,
    resume: options.resume,
    collection: options.collection,
    to: options.to,
    tablespaceMap: tablespaceMapFrom(options.tablespaceMap),
  });
  const sfn = new SFNClient({ region: stack.region });
  const name = newRunId();
  const started = performance.now();
  const { executionArn } = await startExecution(sfn, stack.restoreStateMachineArn, name, input);
  // The restore state machine takes its execution name as the restore id.
  if (!options.wait)
    return reportStarted({
      executionArn,
      runId: name,
      json: options.json,
      what: `Restore ${name} of ${pointInTime ? `${options.collection} to ${options.to}` : (backup ?? `restore ${options.resume}`)}`,
      stack: stackName,
    });
  if (!options.json)
    say(
      `Restore of ${pointInTime ? `${options.collection} to ${options.to}` : backup ? `backup ${backup}` : `restore ${options.resume}`} into ${options.database} started on stack ${stackName}: ${executionArn}`,
    );
  const execution = await follow(sfn, executionArn, 'restore', options.json);
  const output = JSON.parse(execution.output ?? '{}') as CompleteOutput;
  reportRestore(output, (performance.now() - started) / 1000, { json: options.json, extra: { executionArn } });
  const reached = output.pointInTime?.reached;
  if (reached && !options.json)
    say(
      `Replayed ${output.pointInTime!.transactions} transactions; reached the commit of xid ${reached.xid} at ${reached.time} (lsn:${reached.lsn}).`,
    );
}

function reportStarted(run: {
  executionArn: string;
  runId: string;
  json?: boolean;
  what: string;
  stack: string;
}): void {
  if (run.json) {
    printJson({ ok: true, executionArn: run.executionArn, runId: run.runId });
    return;
  }
  process.stdout.write(run.executionArn + '\n');
  say(`${run.what} started on stack ${run.stack} as run ${run.runId}; not following it (--no-wait).`);
}

/** Follows to the end with progress lines on stderr; Ctrl-C stops following, not the execution. */
async function follow(sfn: SFNClient, executionArn: string, label: string, json?: boolean) {
  const interrupt = () => {
    say(`\nStopped following. The execution keeps running in AWS: ${executionArn}`);
    process.exit(130);
  };
  process.once('SIGINT', interrupt);
  let last: string | undefined;
  try {
    return await followExecution(sfn, executionArn, {
      onProgress: json
        ? undefined
        : (progress) => {
            const line = describeProgress(progress);
            if (line && line !== last) say(`${label}: ${line}`);
            last = line ?? last;
          },
    });
  } catch (err) {
    if (!json) say(`Execution ${executionArn} did not succeed.`);
    throw err;
  } finally {
    process.off('SIGINT', interrupt);
  }
}
