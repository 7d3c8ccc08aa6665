// Whether a `running` backup may still commit. In AWS only its deadline says (Step Functions
// retries; no process owns a run). Locally one CLI process runs every task of a backup: once that
// process is gone (killed, crashed), the run can never commit, whatever its deadline. The host
// answers whether a process is there (ports/host.ts): the adapter (src/adapters/node-host.ts)
// provides it here when the local or the AWS context is built.
import type { BackupRecord } from '../ports/catalog.ts';
import type { Host } from '../ports/host.ts';
import { TidemarkError } from '../errors.ts';

/** The process running a local backup, recorded by StartBackup. */
export interface RunnerProcess {
  host: string;
  pid: number;
}

let provided: Host | undefined;

/** Sets the host this process runs on. */
export function provideHost(host: Host): void {
  provided = host;
}

function host(): Host {
  if (!provided) {
    throw new TidemarkError(
      'No host was provided to this process, so it cannot tell whether a run or lease holder is alive. ' +
        "Import '#adapters/node-host.ts' in the entry point (the local and AWS task contexts do).",
    );
  }
  return provided;
}

/** This process, for the local task context and lease holders. */
export function thisProcess(): RunnerProcess {
  return { host: host().hostName(), pid: process.pid };
}

export function mayStillCommit(record: BackupRecord, now: Date): boolean {
  if (record.state !== 'running') return false;
  if (record.deadline !== undefined && Date.parse(record.deadline) < now.getTime()) return false;
  return !(record.runner && processGone(record.runner));
}

/** True when `runner` ran on this host and its process no longer exists. */
export function processGone(runner: RunnerProcess): boolean {
  return runner.host === host().hostName() && !host().isProcessAlive(runner.pid);
}
