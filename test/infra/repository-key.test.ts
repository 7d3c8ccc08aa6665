// The repository key in AWS (DESIGN.md invariant 10): a KMS HMAC key that authenticates every
// document, which only the break-glass role may disable, delete or re-policy, and which each task
// may use only the way its task needs: GenerateMac to write documents, VerifyMac to read them.
import { beforeAll, describe, expect, it } from 'vitest';
import { functionEntries } from '../../functions/index.ts';
import { BREAK_GLASS_KEY_ACTIONS } from '../../infra/constructs/repository-protection.ts';
import type { StackPolicies } from '../support/stack-policies.ts';
import { ACCOUNT, decide, deployedPolicies } from './support/simulate.ts';
import { logicalIdOf, statementsOfRole, synthesize, type Synthesized } from './support/synth.ts';

let s: Synthesized;
let p: StackPolicies;
let macKeyId: string;
let dataKeyId: string;
const roleId = (name: string) => logicalIdOf(s.template, 'AWS::IAM::Role', `Tasks${name}Role`);
const administrator = `arn:aws:iam::${ACCOUNT.accountId}:role/Administrator`;

beforeAll(() => {
  // GIVEN the stack synthesized from the example configuration
  s = synthesize();
  p = deployedPolicies(s.template);
  macKeyId = logicalIdOf(s.template, 'AWS::KMS::Key', 'RepositoryMacKey');
  dataKeyId = logicalIdOf(s.template, 'AWS::KMS::Key', 'RepositoryKey');
});

/** The tasks that put documents (plans, results, snapshots, manifests, markers, tombstones, collections). */
const WRITERS = [
  'BackupStart',
  'BackupHoldSnapshot',
  'BackupPlan',
  'BackupExportBatch',
  'BackupReleaseSnapshot',
  'BackupCommit',
  'BackupFail',
  'MaintenanceExpire',
  'PitrArchive',
];
/**
 * The tasks that read documents: every writer too, as each reads the repository marker before its
 * first document (aws-context.ts). RestoreFail touches none.
 */
const READERS = [
  'BackupStart',
  'BackupHoldSnapshot',
  'BackupReleaseSnapshot',
  'BackupFail',
  'BackupAwaitSnapshot',
  'BackupPlan',
  'BackupExportBatch',
  'BackupCommit',
  'RestoreResolve',
  'RestorePrepare',
  'RestoreLoadBatch',
  'RestoreFinish',
  'RestoreVerifyBatch',
  'RestoreComplete',
  'MaintenanceExpire',
  'MaintenanceGc',
  'PitrArchive',
  'RestoreReplay',
];

describe('the repository key', () => {
  it('is an HMAC_256 key for GENERATE_VERIFY_MAC that outlives the stack, apart from the data key', () => {
    const key = s.template.toJSON().Resources[macKeyId];
    expect(key).toMatchObject({
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' },
    });
    // KMS rotates no HMAC key: asking for it would fail the deployment.
    expect(key.Properties.EnableKeyRotation).toBeUndefined();
    expect(macKeyId).not.toBe(dataKeyId);
    expect(s.template.toJSON().Resources[dataKeyId].Properties.KeySpec).toBeUndefined();
  });

  it('only the break-glass role may disable it, schedule its deletion or change its policy', async () => {
    expect(s.template.toJSON().Resources[macKeyId].Properties.KeyPolicy.Statement).toContainEqual({
      Sid: 'BreakGlassOnlyDisablesOrDeletes',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: [...BREAK_GLASS_KEY_ACTIONS].sort(),
      Resource: '*',
      Condition: { ArnNotEquals: { 'aws:PrincipalArn': s.config.breakGlassRoleArn } },
    });
    const call = (action: string, principal: string) =>
      decide({ principal, action, resource: p.account.macKeyArn, resourcePolicy: p.macKeyPolicy });
    for (const action of BREAK_GLASS_KEY_ACTIONS) {
      expect(await call(action, administrator), action).toBe('ExplicitlyDenied');
      expect(await call(action, s.config.breakGlassRoleArn), action).toBe('Allowed');
    }
    // AND verifying stays with IAM: a principal granted VerifyMac may verify
    expect(await call('kms:VerifyMac', administrator)).toBe('Allowed');
  });

  it('no principal but the tasks that write documents may make a MAC with it: not an administrator, not the break-glass role', async () => {
    const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT.accountId}:role/${roleId(name).toLowerCase()}`;
    const statement = s.template
      .toJSON()
      .Resources[macKeyId].Properties.KeyPolicy.Statement.find((x: any) => x.Sid === 'OnlyDocumentWritersMac');
    expect(statement).toMatchObject({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'kms:GenerateMac',
      Resource: '*',
    });
    expect(statement.Condition.ArnNotEquals['aws:PrincipalArn'].map((x: any) => x['Fn::GetAtt'][0]).sort()).toEqual(
      WRITERS.map(roleId).sort(),
    );
    const mac = (principal: string) =>
      decide({ principal, action: 'kms:GenerateMac', resource: p.account.macKeyArn, resourcePolicy: p.macKeyPolicy });
    expect(await mac(administrator)).toBe('ExplicitlyDenied');
    expect(await mac(s.config.breakGlassRoleArn)).toBe('ExplicitlyDenied');
    expect(await mac(roleArn('RestoreLoadBatch'))).toBe('ExplicitlyDenied');
    for (const writer of WRITERS) expect(await mac(roleArn(writer)), writer).toBe('Allowed');
  });

  it("is an output, for a configured KMS endpoint's policy", () => {
    expect(s.template.findOutputs('RepositoryMacKeyArn').RepositoryMacKeyArn.Value).toEqual({
      'Fn::GetAtt': [macKeyId, 'Arn'],
    });
  });

  it('is named to every task function', () => {
    for (const name of Object.keys(functionEntries)) {
      const fn = s.template.toJSON().Resources[logicalIdOf(s.template, 'AWS::Lambda::Function', `Tasks${name}`)];
      expect(fn.Properties.Environment.Variables.TIDEMARK_KMS_MAC_KEY_ARN, name).toEqual({
        'Fn::GetAtt': [macKeyId, 'Arn'],
      });
    }
  });

  it('GenerateMac goes to the tasks that write documents, VerifyMac to those that read them, on this key only and never through a wildcard', async () => {
    const granted = (action: string) =>
      Object.keys(functionEntries).filter((name) =>
        statementsOfRole(s.template, roleId(name)).some((st) => st.Action.includes(action)),
      );
    expect(granted('kms:GenerateMac').sort()).toEqual([...WRITERS].sort());
    expect(granted('kms:VerifyMac').sort()).toEqual([...READERS].sort());
    for (const name of Object.keys(functionEntries)) {
      for (const st of statementsOfRole(s.template, roleId(name)).filter((x) =>
        x.Action.some((a) => a.endsWith('Mac')),
      )) {
        expect(st, name).toMatchObject({ Sid: 'DocumentAuthentication', Resource: [`<${macKeyId}.Arn>`] });
        expect(st.Condition, name).toBeUndefined();
      }
    }
    // AND, simulated: a restore task may verify but not forge; the backup commit may seal a manifest
    const identity = (name: string) => p.rolePolicies(roleId(name))[0]!.policy;
    const use = (name: string, action: string) =>
      decide({
        principal: `arn:aws:iam::${ACCOUNT.accountId}:role/${roleId(name).toLowerCase()}`,
        identity: identity(name),
        action,
        resource: p.account.macKeyArn,
        resourcePolicy: p.macKeyPolicy,
      });
    expect(await use('RestoreLoadBatch', 'kms:VerifyMac')).toBe('Allowed');
    // (no grant, and the key policy's OnlyDocumentWritersMac denies it outright)
    expect(await use('RestoreLoadBatch', 'kms:GenerateMac')).toBe('ExplicitlyDenied');
    expect(await use('BackupCommit', 'kms:GenerateMac')).toBe('Allowed');
    expect(await use('RestoreFail', 'kms:VerifyMac')).toBe('ImplicitlyDenied');
    // AND no task may MAC with the data key
    expect(
      await decide({
        principal: `arn:aws:iam::${ACCOUNT.accountId}:role/${roleId('BackupCommit').toLowerCase()}`,
        identity: identity('BackupCommit'),
        action: 'kms:GenerateMac',
        resource: p.account.keyArn,
        resourcePolicy: p.keyPolicy,
      }),
    ).toBe('ImplicitlyDenied');
  });
});
