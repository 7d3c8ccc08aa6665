// Cloud mode finds everything it needs from the outputs of the stack that infra/ deploys,
// read once with CloudFormation DescribeStacks: the CLI takes a stack name, never raw ARNs.
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { TidemarkError, UsageError } from '#core/errors.ts';

export interface TidemarkStack {
  name: string;
  region: string;
  backupStateMachineArn: string;
  restoreStateMachineArn: string;
  catalogTableName: string;
  repositoryBucketName: string;
  /** Key prefix of the repository in the bucket: '' (the output is absent) or ending in '/'. */
  repositoryPrefix: string;
  eventBusName: string;
  /** The KMS HMAC key that authenticates repository documents (absent on stacks deployed before it). */
  repositoryMacKeyArn?: string;
}

/** The CloudFormation outputs the CDK app declares, by the field they fill (RepositoryPrefix is optional). */
const OUTPUTS = {
  backupStateMachineArn: 'BackupStateMachineArn',
  restoreStateMachineArn: 'RestoreStateMachineArn',
  catalogTableName: 'CatalogTableName',
  repositoryBucketName: 'RepositoryBucketName',
  eventBusName: 'EventBusName',
} as const;

/** The stack could not be read (missing, no permission, no credentials, not ours). */
export class StackError extends TidemarkError {
  override readonly exitCode = 2;
}

export async function resolveStack(name: string, client = new CloudFormationClient({})): Promise<TidemarkStack> {
  const region = await client.config.region().catch(() => undefined);
  if (!region)
    throw new UsageError(`--stack ${name}: no AWS region configured. Set AWS_REGION (or a profile with a region).`);
  let stack;
  try {
    stack = (await client.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
  } catch (err) {
    const e = err as Error;
    if (e.name === 'ValidationError' && /does not exist/i.test(e.message)) {
      throw new StackError(
        `Stack "${name}" does not exist in ${region}. Check --stack and the region (AWS_REGION), or deploy it with the CDK app in infra/.`,
        { cause: err },
      );
    }
    throw new StackError(`Cannot read stack "${name}" in ${region}: ${e.name}: ${e.message}`, { cause: err });
  }
  if (!stack) throw new StackError(`Stack "${name}" does not exist in ${region}.`);
  if (stack.StackStatus?.endsWith('_IN_PROGRESS') && stack.StackStatus.startsWith('CREATE')) {
    throw new StackError(
      `Stack "${name}" is still being created (${stack.StackStatus}); try again when it is complete.`,
    );
  }
  const values = new Map((stack.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
  const missing = Object.values(OUTPUTS).filter((key) => !values.get(key));
  if (missing.length > 0) {
    throw new StackError(
      `Stack "${name}" has no output ${missing.join(', ')}: it is not a Tidemark stack (deploy infra/), or its deployment failed (status ${stack.StackStatus}).`,
    );
  }
  const get = (key: keyof typeof OUTPUTS) => values.get(OUTPUTS[key])!;
  return {
    name,
    region,
    backupStateMachineArn: get('backupStateMachineArn'),
    restoreStateMachineArn: get('restoreStateMachineArn'),
    catalogTableName: get('catalogTableName'),
    repositoryBucketName: get('repositoryBucketName'),
    repositoryPrefix: values.get('RepositoryPrefix') ?? '',
    eventBusName: get('eventBusName'),
    ...(values.get('RepositoryMacKeyArn') ? { repositoryMacKeyArn: values.get('RepositoryMacKeyArn')! } : {}),
  };
}
