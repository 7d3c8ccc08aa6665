// Grants proven by simulation (issue 14, item 1). The backup and restore state machines run
// locally on the very adapters a Lambda uses (S3 on s3rver, DynamoDB on dynalite, Secrets
// Manager and KMS on local stand-ins), with the input the EventBridge schedule sends; SDK middleware
// records every AWS call each task function makes. Each call is then evaluated by an IAM policy
// simulator against the synthesized role of the function that made it (with the bucket and key
// policies as resource policies; the repository key's own policy for its GenerateMac / VerifyMac): every call must be allowed, and every granted action must be
// used by some call or be listed below with its reason. The state machine roles likewise, for
// the functions and integrations their ASL calls. Nothing here asserts a grant by hand.
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FUNCTION_ENV } from '#adapters/aws-resources.ts';
import { createCatalogTable } from '#adapters/dynamodb-catalog.ts';
import { buildAwsTaskContext, createAwsClients } from '#functions/runtime/aws-context.ts';
import { runStateMachine, type StateMachineName } from '#local/state-machine-runner.ts';
import type { TaskContext } from '#core/task-context.ts';
import { backupRunInput } from '../../infra/constructs/backup-schedules.ts';
import { archiveRunInput } from '../../infra/constructs/change-archive.ts';
import { LogicalSlotStream } from '#adapters/postgres/logical-stream.ts';
import { enablePitr } from '#core/pitr/enable.ts';
import { archiveLeaseName } from '#core/pipelines/archive-lease.ts';
import { TASK_PROFILES, type TaskProfile } from '../../infra/task-profiles.ts';
import { functionEntries } from '../../functions/index.ts';
import { exampleConfig, STATE_MACHINE_SERVICE_ACTIONS, synthesize } from '../infra/support/synth.ts';
import { AwsCallRecorder, asCaller, currentCaller, type IamRequest, type RecordedCall } from '../support/aws-calls.ts';
import { stackPolicies, type StackPolicies } from '../support/stack-policies.ts';
import { startSecretsManager, type LocalSecretsManager } from '../support/local-secrets-manager.ts';
import { startKms, type LocalKms } from '../support/local-kms.ts';
import { startPostgres, SUPERUSER, SUPERUSER_PASSWORD, type PostgresServer } from '../support/postgres-server.ts';
import { startS3rver, S3RVER_CREDENTIALS, type LocalS3 } from '../support/s3rver.ts';
import { startDynalite, type LocalDynamoDb } from '../support/dynalite.ts';
import type { TidemarkConfig } from '../../infra/config.ts';

const TABLE = 'tidemark-grants';
const PREFIX = 'tidemark/';

/**
 * Granted actions no local run exercises, by role kind, each with the reason it is granted.
 * The test fails when one of these becomes used (then it needs no reason) or when a grant is
 * unused and not listed here.
 */
const UNUSED_GRANTS: Array<{ roles: RegExp; actions: string[]; reason: string }> = [
  {
    roles: /^Tasks/,
    actions: [
      'ec2:CreateNetworkInterface',
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeSubnets',
      'ec2:DeleteNetworkInterface',
      'ec2:AssignPrivateIpAddresses',
      'ec2:UnassignPrivateIpAddresses',
    ],
    reason: 'the Lambda service attaches VPC functions with the execution role; the function code never calls EC2',
  },
  {
    roles: /^Tasks/,
    actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    reason: 'the Lambda runtime writes the function log group',
  },
  {
    roles: /^Tasks/,
    actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
    reason: 'the Lambda runtime sends the traces',
  },
  {
    roles: /^Tasks/,
    actions: ['s3:AbortMultipartUpload'],
    reason: 'S3Storage aborts a multipart upload whose part failed; a successful run never does',
  },
  {
    roles: /^Tasks/,
    actions: ['s3:ListBucket'],
    reason:
      'without it S3 answers a read of a missing object with 403, not 404: the task could not tell "missing" (ObjectNotFoundError, naming the object) from "denied"',
  },
  {
    roles: /^TasksMaintenanceGc/,
    actions: ['dynamodb:UpdateItem'],
    reason:
      'marks runs that can never commit failed, and completes in the catalog an expire that died after its tombstone',
  },
  {
    roles: /^TasksBackupFail/,
    actions: ['s3:PutObject', 'kms:GenerateDataKey', 'kms:GenerateMac', 'kms:VerifyMac'],
    reason:
      'releases the snapshot when the run failed before ReleaseAfterFailure could (the hold itself failed), reading the repository marker before that document',
  },
  {
    roles: /^StateMachines/,
    actions: STATE_MACHINE_SERVICE_ACTIONS,
    reason: 'Step Functions delivers execution logs and X-Ray traces with the role; the ASL calls neither',
  },
];

let server: PostgresServer;
let s3: LocalS3;
let dynamo: LocalDynamoDb;
let secrets: LocalSecretsManager;
let kms: LocalKms;
let config: TidemarkConfig;
let policies: StackPolicies;
let recorder: AwsCallRecorder;
let ctx: TaskContext;
/** One context per function, as each Lambda function has its own containers (and secret cache). */
const containers = new Map<string, TaskContext>();

/** The example deployment, repository under a prefix, with one source that is down. */
function testConfig(): TidemarkConfig {
  const base = exampleConfig();
  const down = {
    ...base.sources[1]!,
    id: 'down',
    secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tidemark/down-Mn78Op',
  };
  const collections = base.collections.map((c, i) => (i === 0 ? { ...c, retention: { keepLast: 1 } } : c));
  return { ...base, repository: { ...base.repository, prefix: PREFIX }, sources: [...base.sources, down], collections };
}

function rdsSecret(database: string, port = server.port, user = SUPERUSER, password = SUPERUSER_PASSWORD): string {
  return JSON.stringify({
    engine: 'postgres',
    host: '127.0.0.1',
    port,
    username: user,
    password,
    dbname: database,
    sslmode: 'disable',
  });
}

beforeAll(async () => {
  [server, s3, dynamo, secrets, kms] = await Promise.all([
    startPostgres({ major: 15 }),
    startS3rver(),
    startDynalite(),
    startSecretsManager(),
    startKms(),
  ]);
  config = testConfig();
  const synthesized = synthesize(config);
  policies = stackPolicies(synthesized.template, {
    bucket: s3.bucket,
    table: TABLE,
    account: { partition: 'aws', region: config.env.region, accountId: config.env.account },
  });
  await createCatalogTable(dynamo.client(), TABLE);
  // The synthesized repository key, by the ARN it will have once deployed.
  kms.addKey(policies.account.macKeyArn);

  await server.createDatabase('orders');
  await server.sql(
    `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
     CREATE TABLE orders (id bigserial PRIMARY KEY, customer int REFERENCES customers, total numeric(12,2), note text);
     INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 2000) g;
     INSERT INTO orders (customer, total, note) SELECT 1 + g % 2000, g / 100.0, md5(g::text) FROM generate_series(1, 50000) g;`,
    'orders',
  );
  // The billing role may connect but not read: its backups fail in Plan, after StartBackup.
  await server.createDatabase('billing');
  await server.sql(
    `CREATE TABLE invoices (id int PRIMARY KEY); CREATE ROLE billing_reader LOGIN PASSWORD 'reader-pw';`,
    'billing',
  );
  const [orders, billing, down] = config.sources;
  secrets.secrets.set(orders!.secretArn, rdsSecret('orders'));
  secrets.secrets.set(billing!.secretArn, rdsSecret('billing', server.port, 'billing_reader', 'reader-pw'));
  secrets.secrets.set(down!.secretArn, rdsSecret('down', 9));
  secrets.secrets.set(config.restoreTargets[0]!.secretArn, rdsSecret('postgres'));

  const env: Record<string, string> = {
    [FUNCTION_ENV.bucket]: s3.bucket,
    [FUNCTION_ENV.prefix]: PREFIX,
    [FUNCTION_ENV.catalogTable]: TABLE,
    [FUNCTION_ENV.macKeyArn]: policies.account.macKeyArn,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
    AWS_ENDPOINT_URL_KMS: kms.endpoint,
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_REGION: config.env.region,
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  recorder = new AwsCallRecorder(policies.account);
  const container = (): TaskContext => {
    const fn = currentCaller();
    if (!fn) throw new Error('a port was used outside a task function');
    let c = containers.get(fn);
    if (!c) containers.set(fn, (c = buildAwsTaskContext(process.env, recorder.instrument(createAwsClients()))));
    return c;
  };
  ctx = {
    get storage() {
      return container().storage;
    },
    get catalog() {
      return container().catalog;
    },
    get databases() {
      return container().databases;
    },
    progress: () => {},
    maxSnapshotHoldSeconds: 840,
  };

  const scheduled = backupRunInput(config.collections[0]!, orders!);
  // The schedule's input, verbatim: a full backup, then an incremental one on it.
  await run('backup', scheduled);
  await server.sql(
    `UPDATE orders SET note = 'changed' WHERE id % 50 = 0; INSERT INTO customers VALUES (2001, 'new')`,
    'orders',
  );
  const incremental = await run('backup', scheduled);
  expect(incremental.backupId).toBeDefined();
  // The console's disaster-recovery input (docs/deploy.md), into a new database.
  const target = { credentials: config.restoreTargets[0]!.secretArn, database: 'orders_restored' };
  await run('restore', { backup: 'latest', target, options: { workers: 2 } });
  // Failures: a source that is down (StartBackup), one the role cannot read (Plan, then
  // MarkBackupFailed), a restore into a database that is not empty (Prepare, then MarkRestoreFailed).
  await expect(run('backup', { source: { credentials: down!.secretArn, database: 'down' } })).rejects.toThrow(
    /connection refused/,
  );
  await expect(
    run('backup', {
      source: { credentials: billing!.secretArn, database: 'billing' },
      options: { snapshotHoldSeconds: 600, workers: 2, plan: {} },
    }),
  ).rejects.toThrow(/SELECT/);
  await expect(run('restore', { backup: 'latest', target, options: { workers: 2 } })).rejects.toThrow(/not empty/);
  // A malformed restore input: Resolve refuses it before any record exists; the fail step creates one.
  await expect(run('restore', { backup: 'latest', target, options: { workers: 'four' } })).rejects.toThrow(
    /options.workers/,
  );
  // Maintenance of the collection (keep the last backup: the first one expires and gc removes
  // what only it needed), then one that fails (no such collection).
  const maintained = await run('maintenance', { collection: config.collections[0]!.name });
  expect(maintained).toMatchObject({ expired: 1, gc: { manifestsRemoved: 1 } });
  await expect(run('maintenance', { collection: 'nope' })).rejects.toThrow(/nope/);
  // The change archive of the collection, as its schedule starts it: PITR enabled on the source
  // outside any task (the CLI's work), then two runs with writes before each, one that finds
  // another run's drainer lease (reads it, archives nothing), and one of a collection without an
  // archive.
  const setup = buildAwsTaskContext(process.env);
  const source = { credentials: orders!.secretArn, database: 'orders' };
  const [session, streamSession] = [await setup.databases.connect(source), await setup.databases.connect(source)];
  await enablePitr(session, new LogicalSlotStream(streamSession), setup.storage, config.collections[0]!.name);
  await Promise.all([session.close(), streamSession.close()]);
  await run('backup', scheduled); // the chain's base backup
  for (const round of [1, 2]) {
    await server.sql(`UPDATE orders SET note = 'archived ${round}' WHERE id % 100 = 0`, 'orders');
    expect(await run('archive', archiveRunInput(config.collections[0]!, orders!))).toMatchObject({ caughtUp: true });
  }
  // A point-in-time restore (ReplayChanges reads the segments and replays into the target).
  const atPoint = await run('restore', {
    collection: config.collections[0]!.name,
    to: 'latest',
    target: { ...target, database: 'orders_at_point' },
    options: { workers: 2 },
  });
  expect(atPoint.pointInTime.transactions).toBe(2);
  const now = new Date();
  const lease = {
    name: archiveLeaseName(config.collections[0]!.name),
    owner: 'another-run',
    purpose: 'pitr archive',
    acquiredAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + 300_000).toISOString(),
  };
  expect(await setup.catalog.acquireLease(lease, now)).toBeUndefined();
  expect(await run('archive', archiveRunInput(config.collections[0]!, orders!))).toHaveProperty('skipped');
  await setup.catalog.releaseLease(lease.name, lease.owner);
  await expect(run('archive', archiveRunInput(config.collections[1]!, billing!))).rejects.toThrow(/no change archive/);
}, 300_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await Promise.allSettled([server?.stop(), s3?.stop(), dynamo?.stop(), secrets?.stop(), kms?.stop()]);
});

const MACHINE_IDS: Record<StateMachineName, string> = {
  backup: 'Backup',
  restore: 'Restore',
  maintenance: 'Maintenance',
  archive: 'Archive',
};

/** Runs a state machine, recording each function's calls and the machine's own calls. */
async function run(machine: StateMachineName, input: unknown): Promise<any> {
  const role = `StateMachine:${MACHINE_IDS[machine]}`;
  const bus = policies.arnOf('AWS::Events::EventBus', 'StateMachinesEvents');
  return runStateMachine(machine, input, ctx, {
    aroundTask: (fn, invoke) => {
      recorder.record(role, 'Lambda.Invoke', [
        {
          action: 'lambda:InvokeFunction',
          resource: policies.arnOf('AWS::Lambda::Function', `Tasks${fn}`),
          context: {},
        },
      ]);
      return asCaller(fn, invoke);
    },
    onEvent: () =>
      recorder.record(role, 'EventBridge.PutEvents', [{ action: 'events:PutEvents', resource: bus, context: {} }]),
  });
}

function roleOf(p: StackPolicies, callerName: string): string {
  return callerName.startsWith('StateMachine:')
    ? p.stateMachineRole(callerName.slice('StateMachine:'.length))
    : p.functionRole(callerName);
}

interface Decision {
  caller: string;
  operation: string;
  request: IamRequest;
  allowed: boolean;
}

async function evaluate(p: StackPolicies, calls: RecordedCall[]): Promise<Decision[]> {
  const decisions: Decision[] = [];
  const seen = new Map<string, boolean>();
  for (const call of calls) {
    for (const request of call.requests) {
      const key = JSON.stringify([call.caller, request]);
      let allowed = seen.get(key);
      if (allowed === undefined) {
        const roleId = roleOf(p, call.caller);
        const principal = `arn:aws:iam::${p.account.accountId}:role/${roleId.toLowerCase()}`;
        const resourcePolicy = request.action.startsWith('s3:')
          ? p.bucketPolicy
          : request.action.startsWith('kms:')
            ? request.resource === p.account.macKeyArn
              ? p.macKeyPolicy
              : p.keyPolicy
            : undefined;
        const simulation: Simulation = {
          identityPolicies: p.rolePolicies(roleId).map((x) => ({ name: x.name, policy: x.policy as any })),
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          ...(resourcePolicy ? { resourcePolicy: resourcePolicy as any } : {}),
          request: {
            action: request.action,
            principal,
            resource: { accountId: p.account.accountId, resource: request.resource },
            // AWS sets it to the role's ARN; the key policy's GenerateMac deny tests it.
            contextVariables: { 'aws:PrincipalArn': principal, ...request.context },
          },
        };
        const result = await runSimulation(simulation, {});
        if (result.resultType === 'error')
          throw new Error(
            `the simulator rejected ${call.operation} by ${call.caller}: ${JSON.stringify(result.errors)}`,
          );
        allowed = result.overallResult === 'Allowed';
        seen.set(key, allowed);
      }
      decisions.push({ caller: call.caller, operation: call.operation, request, allowed });
    }
  }
  return decisions;
}

const describeDenied = (d: Decision) =>
  `${d.caller}: ${d.operation} needs ${d.request.action} on ${d.request.resource}${Object.keys(d.request.context).length ? ` ${JSON.stringify(d.request.context)}` : ''}`;

/** Allowed actions of each role's identity policies. */
function grantedActions(p: StackPolicies, roleId: string): Set<string> {
  const actions = new Set<string>();
  for (const { policy } of p.rolePolicies(roleId)) {
    for (const s of policy.Statement)
      if (s.Effect === 'Allow') for (const a of [s.Action].flat() as string[]) actions.add(a);
  }
  return actions;
}

describe('every AWS call a task makes is allowed by its synthesized role', () => {
  let decisions: Decision[];
  beforeAll(async () => {
    decisions = await evaluate(policies, recorder.calls);
  });

  it('the runs reached every task function and both machines, through S3, DynamoDB, Secrets Manager and KMS', () => {
    const callers = new Set(recorder.calls.map((c) => c.caller));
    for (const name of Object.keys(functionEntries)) expect(callers, `${name} made no AWS call`).toContain(name);
    expect(callers).toContain('StateMachine:Backup');
    expect(callers).toContain('StateMachine:Restore');
    expect(callers).toContain('StateMachine:Maintenance');
    expect(callers).toContain('StateMachine:Archive');
    for (const op of ['S3.DeleteObject', 'S3.ListObjectsV2', 'DynamoDB.DeleteItem'])
      expect(new Set(recorder.calls.map((c) => c.operation)), op).toContain(op);
    const operations = new Set(recorder.calls.map((c) => c.operation));
    for (const op of [
      'S3.GetObject',
      'S3.HeadObject',
      'S3.PutObject',
      'DynamoDB.GetItem',
      'DynamoDB.Query',
      'DynamoDB.PutItem',
      'DynamoDB.UpdateItem',
      'SecretsManager.GetSecretValue',
      'KMS.GenerateMac',
      'KMS.VerifyMac',
      'EventBridge.PutEvents',
    ]) {
      expect(operations, op).toContain(op);
    }
    // The scheduled backup needed its source's secret in StartBackup (the grant that was missing).
    expect(
      recorder.calls.some((c) => c.caller === 'BackupStart' && c.operation === 'SecretsManager.GetSecretValue'),
    ).toBe(true);
    // The first StartBackup found no repository marker and put it; later ones read it.
    const onMarker = recorder.calls
      .filter((c) => c.requests.some((r) => r.resource === `arn:aws:s3:::${s3.bucket}/${PREFIX}tidemark.json`))
      .map((c) => `${c.caller} ${c.operation}`);
    expect(onMarker.slice(0, 3)).toEqual([
      'BackupStart S3.GetObject',
      'BackupStart S3.PutObject',
      'BackupStart S3.GetObject',
    ]);
    // Every other task that touched a document read the marker once, in its container, before the
    // first one (aws-context.ts binds the container to the repository it names); none put it.
    const others = onMarker.filter((c) => !c.startsWith('BackupStart '));
    expect(others.every((c) => c.endsWith(' S3.GetObject'))).toBe(true);
    expect(others.length).toBe(new Set(others).size);
    expect(new Set(others.map((c) => c.split(' ')[0]))).toEqual(
      new Set(Object.keys(functionEntries).filter((n) => !['BackupStart', 'BackupFail', 'RestoreFail'].includes(n))),
    );
  });

  it('no call is denied', () => {
    expect(decisions.filter((d) => !d.allowed).map(describeDenied)).toEqual([]);
  });

  it('every granted action is used by some call, or listed with its reason', () => {
    const roles = [
      ...Object.keys(functionEntries).map((name) => [name, policies.functionRole(name)]),
      ...Object.values(MACHINE_IDS).map((id) => [`StateMachine:${id}`, policies.stateMachineRole(id)]),
    ];
    const unexplained: string[] = [];
    const reasonsUsed = new Set<number>();
    for (const [callerName, roleId] of roles) {
      const used = new Set(decisions.filter((d) => d.caller === callerName && d.allowed).map((d) => d.request.action));
      for (const action of grantedActions(policies, roleId!)) {
        if (used.has(action)) continue;
        const reason = UNUSED_GRANTS.findIndex((r) => r.roles.test(roleId!) && r.actions.includes(action));
        if (reason < 0) unexplained.push(`${callerName} is granted ${action}, which no call used`);
        else reasonsUsed.add(reason);
      }
    }
    expect(unexplained).toEqual([]);
    // A reason no unused grant needs any more is stale: remove it.
    expect(UNUSED_GRANTS.filter((_, i) => !reasonsUsed.has(i)).map((r) => r.reason)).toEqual([]);
  });

  it('has teeth: without one grant of one task, the same calls are denied, naming it', async () => {
    const weakened: Record<string, TaskProfile> = { ...TASK_PROFILES };
    const commit = TASK_PROFILES.BackupCommit!;
    weakened.BackupCommit = {
      ...commit,
      access: { ...commit.access, catalog: commit.access.catalog!.filter((a) => a !== 'GetItem') },
    };
    const p = stackPolicies(synthesize(config, { profiles: weakened }).template, {
      bucket: s3.bucket,
      table: TABLE,
      account: { partition: 'aws', region: config.env.region, accountId: config.env.account },
    });
    const denied = (
      await evaluate(
        p,
        recorder.calls.filter((c) => c.caller === 'BackupCommit'),
      )
    ).filter((d) => !d.allowed);
    expect(denied.length).toBeGreaterThan(0);
    expect(new Set(denied.map((d) => `${d.caller} ${d.request.action}`))).toEqual(
      new Set(['BackupCommit dynamodb:GetItem']),
    );
  });

  it('has teeth for the repository key: a reading task without kms:VerifyMac is denied exactly that, on the key', async () => {
    // Every document a restore acts on is verified with the repository key (DESIGN.md invariant 10).
    const loadRole = policies.functionRole('RestoreLoadBatch');
    const weakened: StackPolicies = {
      ...policies,
      rolePolicies: (roleId) =>
        policies.rolePolicies(roleId).map((x) =>
          roleId !== loadRole
            ? x
            : {
                ...x,
                policy: {
                  ...x.policy,
                  Statement: x.policy.Statement.filter((st) => st.Sid !== 'DocumentAuthentication'),
                },
              },
        ),
    };
    expect(grantedActions(policies, loadRole)).toContain('kms:VerifyMac');
    expect(grantedActions(weakened, loadRole)).not.toContain('kms:VerifyMac');
    const denied = (
      await evaluate(
        weakened,
        recorder.calls.filter((c) => c.caller === 'RestoreLoadBatch'),
      )
    ).filter((d) => !d.allowed);
    expect(new Set(denied.map((d) => `${d.caller} ${d.request.action} ${d.request.resource}`))).toEqual(
      new Set([`RestoreLoadBatch kms:VerifyMac ${policies.account.macKeyArn}`]),
    );
  });

  it('no task function MACs or verifies with the data key, or uses the repository key for anything else', () => {
    const onMacKey = decisions
      .filter((d) => d.request.resource === policies.account.macKeyArn)
      .map((d) => d.request.action);
    expect(new Set(onMacKey)).toEqual(new Set(['kms:GenerateMac', 'kms:VerifyMac']));
    expect(
      decisions.filter((d) => /Mac$/.test(d.request.action) && d.request.resource !== policies.account.macKeyArn),
    ).toEqual([]);
  });
});
