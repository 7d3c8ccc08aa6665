// `tidemark repository seal` under the maintenance lease, with no backup able to commit: a backup
// writing documents while the marker changes would leave some without a MAC, which readers then
// refuse. The lease keeps new backups waiting; a running one makes the seal refuse (as gc does).
import type { BackupCatalog } from '../ports/catalog.ts';
import type { RepositoryStorage } from '../ports/storage.ts';
import { BackupsRunningError, UsageError } from '../errors.ts';
import { withMaintenanceLease } from './lease.ts';
import { mayStillCommit } from './run-liveness.ts';
import { sealRepository, type SealOptions, type SealReport } from '../repository/seal.ts';
import type { DocumentAuthenticator } from '../repository/repository-key.ts';

export async function sealRepositoryDocuments(
  ports: { storage: RepositoryStorage; catalog: BackupCatalog },
  key: DocumentAuthenticator | undefined,
  options: SealOptions & { waitSeconds?: number } = {},
): Promise<SealReport> {
  if (!key) {
    throw new UsageError(
      'repository seal needs the repository key it seals with: set $TIDEMARK_KEY (64 hex digits, e.g. `openssl rand -hex 32`) ' +
        'or $TIDEMARK_KEY_FILE for a local repository, or $TIDEMARK_KMS_MAC_KEY_ARN (the stack output RepositoryMacKeyArn) for one written in AWS.',
    );
  }
  return withMaintenanceLease(
    ports.catalog,
    { purpose: 'repository seal', waitSeconds: options.waitSeconds },
    async () => {
      const now = new Date();
      const running = (await ports.catalog.listRunningBackups()).filter((b) => mayStillCommit(b, now));
      if (running.length > 0) {
        throw new BackupsRunningError(
          `repository seal changed nothing: ${running.length} backup(s) are running (${running.map((b) => b.backupId).join(', ')}) ` +
            'and would write documents without a MAC. Run it when they have finished.',
        );
      }
      return sealRepository(ports.storage, key, options);
    },
  );
}
