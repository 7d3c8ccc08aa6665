// The host of a Node process (src/core/ports/host.ts). Importing this module provides it to the
// core; the local and the AWS task contexts import it.
import { hostname } from 'node:os';
import type { Host } from '#core/ports/host.ts';
import { provideHost } from '#core/maintenance/run-liveness.ts';

export const nodeHost: Host = {
  hostName: () => hostname(),
  isProcessAlive(pid) {
    try {
      // Signal 0 checks that the process exists without signalling it.
      process.kill(pid, 0);
      return true;
    } catch (err) {
      // EPERM: it exists, owned by someone else. Only ESRCH says it is gone.
      return (err as NodeJS.ErrnoException).code !== 'ESRCH';
    }
  },
};

provideHost(nodeHost);
