// The archive state machine of one PITR collection, as state-machines/archive.asl.json runs it (a
// test holds the two together). An EventBridge Scheduler schedule starts it every minute.
//
//   Archive → GapFound? (a gap: EmitChangeArchiveGap) → Archived
//   any failure: DescribeFailure → EmitChangeArchiveFailed → ArchiveFailed
import { archiveStepWith } from './archive-step.ts';
import { step } from './step.ts';

export const ARCHIVE_PIPELINE = [
  step(
    'Archive',
    'PitrArchive',
    // The handler gives the step PostgreSQL's change stream; listed here by its name.
    archiveStepWith({
      changeStream: () => {
        throw new Error('The pipeline list does not run steps.');
      },
    }),
    "under the slot's drainer lease, drains the slot into segments, each recorded in the catalog before the slot moves",
  ),
];
