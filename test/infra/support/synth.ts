// Synthesizes the Tidemark stack from the example configuration, the way `cdk synth` does but
// without bundling the functions (bundling.test.ts covers that) and without CDK's built-in
// CloudFormation validation (nag.test.ts runs it once): a synth then takes seconds, not a minute.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { loadConfig, type TidemarkConfig } from '../../../infra/config.ts';
import { createTidemarkApp, type TidemarkAppOptions } from '../../../infra/tidemark-app.ts';
import type { TidemarkStack } from '../../../infra/stack.ts';

export const EXAMPLE_CONFIG = 'tidemark.config.example.json';

export interface Synthesized {
  stack: TidemarkStack;
  template: Template;
  config: TidemarkConfig;
  outdir: string;
}

export function exampleConfig(): TidemarkConfig {
  return loadConfig(EXAMPLE_CONFIG);
}

/** The example stack, synthesized once per worker (test/infra shares a worker's modules: vitest.config.ts). */
let example: Synthesized | undefined;

export function synthesize(config?: TidemarkConfig, options: Pick<TidemarkAppOptions, 'profiles'> = {}): Synthesized {
  if (config === undefined && options.profiles === undefined) return (example ??= synthesizeApp(exampleConfig(), {}));
  return synthesizeApp(config ?? exampleConfig(), options);
}

function synthesizeApp(config: TidemarkConfig, options: Pick<TidemarkAppOptions, 'profiles'>): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'tidemark-cdk-'));
  const { stack } = createTidemarkApp({
    config,
    context: { 'aws:cdk:bundling-stacks': [] },
    nag: false,
    cloudFormationValidation: false,
    outdir,
    ...options,
  });
  return { stack, template: Template.fromStack(stack), config, outdir };
}

/** The one resource of `type` whose logical id starts with `prefix`. */
export function logicalIdOf(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1) throw new Error(`expected one ${type} named ${prefix}*, found ${ids.join(', ') || 'none'}`);
  return ids[0]!;
}

/** `Resource` values as readable strings: `{ Fn::GetAtt: [X, Arn] }` → `<X.Arn>`, joins flattened. */
export function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, any>;
  if (v['Fn::GetAtt']) return `<${v['Fn::GetAtt'].join('.')}>`;
  if (v.Ref) return `<${v.Ref}>`;
  if (v['Fn::Join']) return (v['Fn::Join'][1] as unknown[]).map(render).join(v['Fn::Join'][0]);
  return JSON.stringify(value);
}

/** Every Allow statement of the identity policies attached to `roleLogicalId`. */
export function statementsOfRole(
  template: Template,
  roleLogicalId: string,
): Array<{ Sid?: string; Action: string[]; Resource: string[]; Condition?: unknown }> {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
    (p.Properties.Roles as unknown[]).some((r) => render(r) === `<${roleLogicalId}>`),
  );
  return policies.flatMap((p) =>
    (p.Properties.PolicyDocument.Statement as any[]).map((s) => ({
      ...s,
      Action: [s.Action].flat(),
      Resource: [s.Resource].flat().map(render),
    })),
  );
}

export function readAsset(outdir: string, fileName: string): string {
  return readFileSync(join(outdir, fileName), 'utf8');
}

/**
 * What CDK grants a state machine's role for execution logging (vended log delivery) and X-Ray
 * tracing: actions without resource-level permissions, which the ASL itself never calls.
 */
export const STATE_MACHINE_SERVICE_ACTIONS = [
  'logs:CreateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:DescribeLogGroups',
  'logs:DescribeResourcePolicies',
  'logs:GetLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:UpdateLogDelivery',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
  'xray:PutTelemetryRecords',
  'xray:PutTraceSegments',
];
