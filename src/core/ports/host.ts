// The machine a process runs on, as far as the core needs it: a local backup and a local
// maintenance lease name the process that holds them, and whoever finds one on the same host
// asks whether that process is still there (maintenance/run-liveness.ts). Implementation:
// src/adapters/node-host.ts (the OS host name, a signal-0 probe).

export interface Host {
  /** This machine's name, as recorded with a run or lease. Stable for the life of the process. */
  hostName(): string;
  /**
   * Whether process `pid` exists on this machine. True for a process of another user (it exists,
   * we may not signal it); false only when the system says there is no such process. Cheap and
   * side-effect free: it sends no signal.
   */
  isProcessAlive(pid: number): boolean;
}
