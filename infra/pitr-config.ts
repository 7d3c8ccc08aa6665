// A collection's point-in-time recovery settings (issue 13, item 6): `collections[].pitr` in the
// configuration file. Present: the stack archives the collection's changes on a schedule and
// alarms on the archive. Its source must have PITR enabled (`tidemark pitr enable`).
import { z } from 'zod';

export const DEFAULT_RETAINED_WAL_ALARM_BYTES = 10 * 1024 ** 3;

export const PitrConfigSchema = z
  .object({
    /** Minutes between archive runs: the recovery point objective is about twice this. */
    intervalMinutes: z.number().int().min(1).max(60).default(1),
    /** The slot's retained WAL above which the alarm fires: the source's disk must hold it. */
    retainedWalAlarmBytes: z
      .number()
      .int()
      .min(16 * 1024 ** 2, 'at least 16 MiB (one WAL segment)')
      .default(DEFAULT_RETAINED_WAL_ALARM_BYTES),
  })
  .strict();

export type PitrConfig = z.output<typeof PitrConfigSchema>;
