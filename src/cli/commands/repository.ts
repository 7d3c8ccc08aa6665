// `tidemark repository seal`: give every document of a repository written without a key (by an
// older Tidemark, or with no key set) a MAC with the key now set, then make its marker name the
// key (FORMAT.md, "Sealing a repository written without a key"). Local mode; an S3 repository too.
import { openLocalContext, repositoryPath } from '#local/local-context.ts';
import { sealRepositoryDocuments } from '#core/maintenance/seal.ts';
import { repositoryKeyOf } from '#core/repository/repository-key.ts';
import { printJson, say } from '../output.ts';

export async function repositorySealCommand(options: {
  repo?: string;
  catalog?: string;
  json?: boolean;
  wait?: number;
  reseal?: boolean;
}): Promise<void> {
  const ctx = await openLocalContext(repositoryPath(options.repo), {
    create: false,
    catalog: options.catalog,
    unsealed: true,
  });
  const report = await sealRepositoryDocuments(ctx, repositoryKeyOf(ctx.storage), {
    waitSeconds: options.wait,
    reseal: options.reseal,
  });
  if (options.json) return printJson({ ok: true, ...report });
  for (const r of report.refused) say(`left alone: ${r.key}: ${r.problem}`);
  say(
    `Sealed ${ctx.storage.location} with key ${report.keyId}: ${report.sealed.length} document(s) given a MAC, ` +
      `${report.alreadySealed} already sealed${report.refused.length ? `, ${report.refused.length} left alone (readers refuse them)` : ''}; ` +
      `${report.markerSealed ? 'the marker now names the key' : 'the marker already named the key'}: ` +
      'from now on every document without a MAC is refused.',
  );
}
