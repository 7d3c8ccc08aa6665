// The restore state machine's execution input: the one schema the first step (Resolve) checks,
// and the one builder the CLI, the cloud CLI and the documented console input go through. Every
// path a later state reads comes from Resolve's output, not from this input, so a missing field
// is a clear error here and never a States.Runtime failure that no Catch can handle.
import { z } from 'zod';
import type { DatabaseRef } from '../ports/database.ts';
import { UsageError } from '../errors.ts';
import { parseTarget } from '../pitr/target.ts';

export const DEFAULT_RESTORE_WORKERS = 4;
/** An inline Map runs at most 40 iterations at once. */
export const MAX_RESTORE_WORKERS = 40;
/** How long one ReplayChanges invocation replays before it hands on (Lambda stops at 900 s). */
export const DEFAULT_REPLAY_SECONDS = 600;
export const MAX_REPLAY_SECONDS = 720;

const isTarget = (to: string) => {
  try {
    parseTarget(to);
    return true;
  } catch {
    return false;
  }
};

/** A tablespace name: at most 63 bytes (NAMEDATALEN - 1). */
const tablespaceName = z
  .string()
  .min(1)
  .refine((name) => Buffer.byteLength(name) <= 63, 'a tablespace name of at most 63 bytes');

const RestoreRunInputSchema = z
  .object({
    /** A backup id or `latest`; with `resume`, optional (the resumed restore's backup). */
    backup: z.string().min(1).optional(),
    target: z.object({ credentials: z.string().min(1), database: z.string().min(1).max(63).optional() }).strict(),
    options: z
      .object({
        workers: z.number().int().min(1).max(MAX_RESTORE_WORKERS).default(DEFAULT_RESTORE_WORKERS),
        verify: z.boolean().default(true),
        /** A point-in-time restore's replay time per invocation; 0 hands on after each group of transactions. */
        replaySeconds: z.number().int().min(0).max(MAX_REPLAY_SECONDS).optional(),
        /** Source tablespace → target tablespace for the objects in it (`--tablespace-map old=new`). */
        tablespaceMap: z.record(tablespaceName, tablespaceName).default({}),
      })
      .strict()
      .default({ workers: DEFAULT_RESTORE_WORKERS, verify: true, tablespaceMap: {} }),
    /** The id of a failed restore to carry on with, in the same target database. */
    resume: z
      .string()
      .regex(/^[\w.-]{1,80}$/, 'a restore id (from `tidemark restores` or the RestoreFailed event)')
      .optional(),
    /** A point-in-time restore: the collection whose backups and change archive to restore from … */
    collection: z.string().min(1).optional(),
    /** … to this target (an ISO-8601 time with zone, lsn:X/Y, xid:N or latest); Resolve picks the backup. */
    to: z
      .string()
      .refine(isTarget, 'an ISO-8601 time with its zone (2026-12-06T23:20:14.979275Z), lsn:X/Y, xid:N or latest')
      .optional(),
  })
  .strict()
  .refine((input) => input.backup !== undefined || input.resume !== undefined || input.to !== undefined, {
    message:
      'name the backup to restore ("latest" or a backup id), the restore to resume ("resume"), or a point in time ("collection" and "to")',
    path: ['backup'],
  })
  .refine((input) => (input.to === undefined) === (input.collection === undefined), {
    message: '"to" and "collection" go together: a point in time of that collection\'s change archive',
    path: ['to'],
  })
  .refine((input) => input.to === undefined || input.backup === undefined, {
    message: 'a point-in-time restore picks its backup itself: leave out "backup"',
    path: ['to'],
  })
  .refine((input) => input.to === undefined || input.resume === undefined, {
    message:
      'a resumed restore replays to the point of the restore it resumes (recorded in the catalog): leave out "to" and "collection"',
    path: ['resume'],
  });

export type RestoreRunInput = z.input<typeof RestoreRunInputSchema>;
export type RestoreRun = z.output<typeof RestoreRunInputSchema>;

export function parseRestoreRunInput(input: unknown): RestoreRun {
  const parsed = RestoreRunInputSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
  throw new UsageError(
    `The restore input is not valid: ${problems}. Expected {"backup": "latest" | "<backup id>", "target": {"credentials": "<secret ARN or name>", "database": "<new database>"}, "options": {"workers": 4, "verify": true, "tablespaceMap": {"<source tablespace>": "<target tablespace>"}}} (options optional; "resume": "<restore id>" carries on with a failed restore; "collection": "<name>", "to": "<time|lsn:X/Y|xid:N|latest>" in place of "backup" restores to a point in time).`,
  );
}

/** The execution input for a restore, as every caller builds it. */
export function restoreRunInput(args: {
  backup?: string;
  target: DatabaseRef;
  workers?: number;
  verify?: boolean;
  resume?: string;
  /** A point in time: `collection` and `to` together, in place of `backup`. */
  collection?: string;
  to?: string;
  replaySeconds?: number;
  /** Source tablespace → target tablespace (`tablespaceMapFrom` reads `--tablespace-map` entries). */
  tablespaceMap?: Record<string, string>;
}): RestoreRunInput {
  return {
    ...(args.backup !== undefined ? { backup: args.backup } : {}),
    target: {
      credentials: args.target.credentials,
      ...(args.target.database !== undefined ? { database: args.target.database } : {}),
    },
    options: {
      workers: args.workers ?? DEFAULT_RESTORE_WORKERS,
      verify: args.verify ?? true,
      ...(args.replaySeconds !== undefined ? { replaySeconds: args.replaySeconds } : {}),
      ...(args.tablespaceMap && Object.keys(args.tablespaceMap).length > 0
        ? { tablespaceMap: args.tablespaceMap }
        : {}),
    },
    ...(args.resume !== undefined ? { resume: args.resume } : {}),
    ...(args.collection !== undefined ? { collection: args.collection } : {}),
    ...(args.to !== undefined ? { to: args.to } : {}),
  };
}

/**
 * The map of `--tablespace-map <old>=<new>` entries (repeatable): each names two tablespaces,
 * split at its one `=`; `<new>` may be pg_default. Resolve checks each `<old>` against the backup.
 */
export function tablespaceMapFrom(entries: readonly string[] = []): Record<string, string> {
  const map = new Map<string, string>();
  for (const entry of entries) {
    const parts = entry.split('=');
    if (parts.length !== 2 || !parts[0] || !parts[1]) {
      throw new UsageError(
        `--tablespace-map "${entry}" is not <old>=<new>: give the source tablespace and the target's, each non-empty, with one "=" between (e.g. --tablespace-map "fast ssd"=pg_default).`,
      );
    }
    const [from, to] = parts as [string, string];
    if (map.has(from) && map.get(from) !== to) {
      throw new UsageError(
        `--tablespace-map maps tablespace "${from}" twice (to "${map.get(from)}" and to "${to}"): give one entry per source tablespace.`,
      );
    }
    map.set(from, to);
  }
  return Object.fromEntries(map);
}
