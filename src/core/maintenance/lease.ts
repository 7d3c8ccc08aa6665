// The repository's `maintenance` lease (FORMAT.md, "Garbage collection"): gc, expire and catalog
// rebuild each hold it while they work, so at most one of them changes the repository at a time,
// and a backup that finds it held by gc waits instead of reusing chunks gc may delete.
import { randomBytes } from 'node:crypto';
import type { BackupCatalog, Lease } from '../ports/catalog.ts';
import { LeaseHeldError, LeaseLostError } from '../errors.ts';

export const MAINTENANCE_LEASE = 'maintenance';

export interface LeaseOptions {
  /** What holds it, shown to whoever finds it held: `gc`, `expire`, `catalog rebuild`. */
  purpose: string;
  /** How long the lease lasts; past it, anyone may take it. */
  ttlSeconds: number;
  /** How long to wait for another holder to finish (default 0: refuse at once). */
  waitSeconds?: number;
  /** Poll interval while waiting (default 1 s). */
  pollMs?: number;
  /** How long before expiry we stop trusting the lease (default 60 s, capped at a quarter of the ttl). */
  marginSeconds?: number;
}

export interface HeldLease {
  readonly lease: Lease;
  /** Throws `LeaseLostError` when the lease is (nearly) expired or no longer ours. */
  assertHeld(what: string): Promise<void>;
  release(): Promise<void>;
}

/** Takes the lease, waiting up to `waitSeconds` for another live holder; refuses after that. */
export async function acquireMaintenanceLease(catalog: BackupCatalog, options: LeaseOptions): Promise<HeldLease> {
  const owner = randomBytes(8).toString('hex');
  const giveUpAt = Date.now() + (options.waitSeconds ?? 0) * 1000;
  for (;;) {
    const now = new Date();
    const lease: Lease = {
      name: MAINTENANCE_LEASE,
      owner,
      purpose: options.purpose,
      acquiredAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + options.ttlSeconds * 1000).toISOString(),
    };
    const holder = await catalog.acquireLease(lease, now);
    if (!holder) return heldLease(catalog, lease, Math.min(options.marginSeconds ?? 60, options.ttlSeconds / 4));
    if (Date.now() >= giveUpAt) {
      throw new LeaseHeldError(
        `Cannot start ${options.purpose}: the repository's maintenance lease is held by ${holder.purpose} ` +
          `(since ${holder.acquiredAt}, until ${holder.expiresAt} at the latest). Wait for it to finish, ` +
          'or pass --wait <seconds>; a holder that died frees the lease when it expires.',
      );
    }
    await sleep(Math.min(options.pollMs ?? 1000, Math.max(giveUpAt - Date.now(), 1)));
  }
}

/** Runs `work` holding the lease, and releases it however `work` ends. */
export async function withMaintenanceLease<T>(catalog: BackupCatalog, options: LeaseOptions, work: (held: HeldLease) => Promise<T>): Promise<T> {
  const held = await acquireMaintenanceLease(catalog, options);
  try {
    return await work(held);
  } finally {
    await held.release();
  }
}

function heldLease(catalog: BackupCatalog, lease: Lease, marginSeconds: number): HeldLease {
  return {
    lease,
    async assertHeld(what: string) {
      const trustedUntil = Date.parse(lease.expiresAt) - marginSeconds * 1000;
      const current = await catalog.getLease(lease.name);
      if (Date.now() < trustedUntil && current?.owner === lease.owner) return;
      throw new LeaseLostError(
        `Stopped ${lease.purpose} before ${what}: its maintenance lease ${current?.owner === lease.owner ? `expires at ${lease.expiresAt}` : 'was taken by another holder'}. ` +
          'Nothing half-done is left unsafe; run it again (a large repository may need it run more than once).',
      );
    },
    release: () => catalog.releaseLease(lease.name, lease.owner),
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
