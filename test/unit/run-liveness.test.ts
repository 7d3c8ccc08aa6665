// Whether a run or lease holder is alive, as the host port answers it: the real host adapter
// (a process that exited is gone, this one is not) and the rule built on it (only a process on
// this host can be found gone).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { describe, expect, it, vi } from 'vitest';
import { nodeHost } from '#adapters/node-host.ts';
import { mayStillCommit, processGone, provideHost, thisProcess } from '#core/maintenance/run-liveness.ts';
import type { BackupRecord } from '#core/ports/catalog.ts';

const running = (runner: { host: string; pid: number }): BackupRecord => ({
  backupId: '20261207T000000Z-0abcde',
  state: 'running',
  startedAt: '2026-12-07T00:00:00.000Z',
  source: 'db:5432/app',
  runner,
});

describe('the node host', () => {
  it('names this machine and finds this process alive', () => {
    expect(nodeHost.hostName()).toBe(hostname());
    expect(nodeHost.isProcessAlive(process.pid)).toBe(true);
    expect(thisProcess()).toEqual({ host: hostname(), pid: process.pid });
  });

  it('finds a process that has exited gone, and pid 1 (init: always there) alive', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    await once(child, 'exit');
    expect(nodeHost.isProcessAlive(child.pid!)).toBe(false);
    expect(processGone({ host: hostname(), pid: child.pid! })).toBe(true);
    expect(nodeHost.isProcessAlive(1)).toBe(true);
  });
});

describe('run liveness through the host port', () => {
  it('the core alone has no host: it says which adapter provides one', async () => {
    vi.resetModules();
    const fresh = await import('#core/maintenance/run-liveness.ts');
    expect(() => fresh.thisProcess()).toThrow(/No host was provided.*#adapters\/node-host\.ts/);
  });

  it('a run whose process is gone on this host can never commit; one on another host may', () => {
    const now = new Date('2026-12-07T00:01:00Z');
    provideHost({ hostName: () => 'here', isProcessAlive: (pid) => pid === 7 });
    try {
      expect(mayStillCommit(running({ host: 'here', pid: 7 }), now)).toBe(true);
      expect(mayStillCommit(running({ host: 'here', pid: 8 }), now)).toBe(false);
      expect(mayStillCommit(running({ host: 'elsewhere', pid: 8 }), now)).toBe(true);
      expect(thisProcess()).toEqual({ host: 'here', pid: process.pid });
    } finally {
      provideHost(nodeHost);
    }
  });
});
