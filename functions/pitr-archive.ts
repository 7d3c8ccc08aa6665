import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { LogicalSlotStream } from '#adapters/postgres/logical-stream.ts';
import { ArchiveRunInputSchema } from '#core/pipelines/archive-input.ts';
import { archiveStepWith, type ArchiveFigures } from '#core/pipelines/archive-step.ts';
import { isLocalRun } from './runtime/context.ts';
import { taskHandler } from './runtime/task-handler.ts';

// The archive's own figures, per collection (infra/constructs/change-archive.ts alarms on them):
// each segment as it is recorded, so a long drain shows progress; the slot once per run. The
// function's name (one per stack) keeps two stacks' collections of one name apart.
const metrics = new Metrics({
  namespace: 'Tidemark',
  serviceName: 'tidemark',
  defaultDimensions: { function: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'local' },
});
const figures: ArchiveFigures = {
  segment(record, lagSeconds) {
    if (isLocalRun()) return;
    metrics.addDimension('collection', record.collection);
    metrics.addMetric('ArchiveSegments', MetricUnit.Count, 1);
    metrics.addMetric('ArchiveChanges', MetricUnit.Count, record.changes);
    metrics.addMetric('ArchiveBytes', MetricUnit.Bytes, record.bytes);
    if (lagSeconds !== undefined) metrics.addMetric('ArchiveLagSeconds', MetricUnit.Seconds, lagSeconds);
    metrics.publishStoredMetrics();
  },
  run(output) {
    if (isLocalRun()) return;
    // Lost: the slot's WAL was removed, now or before this run started a new chain after it.
    const lost =
      output.walStatus === 'lost' || output.gap?.reason === 'slot-lost' || output.gap?.reason === 'slot-dropped';
    metrics.addDimension('collection', output.collection);
    metrics.addMetric('SlotLost', MetricUnit.Count, lost ? 1 : 0);
    if (output.retainedBytes !== undefined)
      metrics.addMetric('SlotRetainedBytes', MetricUnit.Bytes, output.retainedBytes);
    metrics.publishStoredMetrics();
  },
};

const archiveStep = archiveStepWith({ changeStream: (session) => new LogicalSlotStream(session), figures });

export const handler = taskHandler('PitrArchive', archiveStep).parsing(ArchiveRunInputSchema);
