// The lease rules (FORMAT.md, "Garbage collection"): a lease is free when nobody holds it, when
// its expiry has passed, or for its own holder (who renews by taking it again); only the holder
// releases it. Liveness beyond expiry (a holder whose process is gone) is judged by the taker
// (maintenance/lease.ts), which then releases the lease as that holder.
import type { Lease } from '../ports/catalog.ts';
import { ABSENT, fieldIs, instantReached, type Condition } from './conditions.ts';

/** The condition under which `owner` may write the lease at `now`. */
export function leaseFreeFor(owner: string, now: Date): Condition {
  return { is: 'any', of: [ABSENT, { is: 'due', field: 'expiresAt', at: now }, fieldIs('owner', owner)] };
}

/** The condition under which `owner` may release the lease. */
export function leaseHeldBy(owner: string): Condition {
  return fieldIs('owner', owner);
}

/** True once the lease's expiry has passed at `now`: it protects nothing any more. */
export function leaseExpired(lease: Lease, now: Date): boolean {
  return instantReached(lease.expiresAt, now);
}
