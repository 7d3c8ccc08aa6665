// The policies of a synthesized Tidemark stack, with every CloudFormation intrinsic resolved to
// the ARN it will have once deployed — given the names the local servers use for the bucket and
// the table — so that the IAM simulator can evaluate recorded calls against them.
import type { Template } from 'aws-cdk-lib/assertions';
import type { Account } from './aws-calls.ts';

export interface PolicyDocument {
  Version: string;
  Statement: Array<Record<string, unknown>>;
}

export interface NamedPolicy {
  name: string;
  policy: PolicyDocument;
}

export interface DeployedNames {
  bucket: string;
  table: string;
  account: Omit<Account, 'keyArn' | 'macKeyArn'>;
}

export interface StackPolicies {
  account: Account;
  /** Identity policies of each role, by role logical id. */
  rolePolicies(roleLogicalId: string): NamedPolicy[];
  /** The role of the task function `name` (functions/index.ts). */
  functionRole(name: string): string;
  /** The role of state machine `Backup` / `Restore` / … */
  stateMachineRole(id: string): string;
  bucketPolicy: PolicyDocument | undefined;
  keyPolicy: PolicyDocument | undefined;
  /** The repository key's (the HMAC key that authenticates documents). */
  macKeyPolicy: PolicyDocument;
  /** ARN of a resource by logical id prefix: functions, buses, topics. */
  arnOf(type: string, logicalIdPrefix: string): string;
}

export function stackPolicies(template: Template, names: DeployedNames): StackPolicies {
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: any }>;
  const { partition, region, accountId } = names.account;
  const keyId = logicalId(resources, 'AWS::KMS::Key', 'RepositoryKey');
  const keyArn = `arn:${partition}:kms:${region}:${accountId}:key/${keyId.toLowerCase()}`;
  const macKeyId = logicalId(resources, 'AWS::KMS::Key', 'RepositoryMacKey');
  const macKeyArn = `arn:${partition}:kms:${region}:${accountId}:key/${macKeyId.toLowerCase()}`;
  const pseudo: Record<string, string> = {
    'AWS::Partition': partition,
    'AWS::Region': region,
    'AWS::AccountId': accountId,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': 'Tidemark',
  };

  /** [Ref, Arn] of a resource once deployed. */
  function physical(id: string): { ref: string; arn: string } {
    const r = resources[id];
    if (!r) throw new Error(`no resource ${id} in the template`);
    const name = id.toLowerCase();
    switch (r.Type) {
      case 'AWS::S3::Bucket': {
        const bucket = id.startsWith('RepositoryBucket') ? names.bucket : `${name}-bucket`;
        return { ref: bucket, arn: `arn:${partition}:s3:::${bucket}` };
      }
      case 'AWS::DynamoDB::Table':
      case 'AWS::DynamoDB::GlobalTable':
        return { ref: names.table, arn: `arn:${partition}:dynamodb:${region}:${accountId}:table/${names.table}` };
      case 'AWS::KMS::Key':
        return {
          ref: name,
          arn:
            id === keyId
              ? keyArn
              : id === macKeyId
                ? macKeyArn
                : `arn:${partition}:kms:${region}:${accountId}:key/${name}`,
        };
      case 'AWS::Lambda::Function':
        return { ref: name, arn: `arn:${partition}:lambda:${region}:${accountId}:function:${name}` };
      case 'AWS::Logs::LogGroup':
        return { ref: name, arn: `arn:${partition}:logs:${region}:${accountId}:log-group:${name}:*` };
      case 'AWS::Events::EventBus':
        return { ref: name, arn: `arn:${partition}:events:${region}:${accountId}:event-bus/${name}` };
      case 'AWS::SNS::Topic':
        return {
          ref: `arn:${partition}:sns:${region}:${accountId}:${name}`,
          arn: `arn:${partition}:sns:${region}:${accountId}:${name}`,
        };
      case 'AWS::SQS::Queue':
        return {
          ref: `https://sqs.${region}.amazonaws.com/${accountId}/${name}`,
          arn: `arn:${partition}:sqs:${region}:${accountId}:${name}`,
        };
      case 'AWS::StepFunctions::StateMachine':
        return {
          ref: `arn:${partition}:states:${region}:${accountId}:stateMachine:${name}`,
          arn: `arn:${partition}:states:${region}:${accountId}:stateMachine:${name}`,
        };
      case 'AWS::IAM::Role':
        return { ref: name, arn: `arn:${partition}:iam::${accountId}:role/${name}` };
      case 'AWS::IAM::ManagedPolicy':
        return {
          ref: `arn:${partition}:iam::${accountId}:policy/${name}`,
          arn: `arn:${partition}:iam::${accountId}:policy/${name}`,
        };
      default:
        return { ref: name, arn: `arn:${partition}:unknown:${region}:${accountId}:${name}` };
    }
  }

  function resolve(value: unknown): any {
    if (Array.isArray(value)) return value.map(resolve);
    if (!value || typeof value !== 'object') return value;
    const v = value as Record<string, any>;
    if ('Ref' in v) return pseudo[v.Ref] ?? physical(v.Ref).ref;
    if ('Fn::GetAtt' in v) {
      const [id, attribute] = v['Fn::GetAtt'] as [string, string];
      if (attribute === 'Arn') return physical(id).arn;
      if (attribute === 'Name' || attribute === 'TopicName') return physical(id).ref;
      // The task security group, which ec2:CreateNetworkInterface is scoped to.
      if (attribute === 'GroupId') return `sg-${id.toLowerCase()}`;
      throw new Error(`stack-policies.ts cannot resolve ${id}.${attribute}`);
    }
    if ('Fn::Join' in v) return (resolve(v['Fn::Join'][1]) as string[]).join(v['Fn::Join'][0]);
    if ('Fn::Sub' in v)
      return String(v['Fn::Sub']).replace(
        /\$\{([\w:.]+)\}/g,
        (_, name: string) => pseudo[name] ?? physical(name.split('.')[0]!).arn,
      );
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
  }

  const policy = (doc: unknown): PolicyDocument => resolve(doc) as PolicyDocument;

  return {
    account: { ...names.account, keyArn, macKeyArn },
    rolePolicies(roleId: string): NamedPolicy[] {
      const attached: NamedPolicy[] = [];
      for (const [id, r] of Object.entries(resources)) {
        if (r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as unknown[]).some((x: any) => x.Ref === roleId))
          attached.push({ name: id, policy: policy(r.Properties.PolicyDocument) });
      }
      const role = resources[roleId]!;
      for (const ref of role.Properties.ManagedPolicyArns ?? []) {
        const id = (ref as { Ref?: string }).Ref;
        if (!id) throw new Error(`${roleId} has a managed policy that is not this stack's: ${JSON.stringify(ref)}`);
        attached.push({ name: id, policy: policy(resources[id]!.Properties.PolicyDocument) });
      }
      for (const inline of role.Properties.Policies ?? [])
        attached.push({ name: `${roleId}/${inline.PolicyName}`, policy: policy(inline.PolicyDocument) });
      return attached;
    },
    functionRole: (name) => logicalId(resources, 'AWS::IAM::Role', `Tasks${name}Role`),
    stateMachineRole: (id) => logicalId(resources, 'AWS::IAM::Role', `StateMachines${id}Role`),
    bucketPolicy: (() => {
      const id = Object.keys(resources).find(
        (k) => resources[k]!.Type === 'AWS::S3::BucketPolicy' && k.startsWith('RepositoryBucketPolicy'),
      );
      return id ? policy(resources[id]!.Properties.PolicyDocument) : undefined;
    })(),
    keyPolicy: policy(resources[keyId]!.Properties.KeyPolicy),
    macKeyPolicy: policy(resources[macKeyId]!.Properties.KeyPolicy),
    arnOf: (type, prefix) => physical(logicalId(resources, type, prefix)).arn,
  };
}

function logicalId(resources: Record<string, { Type: string }>, type: string, prefix: string): string {
  const ids = Object.keys(resources).filter(
    (id) => resources[id]!.Type === type && id.startsWith(prefix) && /^[0-9A-F]{8}$/.test(id.slice(prefix.length)),
  );
  if (ids.length !== 1)
    throw new Error(`expected one ${type} named ${prefix}<hash>, found ${ids.join(', ') || 'none'}`);
  return ids[0]!;
}
