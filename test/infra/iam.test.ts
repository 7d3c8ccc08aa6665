// Least privilege across the whole template, and cdk-nag's AwsSolutions checks.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionEntries } from '../../functions/index.ts';
import { TidemarkStack } from '../../infra/stack.ts';
import { nagAcknowledgements } from '../../infra/nag-suppressions.ts';
import { createTidemarkApp, FEATURE_FLAGS } from '../../infra/tidemark-app.ts';
import { exampleConfig, render, STATE_MACHINE_SERVICE_ACTIONS, synthesize, type Synthesized } from './support/synth.ts';

/** The only statements allowed a wildcard resource, and why. No action may be a wildcard. */
const ALLOWED_WILDCARDS: Array<{ policy: RegExp; actions: string[]; resource: RegExp; reason: string }> = [
  {
    policy: /^TasksNetworkInterfaces/,
    actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
    resource: /^\*$/,
    reason:
      'Lambda describes ENIs and subnets to attach VPC functions; EC2 Describe actions support no resource scoping',
  },
  {
    policy: /^TasksNetworkInterfaces/,
    actions: [
      'ec2:CreateNetworkInterface',
      'ec2:AssignPrivateIpAddresses',
      'ec2:DeleteNetworkInterface',
      'ec2:UnassignPrivateIpAddresses',
    ],
    resource: /^arn:aws:ec2:eu-west-1:123456789012:network-interface\/\*$/,
    reason:
      'ENIs Lambda creates at run time, in this account and region only (creation also bound to the subnets and the group)',
  },
  {
    policy: /^TasksTracing/,
    actions: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
    resource: /^\*$/,
    reason: "the Lambda runtime sends the functions' X-Ray segments; X-Ray supports no resource-level permissions",
  },
  {
    policy: /^Network(s3|dynamodb)PrefixListCustomResourcePolicy/,
    actions: ['ec2:DescribeManagedPrefixLists'],
    resource: /^\*$/,
    reason:
      'the deploy-time lookup of the S3 / DynamoDB prefix list ids; the action supports no resource-level permissions',
  },
  {
    policy: /^StateMachines\w+RoleDefaultPolicy/,
    actions: STATE_MACHINE_SERVICE_ACTIONS,
    resource: /^\*$/,
    reason:
      'Step Functions execution logging (vended log delivery) and X-Ray tracing support no resource-level permissions',
  },
  {
    policy: /^Tasks\w+RoleDefaultPolicy/,
    actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:DeleteObject'],
    resource: /^<RepositoryBucket\w+\.Arn>\/(runs|chunks|backups|collections|segments)\/\*$/,
    reason:
      'objects of one repository area: keys are content hashes and run ids made at run time (DeleteObject: gc only, a delete marker in a versioned bucket)',
  },
];

interface Finding {
  policy: string;
  action?: string;
  resource?: string;
}

/** Every wildcard in an Allow statement of an identity policy that the allow-list does not explain. */
function unexplainedWildcards(resources: Record<string, any>): Finding[] {
  const findings: Finding[] = [];
  for (const [id, r] of Object.entries(resources)) {
    const documents =
      r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy'
        ? [r.Properties.PolicyDocument]
        : r.Type === 'AWS::IAM::Role'
          ? (r.Properties.Policies ?? []).map((p: any) => p.PolicyDocument)
          : [];
    for (const statement of documents.flatMap((d: any) => d.Statement)) {
      if (statement.Effect !== 'Allow') continue;
      const actions: string[] = [statement.Action].flat();
      for (const action of actions.filter((a) => a.includes('*'))) findings.push({ policy: id, action });
      for (const resource of [statement.Resource]
        .flat()
        .map(render)
        .filter((x) => x.includes('*'))) {
        const entry = ALLOWED_WILDCARDS.find(
          (e) => e.policy.test(id) && e.resource.test(resource) && actions.every((a) => e.actions.includes(a)),
        );
        if (!entry) findings.push({ policy: id, resource });
      }
    }
  }
  return findings;
}

let s: Synthesized;
beforeAll(() => {
  s = synthesize();
});

describe('IAM policies', () => {
  it('have no wildcard action, and a wildcard resource only where the allow-list explains it', () => {
    expect(unexplainedWildcards(s.template.toJSON().Resources)).toEqual([]);
  });

  it('every allow-list entry is used and carries its reason', () => {
    const statements = Object.entries(s.template.toJSON().Resources as Record<string, any>)
      .filter(([, r]) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
      .flatMap(([id, r]) =>
        (r.Properties.PolicyDocument.Statement as any[]).map((x) => ({
          id,
          resources: [x.Resource].flat().map(render),
        })),
      );
    for (const entry of ALLOWED_WILDCARDS) {
      expect(entry.reason.length, String(entry.policy)).toBeGreaterThan(20);
      expect(
        statements.some((x) => entry.policy.test(x.id) && x.resources.some((r) => entry.resource.test(r))),
        String(entry.resource),
      ).toBe(true);
    }
  });

  it('the check is not a rubber stamp: it flags a wildcard action, a bucket-wide resource and "*"', () => {
    const resources = structuredClone(s.template.toJSON().Resources);
    const policy = Object.keys(resources).find((id) => id.startsWith('TasksBackupPlanRoleDefaultPolicy'))!;
    resources[policy].Properties.PolicyDocument.Statement.push(
      { Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::x' },
      {
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['RepositoryBucket2CB02AC6', 'Arn'] }, '/*']] },
      },
      { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: '*' },
    );
    expect(unexplainedWildcards(resources)).toEqual([
      { policy, action: 's3:*' },
      { policy, resource: '<RepositoryBucket2CB02AC6.Arn>/*' },
      { policy, resource: '*' },
    ]);
  });

  it('no role can be assumed by anything but Lambda, Step Functions or Scheduler', () => {
    const roles = Object.entries(s.template.findResources('AWS::IAM::Role')).flatMap(([id, r]) =>
      r.Properties.AssumeRolePolicyDocument.Statement.map((x: any) => [id, x.Principal.Service] as const),
    );
    expect(new Set(roles.map(([, p]) => p))).toEqual(
      new Set(['lambda.amazonaws.com', 'states.amazonaws.com', 'scheduler.amazonaws.com']),
    );
    // Lambda: one role per task, and CDK's custom-resource provider (the prefix-list lookups).
    expect(
      roles
        .filter(([, p]) => p === 'lambda.amazonaws.com')
        .map(([id]) => id.replace(/[0-9A-F]{8}$/, ''))
        .sort(),
    ).toEqual(
      [
        ...Object.keys(functionEntries).map((n) => `Tasks${n}Role`),
        'AWS679f53fac002430cb0da5b7982bd2287ServiceRole',
      ].sort(),
    );
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('finds nothing unacknowledged (errors or warnings)', () => {
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(s.stack);
    expect(
      report.violations.map(
        (v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
      ),
    ).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('each acknowledgement has a reason and still matches a finding of the bare stack', () => {
    // GIVEN the stack without its acknowledgements
    const app = new App({ context: { ...FEATURE_FLAGS, 'aws:cdk:bundling-stacks': [] } });
    const bare = new TidemarkStack(app, 'Bare', { env: s.config.env, config: s.config, functionEntries });
    // WHEN checked
    const found = new Set(new AwsSolutionsChecks().validateScope(bare).violations.map((v) => v.ruleName));
    // THEN every acknowledged finding exists there (none is stale), and nothing else does
    const acknowledged = new Set(
      nagAcknowledgements(bare)
        .map((a) => a.id)
        .filter((id) => id.startsWith('AwsSolutions-')),
    );
    expect([...found].sort()).toEqual([...acknowledged].sort());
    for (const ack of nagAcknowledgements(bare)) expect(ack.reason.length, ack.id).toBeGreaterThan(40);
  });

  it("runs in `cdk synth` with CDK's CloudFormation validation, and a violation fails synth", () => {
    // GIVEN the app exactly as infra/app.ts builds it (bundling aside)
    const outdir = mkdtempSync(join(tmpdir(), 'tidemark-nag-'));
    const clean = createTidemarkApp({ config: exampleConfig(), context: { 'aws:cdk:bundling-stacks': [] }, outdir });
    // THEN it synthesizes
    expect(() => clean.app.synth()).not.toThrow();
    // GIVEN the same app with a bucket that breaks AwsSolutions-S1/S10
    const dirtyOut = mkdtempSync(join(tmpdir(), 'tidemark-nag-'));
    const dirty = createTidemarkApp({
      config: exampleConfig(),
      context: { 'aws:cdk:bundling-stacks': [] },
      outdir: dirtyOut,
      cloudFormationValidation: false,
    });
    new s3.Bucket(dirty.stack, 'Careless');
    // THEN synth fails, and the report names the rules
    expect(() => dirty.app.synth()).toThrow(/server access logs disabled|Validation failed/);
    const report = readFileSync(join(dirtyOut, 'validation-report.json'), 'utf8');
    expect(report).toContain('AwsSolutions-S1');
    expect(report).toContain('AwsSolutions-S10');
  });
});
