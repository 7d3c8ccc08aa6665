// Every kind of repository document, with its place and its schema (FORMAT.md, "Documents").
// Schemas check what Tidemark acts on (ids, keys, chunk references, counts) and let unknown
// fields through (looseObject), so a newer writer's additions survive a read; the database
// schema inside manifests and plans is checked only for its shape, its statements belong to
// the schema module.
import { z } from 'zod';
import type { CollectionRecord } from '../ports/catalog.ts';
import type { Manifest } from './manifest.ts';
import type { ExportBatchResult, ExportTask, PlanHeader } from '../backup/plan-model.ts';
import type { ChangeSegment } from '../pitr/segment.ts';
import { layout } from './layout.ts';
import { documentKind } from './documents.ts';

const count = z.number().int().nonnegative();
const text = z.string();
// Ids become key segments: nothing that could leave its directory.
const runId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'not a backup or run id');
const instant = z.string().min(1);

export const chunkRefSchema = z.looseObject({
  id: z.string().regex(/^[0-9a-f]{64}$/, 'not a chunk id (64 hex characters)'),
  size: count,
  storedSize: count,
  rows: count,
});

const keyIndexSchema = z.looseObject({ column: text, count, chunks: z.array(chunkRefSchema) });

const layerSchema = z.looseObject({
  backupId: runId,
  removedRows: count,
  removedKeys: z.array(chunkRefSchema),
  chunks: z.array(chunkRefSchema),
  rows: count,
  checksum: text,
  bytes: count,
  rowsAfter: count,
});

const tableSchema = z.looseObject({
  schema: text,
  name: text,
  columns: z.array(text),
  format: z.enum(['text', 'binary']),
  rowType: text.optional(),
  identity: text.optional(),
  rows: count,
  checksum: text,
  bytes: count,
  chunks: z.array(chunkRefSchema),
  layers: z.array(layerSchema).optional(),
  keyIndex: keyIndexSchema.optional(),
});

const sourceSchema = z.looseObject({
  description: text,
  serverVersion: text,
  serverVersionNum: count,
  systemIdentifier: text,
  database: text,
  timeline: text.optional(),
});

/** The captured schema: its shape only (statements are the schema module's business). */
const databaseSchemaSchema = z.looseObject({
  serverVersionNum: count,
  preData: z.array(z.looseObject({})),
  postData: z.array(z.array(z.looseObject({}))),
  tables: z.array(z.looseObject({ schema: text, name: text, columns: z.array(text) })),
  sequences: z.array(z.looseObject({})),
  materializedViews: z.array(z.looseObject({})),
  warnings: z.array(text),
});

const statsSchema = z.looseObject({
  tables: count,
  rows: count,
  bytesRead: count,
  bytesStored: count,
  bytesReferenced: count,
  chunks: count,
});

export const manifestKind = documentKind<Manifest, { backupId: string }>({
  format: 'tidemark-manifest',
  title: 'Manifest',
  keyOf: ({ backupId }) => layout.manifest(backupId),
  placeOf: (m) => ({ backupId: m.backupId }),
  schema: z.looseObject({
    backupId: runId,
    parent: runId.nullable(),
    collection: text.optional(),
    startedAt: instant,
    committedAt: instant,
    source: sourceSchema,
    snapshot: z.looseObject({
      time: instant,
      lsn: text.nullable(),
      xmin: text.optional(),
      txidSnapshot: text.optional(),
    }),
    codec: text,
    schema: databaseSchemaSchema,
    tables: z.array(tableSchema),
    stats: statsSchema,
    warnings: z.array(text),
  }),
});

export interface CommitMarker {
  backupId: string;
  /** ISO-8601, the catalog's finishedAt. */
  committedAt: string;
}

export const commitMarkerKind = documentKind<CommitMarker, { backupId: string }>({
  format: 'tidemark-committed',
  title: 'Commit marker',
  keyOf: ({ backupId }) => layout.backupCommitted(backupId),
  placeOf: (c) => ({ backupId: c.backupId }),
  schema: z.looseObject({ backupId: runId, committedAt: instant }),
});

export interface Tombstone {
  backupId: string;
  collection?: string;
  /** ISO-8601. */
  expiredAt: string;
}

export const tombstoneKind = documentKind<Tombstone, { backupId: string }>({
  format: 'tidemark-expired',
  title: 'Tombstone',
  keyOf: ({ backupId }) => layout.backupExpired(backupId),
  placeOf: (t) => ({ backupId: t.backupId }),
  schema: z.looseObject({ backupId: runId, collection: text.optional(), expiredAt: instant }),
});

const retentionCount = z.number().int().positive().optional();

export const collectionKind = documentKind<CollectionRecord, { name: string }>({
  format: 'tidemark-collection',
  title: 'Collection',
  keyOf: ({ name }) => layout.collection(name),
  placeOf: (c) => ({ name: c.name }),
  schema: z.looseObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'not a collection name'),
    createdAt: instant,
    source: text,
    sourceDescription: text,
    schedule: text.optional(),
    retention: z.looseObject({
      keepLast: retentionCount,
      keepDaily: retentionCount,
      keepWeekly: retentionCount,
      keepMonthly: retentionCount,
    }),
  }),
});

export const planHeaderKind = documentKind<PlanHeader, { runId: string }>({
  format: 'tidemark-plan',
  title: 'Plan',
  keyOf: ({ runId }) => layout.planHeader(runId),
  placeOf: (h) => ({ runId: h.backupId }),
  schema: z.looseObject({
    backupId: runId,
    createdAt: instant,
    source: sourceSchema,
    snapshot: z.looseObject({ time: instant, lsn: text.nullable() }),
    schema: databaseSchemaSchema,
    taskCount: count,
    batchCount: count,
    chunkBytes: z.number().int().positive(),
    formats: z.array(z.enum(['text', 'binary'])),
    rowTypes: z.array(text).optional(),
    keys: z.array(text.nullable()).optional(),
    identities: z.array(text).optional(),
    parent: z.looseObject({ backupId: runId, xmin: text }).optional(),
    collection: text.optional(),
    snapshotXmin: text.optional(),
  }),
});

/** A batch of export tasks; the header's `key` binds it to its run and index. */
export const planTasksKind = documentKind<ExportTask[], { runId: string; batch: number }>({
  format: 'tidemark-plan-tasks',
  title: 'Plan batch',
  keyOf: ({ runId, batch }) => layout.planBatch(runId, batch),
  placeOf: () => ({}),
  schema: z.array(
    z.looseObject({
      table: count,
      range: count,
      fromBlock: count.nullable(),
      toBlock: count.nullable(),
      kind: z.enum(['rows', 'keys', 'changes']).optional(),
    }),
  ),
});

export const exportResultKind = documentKind<ExportBatchResult, { runId: string; batch: number }>({
  format: 'tidemark-export-result',
  title: 'Export result',
  keyOf: ({ runId, batch }) => layout.exportResult(runId, batch),
  placeOf: (r) => ({ batch: r.batch }),
  schema: z.looseObject({
    batch: count,
    tasks: z.array(
      z.looseObject({
        table: count,
        range: count,
        rows: count,
        bytesRead: count,
        checksum: text,
        chunks: z.array(chunkRefSchema),
        bytesWritten: count,
        kind: z.enum(['rows', 'keys', 'changes']).optional(),
        outcome: z.enum(['unchanged', 'layer', 'full']).optional(),
        layer: z.looseObject({ removedRows: count, removedKeys: z.array(chunkRefSchema), rowsAfter: count }).optional(),
        keyIndex: keyIndexSchema.optional(),
      }),
    ),
  }),
});

/** The snapshot hand-off of a run, written by the snapshot holder (hold-snapshot.ts). */
export interface SnapshotHandOff {
  snapshotId: string;
  time: string;
  lsn: string | null;
}

export const snapshotKind = documentKind<SnapshotHandOff, { runId: string }>({
  format: 'tidemark-snapshot',
  title: 'Snapshot hand-off',
  keyOf: ({ runId }) => layout.snapshot(runId),
  placeOf: () => ({}),
  schema: z.looseObject({
    snapshotId: z.string().regex(/^[0-9A-F]+-[0-9A-F]+(-\d+)?$/i, 'not an exported snapshot id'),
    time: instant,
    lsn: text.nullable(),
  }),
});

export const snapshotReleaseKind = documentKind<{ at: string }, { runId: string }>({
  format: 'tidemark-snapshot-release',
  title: 'Snapshot release',
  keyOf: ({ runId }) => layout.snapshotReleased(runId),
  placeOf: () => ({}),
  schema: z.looseObject({ at: instant }),
});

export interface RepositoryMarker {
  repositoryId: string;
  createdAt: string;
  formatVersion: number;
  /** Set when the repository was created with a repository key: its documents carry MACs by it. */
  keyId?: string;
}

export const repositoryMarkerKind = documentKind<RepositoryMarker, Record<string, never>>({
  format: 'tidemark-repository',
  title: 'Repository marker',
  keyOf: () => layout.marker(),
  placeOf: () => ({}),
  schema: z.looseObject({ repositoryId: text, createdAt: instant, formatVersion: count, keyId: text.optional() }),
});

const lsn = z.string().regex(/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i, 'not an LSN');
const commitPoint = z.looseObject({ xid: z.string().regex(/^\d+$/), lsn, time: instant });

/** A change segment of a collection's change archive (FORMAT.md, "Point-in-time recovery"). */
export const segmentKind = documentKind<
  ChangeSegment,
  { collection: string; chain: string; afterLsn: string; part: number }
>({
  format: 'tidemark-segment',
  title: 'Change segment',
  keyOf: ({ collection, chain, afterLsn, part }) => layout.segment(collection, chain, afterLsn, part),
  placeOf: (s) => ({ collection: s.collection, chain: s.chain, afterLsn: s.afterLsn, part: s.part }),
  schema: z.looseObject({
    collection: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'not a collection name'),
    chain: z.string().regex(/^[0-9A-F]{16}$/, 'not a chain id'),
    afterLsn: lsn,
    part: count,
    slot: text,
    source: z.looseObject({
      systemIdentifier: text,
      database: text,
      serverVersionNum: count,
      // The archiver compares it to the server's to find a failover (pitr/archive.ts).
      timeline: z
        .string()
        .regex(/^[0-9A-F]{8}$/, 'not a WAL timeline')
        .optional(),
    }),
    endLsn: lsn,
    openAtEnd: z.boolean(),
    transactions: count,
    changes: count,
    firstCommit: commitPoint.optional(),
    lastCommit: commitPoint.optional(),
    payload: z.looseObject({
      codec: z.literal('zstd'),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      bytes: count,
      data: text,
    }),
  }),
});
