// Step "Expire" of the maintenance state machine (state-machines/maintenance.asl.json): apply a
// collection's retention rules. The same core as `tidemark expire`; in AWS a schedule per
// collection starts it. Its output is counts and the first ids (DESIGN.md invariant 4).
import type { TaskContext } from '../task-context.ts';
import { UsageError } from '../errors.ts';
import { expireBackups } from './expire.ts';

export interface ExpireStepInput {
  /** The execution input, unchecked: `{ "collection": "<name>" }`. */
  input: unknown;
}

export interface ExpireStepOutput {
  collection: string;
  expired: number;
  kept: number;
  /** The first expired backup ids (all of them are in the catalog and the tombstones). */
  expiredIds: string[];
}

/** Another maintenance task may hold the lease; Lambda runs 15 minutes, so wait at most 4. */
export const MAINTENANCE_WAIT_SECONDS = 240;
const IDS_IN_OUTPUT = 20;

export async function expireStep(input: ExpireStepInput, ctx: TaskContext): Promise<ExpireStepOutput> {
  const collection = (input.input as { collection?: unknown } | undefined)?.collection;
  if (typeof collection !== 'string' || collection === '') {
    throw new UsageError(
      'The maintenance input names no collection: give {"collection": "<name>"} (the schedule of each collection sends it).',
    );
  }
  const report = await expireBackups(ctx, { collection, waitSeconds: MAINTENANCE_WAIT_SECONDS });
  const expiry = report.collections[0]!;
  const expired = [...expiry.expired, ...expiry.completed];
  return { collection, expired: expired.length, kept: expiry.kept.length, expiredIds: expired.slice(0, IDS_IN_OUTPUT) };
}
