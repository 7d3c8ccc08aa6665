// The repository's `maintenance` lease (FORMAT.md, "Garbage collection"): gc, expire and catalog
// rebuild each hold it while they work, so at most one of them changes the repository at a time,
// and a backup that finds it held by gc waits instead of reusing chunks gc may delete.
// Liveness: a holder renews its lease (heartbeat) every quarter of its lifetime, so a holder that
// died frees it within one lifetime (a minute); a local holder also names its process, and once
// that process is gone on this host the lease is free at once (run-liveness.ts).
import { randomBytes } from 'node:crypto';
import type { BackupCatalog, Lease } from '../ports/catalog.ts';
import { leaseExpired } from '../catalog/leases.ts';
import { processGone, thisProcess } from './run-liveness.ts';
import { LeaseHeldError, LeaseLostError } from '../errors.ts';

export const MAINTENANCE_LEASE = 'maintenance';

export interface LeaseOptions {
  /** What holds it, shown to whoever finds it held: `gc`, `expire`, `catalog rebuild`. */
  purpose: string;
  /** How long the lease lasts unless renewed; the holder renews it every quarter of it. Default 60 s. */
  ttlSeconds?: number;
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

/** The default lifetime of a maintenance lease between heartbeats. */
export const LEASE_TTL_SECONDS = 60;

/** False once the lease can no longer protect anything: expired, or its local process is gone. */
export function leaseHolderMayBeAlive(lease: Lease, now: Date): boolean {
  if (leaseExpired(lease, now)) return false;
  return !(lease.holder && processGone(lease.holder));
}

/** Takes the lease, waiting up to `waitSeconds` for another live holder; refuses after that. */
export async function acquireMaintenanceLease(catalog: BackupCatalog, options: LeaseOptions): Promise<HeldLease> {
  const owner = randomBytes(8).toString('hex');
  const ttlSeconds = options.ttlSeconds ?? LEASE_TTL_SECONDS;
  const giveUpAt = Date.now() + (options.waitSeconds ?? 0) * 1000;
  for (;;) {
    const now = new Date();
    const lease: Lease = {
      name: MAINTENANCE_LEASE,
      owner,
      purpose: options.purpose,
      acquiredAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + ttlSeconds * 1000).toISOString(),
      holder: thisProcess(),
    };
    const holder = await catalog.acquireLease(lease, now);
    if (!holder) return heldLease(catalog, lease, ttlSeconds, Math.min(options.marginSeconds ?? 60, ttlSeconds / 4));
    if (!leaseHolderMayBeAlive(holder, now)) {
      // Its process is gone: free it (only that holder's lease: release is conditional on the owner).
      await catalog.releaseLease(holder.name, holder.owner);
      continue;
    }
    if (Date.now() >= giveUpAt) {
      throw new LeaseHeldError(
        `Cannot start ${options.purpose}: the repository's maintenance lease is held by ${holder.purpose} ` +
          `(since ${holder.acquiredAt}, until ${holder.expiresAt} at the latest). Wait for it to finish, ` +
          `or pass --wait <seconds>; a holder that died frees the lease within ${ttlSeconds} s (at once on the same host).`,
      );
    }
    await sleep(Math.min(options.pollMs ?? 1000, Math.max(giveUpAt - Date.now(), 1)));
  }
}

/** Runs `work` holding the lease, and releases it however `work` ends. */
export async function withMaintenanceLease<T>(
  catalog: BackupCatalog,
  options: LeaseOptions,
  work: (held: HeldLease) => Promise<T>,
): Promise<T> {
  const held = await acquireMaintenanceLease(catalog, options);
  try {
    return await work(held);
  } finally {
    await held.release();
  }
}

function heldLease(catalog: BackupCatalog, first: Lease, ttlSeconds: number, marginSeconds: number): HeldLease {
  let lease = first;
  let lost = false;
  // The heartbeat: re-acquiring with our owner id renews the expiry; a refusal means another
  // holder took it (ours had expired), and every later assertHeld fails.
  const heartbeat = setInterval(
    () => {
      const now = new Date();
      const renewed = { ...lease, expiresAt: new Date(now.getTime() + ttlSeconds * 1000).toISOString() };
      catalog.acquireLease(renewed, now).then(
        (holder) => {
          if (holder) lost = true;
          else if (!lost) lease = renewed;
        },
        () => undefined, // a failed renewal only brings the expiry closer; assertHeld watches it
      );
    },
    (ttlSeconds * 1000) / 4,
  );
  heartbeat.unref();
  return {
    get lease() {
      return lease;
    },
    async assertHeld(what: string) {
      const trustedUntil = Date.parse(lease.expiresAt) - marginSeconds * 1000;
      const current = await catalog.getLease(lease.name);
      if (!lost && Date.now() < trustedUntil && current?.owner === lease.owner) return;
      throw new LeaseLostError(
        `Stopped ${lease.purpose} before ${what}: its maintenance lease ${current?.owner === lease.owner ? `expires at ${lease.expiresAt}` : 'was taken by another holder'}. ` +
          'Nothing half-done is left unsafe; run it again (a large repository may need it run more than once).',
      );
    },
    release: async () => {
      clearInterval(heartbeat);
      await catalog.releaseLease(lease.name, lease.owner);
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
