// One drainer per slot: the archive task holds the lease `pitr-archive.<collection>` while it
// drains. The slot alone cannot tell: a slot read with pg_logical_slot_peek_changes is active
// only while the server decodes, not while the archiver writes segments and moves the slot, so
// two runs would interleave, and the second would find the first's segment and fail
// (ConcurrentArchiverError) every minute of a long drain. With the lease it stops at once, and
// says so. The lease lasts the task's timeout: in AWS its holder cannot outlive it, so a dead
// holder frees it by expiry, without a heartbeat.
import { randomBytes } from 'node:crypto';
import type { BackupCatalog, Lease } from '../ports/catalog.ts';

export function archiveLeaseName(collection: string): string {
  return `pitr-archive.${collection}`;
}

/** Takes the lease, or returns the live holder's lease. */
export async function takeArchiveLease(
  catalog: BackupCatalog,
  collection: string,
  ttlSeconds: number,
  now = new Date(),
): Promise<{ held: Lease } | { heldBy: Lease }> {
  const lease: Lease = {
    name: archiveLeaseName(collection),
    owner: randomBytes(8).toString('hex'),
    purpose: `pitr archive of ${collection}`,
    acquiredAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + ttlSeconds * 1000).toISOString(),
  };
  const holder = await catalog.acquireLease(lease, now);
  return holder ? { heldBy: holder } : { held: lease };
}
