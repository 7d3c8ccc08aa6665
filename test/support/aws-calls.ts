// Records every AWS call a task function makes, through SDK middleware on the very clients the
// Lambda context uses (functions/runtime/aws-context.ts), and turns each into the IAM requests
// AWS authorizes for it: the action, the resource ARN, and the context keys that policies test.
// Requests AWS makes on the caller's behalf are added where the caller's policy must allow
// them: KMS through S3 and DynamoDB (SSE-KMS, a customer managed table key), and s3:ListBucket
// when a read misses (without it S3 answers 403, and "not found" is how tasks learn a batch
// result or a snapshot does not exist yet).
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AwsClients } from '#functions/runtime/aws-context.ts';

/** One request as IAM evaluates it. */
export interface IamRequest {
  action: string;
  resource: string;
  context: Record<string, string>;
}

export interface RecordedCall {
  /** The function (role) that made it: `BackupPlan` … */
  caller: string;
  /** `S3Client.GetObjectCommand` … */
  operation: string;
  /** What IAM checks for it. */
  requests: IamRequest[];
}

export interface Account {
  partition: string;
  region: string;
  accountId: string;
  /** ARN of the key that encrypts the bucket and the catalog table. */
  keyArn: string;
  /** ARN of the repository key (the HMAC key that authenticates documents). */
  macKeyArn: string;
}

const caller = new AsyncLocalStorage<string>();

/** The function whose task is running here, if any. */
export function currentCaller(): string | undefined {
  return caller.getStore();
}

/** Attributes the AWS calls made inside `run` to `name`. */
export function asCaller<T>(name: string, run: () => Promise<T>): Promise<T> {
  return caller.run(name, run);
}

type Input = Record<string, any>;
type Outcome = { status: number };

/** IAM requests of each SDK operation this project uses. An unknown one fails the test. */
function requestsOf(service: string, command: string, input: Input, outcome: Outcome, a: Account): IamRequest[] {
  const kmsVia = (svc: string, ...actions: string[]): IamRequest[] =>
    actions.map((action) => ({
      action,
      resource: a.keyArn,
      context: { 'kms:ViaService': `${svc}.${a.region}.amazonaws.com`, 'kms:CallerAccount': a.accountId },
    }));
  const object = (bucket: string, key: string) => `arn:${a.partition}:s3:::${bucket}/${key}`;
  const bucketArn = (bucket: string) => `arn:${a.partition}:s3:::${bucket}`;
  const s3 = (action: string, resource: string, extra: Record<string, string> = {}): IamRequest => ({
    action,
    resource,
    context: { 'aws:SecureTransport': 'true', ...extra },
  });
  const missed = outcome.status === 404;
  const listForMiss = (bucket: string, key: string) =>
    missed ? [s3('s3:ListBucket', bucketArn(bucket), { 's3:prefix': key })] : [];
  // S3 authorizes PutObject, CreateMultipartUpload, UploadPart and CompleteMultipartUpload all
  // as s3:PutObject. Only PutObject and CompleteMultipartUpload create the object
  // (s3:ObjectCreationOperation true) and only they carry If-None-Match; CreateMultipartUpload
  // is the one with neither a body nor an upload id. Encryption headers go with PUT and create.
  const conditional = (extra: Input): Record<string, string> => {
    const creates = extra.Body !== undefined || extra.UploadId !== undefined;
    return {
      's3:ObjectCreationOperation': String(creates),
      ...(creates && extra.IfNoneMatch ? { 's3:if-none-match': String(extra.IfNoneMatch) } : {}),
      ...(extra.ServerSideEncryption ? { 's3:x-amz-server-side-encryption': String(extra.ServerSideEncryption) } : {}),
      ...(extra.SSEKMSKeyId ? { 's3:x-amz-server-side-encryption-aws-kms-key-id': String(extra.SSEKMSKeyId) } : {}),
    };
  };
  if (service === 'S3') {
    switch (command) {
      case 'GetObject':
        return [
          s3('s3:GetObject', object(input.Bucket, input.Key)),
          ...listForMiss(input.Bucket, input.Key),
          ...(missed ? [] : kmsVia('s3', 'kms:Decrypt')),
        ];
      case 'HeadObject':
        return [s3('s3:GetObject', object(input.Bucket, input.Key)), ...listForMiss(input.Bucket, input.Key)];
      case 'PutObject':
        return [
          s3('s3:PutObject', object(input.Bucket, input.Key), conditional(input)),
          ...kmsVia('s3', 'kms:GenerateDataKey'),
        ];
      case 'CreateMultipartUpload':
        return [
          s3('s3:PutObject', object(input.Bucket, input.Key), conditional(input)),
          ...kmsVia('s3', 'kms:GenerateDataKey'),
        ];
      case 'UploadPart':
        return [s3('s3:PutObject', object(input.Bucket, input.Key))];
      case 'CompleteMultipartUpload':
        // S3 decrypts the parts' data keys to assemble the object.
        return [
          s3('s3:PutObject', object(input.Bucket, input.Key), conditional(input)),
          ...kmsVia('s3', 'kms:Decrypt'),
        ];
      case 'AbortMultipartUpload':
        return [s3('s3:AbortMultipartUpload', object(input.Bucket, input.Key))];
      case 'ListObjectsV2':
        return [s3('s3:ListBucket', bucketArn(input.Bucket), { 's3:prefix': input.Prefix ?? '' })];
      case 'DeleteObject':
        return [s3('s3:DeleteObject', object(input.Bucket, input.Key))];
    }
  }
  if (service === 'DynamoDB') {
    const table = `arn:${a.partition}:dynamodb:${a.region}:${a.accountId}:table/${input.TableName}`;
    // The table key is decrypted for every request; writes also encrypt item data keys.
    const read = kmsVia('dynamodb', 'kms:Decrypt', 'kms:DescribeKey');
    const write = [...read, ...kmsVia('dynamodb', 'kms:Encrypt', 'kms:GenerateDataKey')];
    const ddb = (action: string, resource = table): IamRequest => ({
      action: `dynamodb:${action}`,
      resource,
      context: {},
    });
    switch (command) {
      case 'GetItem':
      case 'Scan':
        return [ddb(command), ...read];
      case 'Query':
        return [ddb('Query', input.IndexName ? `${table}/index/${input.IndexName}` : table), ...read];
      case 'PutItem':
      case 'UpdateItem':
      case 'DeleteItem':
        return [ddb(command), ...write];
    }
  }
  if (service === 'SecretsManager' && command === 'GetSecretValue') {
    return [{ action: 'secretsmanager:GetSecretValue', resource: input.SecretId, context: {} }];
  }
  if (service === 'KMS' && (command === 'GenerateMac' || command === 'VerifyMac')) {
    // The task's own call (no kms:ViaService), on the key named by ARN.
    return [{ action: `kms:${command}`, resource: input.KeyId, context: { 'kms:CallerAccount': a.accountId } }];
  }
  throw new Error(`aws-calls.ts does not know what IAM checks for ${service} ${command}: add it to requestsOf.`);
}

const DOCUMENT_COMMANDS: Record<string, string> = {
  Get: 'GetItem',
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
};

export class AwsCallRecorder {
  readonly calls: RecordedCall[] = [];

  constructor(private readonly account: Account) {}

  /** Adds the recording middleware to each client; returns them for buildAwsTaskContext. */
  instrument(clients: AwsClients): AwsClients {
    this.attach(clients.s3, 'S3');
    this.attach(clients.dynamodb, 'DynamoDB');
    this.attach(clients.secretsManager, 'SecretsManager');
    this.attach(clients.kms, 'KMS');
    return clients;
  }

  /** Records a call made by the state machine itself (a Task integration, not a function). */
  record(callerName: string, operation: string, requests: IamRequest[]): void {
    this.calls.push({ caller: callerName, operation, requests });
  }

  private attach(client: { middlewareStack: { add: (mw: any, options: any) => void } }, service: string): void {
    client.middlewareStack.add(
      (next: (args: any) => Promise<any>, context: { commandName?: string }) => async (args: { input: Input }) => {
        const name = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        // lib-dynamodb's document commands (Get, Put …) name their low-level operation.
        const command = service === 'DynamoDB' ? (DOCUMENT_COMMANDS[name] ?? name) : name;
        const who = caller.getStore() ?? '(no task)';
        const input = { ...args.input };
        const add = (status: number) =>
          this.calls.push({
            caller: who,
            operation: `${service}.${command}`,
            requests: requestsOf(service, command, input, { status }, this.account),
          });
        try {
          const out = await next(args);
          add(200);
          return out;
        } catch (err) {
          add((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0);
          throw err;
        }
      },
      // Once per command, before retries: IAM authorizes each attempt alike.
      { step: 'initialize', name: 'tidemarkRecordAwsCalls' },
    );
  }
}
