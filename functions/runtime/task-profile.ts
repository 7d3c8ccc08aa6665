// What a task is given, as plain data (no CDK types: the CLI bundle imports the registry).
// functions/index.ts holds one TaskDefinition per task; infra/task-policy.ts reads `access`.
import type { ZodType } from 'zod';

/**
 * Top-level areas of the repository (src/core/repository/layout.ts). The repository marker
 * (tidemark.json) is no area: every task that reads documents reads it, and only the task that
 * has `marker` access may put it.
 */
export type RepositoryArea = 'runs' | 'chunks' | 'backups' | 'collections' | 'segments';
/**
 * The areas that hold registry documents (src/core/repository/document-formats.ts), each
 * authenticated with the repository key: putting one needs kms:GenerateMac, reading one
 * kms:VerifyMac (infra/task-policy.ts). chunks/ holds none: chunks are content-addressed and
 * the authenticated manifest names their hashes.
 */
export const DOCUMENT_AREAS: readonly RepositoryArea[] = ['runs', 'backups', 'collections', 'segments'];

/** Whether a task puts documents (the marker is one), so MACs them with the repository key. */
export function writesDocuments(access: TaskAccess): boolean {
  return access.marker === true || (access.write ?? []).some((a) => DOCUMENT_AREAS.includes(a));
}

/**
 * Whether a task reads documents, so verifies their MACs. The marker is one, and every task that
 * reads or writes documents reads it first (its container binds to the repository it names:
 * aws-context.ts), so a writer of documents is a reader too.
 */
export function readsDocuments(access: TaskAccess): boolean {
  return (
    access.marker === true || writesDocuments(access) || (access.read ?? []).some((a) => DOCUMENT_AREAS.includes(a))
  );
}
/** Catalog operations, by the DynamoDB action behind each port method. */
export type CatalogAction = 'GetItem' | 'Query' | 'Scan' | 'PutItem' | 'UpdateItem' | 'DeleteItem';

export interface TaskAccess {
  /** Connects to the configured sources (backup) or to restore targets (restore). */
  readonly databases?: 'sources' | 'restoreTargets';
  /**
   * Gets and heads objects under these areas (and lists the bucket, so a miss is a 404);
   * with a document area (DOCUMENT_AREAS), verifies documents' MACs (kms:VerifyMac).
   */
  readonly read?: readonly RepositoryArea[];
  /** Only heads objects under these areas (whether they exist): no decryption. */
  readonly check?: readonly RepositoryArea[];
  /**
   * Puts objects under these areas (S3Storage.putIfAbsent: HeadObject, then PutObject or a
   * multipart upload). Nothing may delete: only garbage collection will. With a document area,
   * MACs the documents it writes (kms:GenerateMac).
   */
  readonly write?: readonly RepositoryArea[];
  readonly catalog?: readonly CatalogAction[];
  /** Deletes objects under these areas: garbage collection only. */
  readonly delete?: readonly RepositoryArea[];
  /**
   * Reads the repository marker (tidemark.json) and puts it when there is none
   * (ensureRepositoryMarker): get and put of that one key, its MAC verified and made.
   */
  readonly marker?: boolean;
}

export interface TaskProfile {
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly access: TaskAccess;
}

export interface TaskDefinition extends TaskProfile {
  readonly handler: (event: any) => Promise<unknown>;
  /** What the handler parses its event with before the task runs (its `input`): one per task. */
  readonly input: ZodType;
  /** Source file under functions/. */
  readonly file: string;
}
