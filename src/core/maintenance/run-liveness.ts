// Whether a `running` backup may still commit. In AWS only its deadline says (Step Functions
// retries; no process owns a run). Locally one CLI process runs every task of a backup: once that
// process is gone (killed, crashed), the run can never commit, whatever its deadline.
import { hostname } from 'node:os';
import type { BackupRecord } from '../ports/catalog.ts';

/** The process running a local backup, recorded by StartBackup. */
export interface RunnerProcess {
  host: string;
  pid: number;
}

/** This process, for the local task context. */
export function thisProcess(): RunnerProcess {
  return { host: hostname(), pid: process.pid };
}

export function mayStillCommit(record: BackupRecord, now: Date): boolean {
  if (record.state !== 'running') return false;
  if (record.deadline !== undefined && Date.parse(record.deadline) < now.getTime()) return false;
  return !(record.runner && processGone(record.runner));
}

/** True when `runner` ran on this host and its process no longer exists. */
export function processGone(runner: RunnerProcess): boolean {
  return runner.host === hostname() && !processAlive(runner.pid);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone else. Only ESRCH says it is gone.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
