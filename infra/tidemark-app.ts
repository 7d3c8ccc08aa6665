// Builds the CDK app from a configuration file. `infra/app.ts` (the `cdk` entry point) and the
// infra tests both come through here, so they synthesize the same stack with the same flags.
import { createRequire } from 'node:module';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { functionEntries } from '../functions/index.ts';
import { loadConfig, type TidemarkConfig } from './config.ts';
import { TidemarkStack } from './stack.ts';
import type { TaskProfile } from './task-profiles.ts';
import { applyNagSuppressions } from './nag-suppressions.ts';

/** Configuration used when `-c config=<file>` is not given: a fresh clone synthesizes. */
export const DEFAULT_CONFIG = 'tidemark.config.example.json';

/** The feature flags `cdk init` would write for this aws-cdk-lib, so defaults are current ones. */
export const FEATURE_FLAGS = createRequire(import.meta.url)('aws-cdk-lib/recommended-feature-flags.json') as Record<
  string,
  unknown
>;

export interface TidemarkAppOptions {
  /** Path of the configuration file; default: the `config` context value, else DEFAULT_CONFIG. */
  readonly configPath?: string;
  /** Already parsed configuration (tests); wins over configPath. */
  readonly config?: TidemarkConfig;
  /** Extra context, e.g. `aws:cdk:bundling-stacks` (tests skip bundling with `[]`). */
  readonly context?: Record<string, unknown>;
  /** Run the cdk-nag AwsSolutions checks as a validation plugin (default true). */
  readonly nag?: boolean;
  /**
   * CDK's built-in CloudFormation template validation at synth (default true). It costs seconds
   * per synth (a WASM rule engine), so tests that only inspect the template turn it off.
   */
  readonly cloudFormationValidation?: boolean;
  readonly outdir?: string;
  /** What each task is granted; TASK_PROFILES by default (the grants test removes one to see it fail). */
  readonly profiles?: Readonly<Record<string, TaskProfile>>;
}

export function createTidemarkApp(options: TidemarkAppOptions = {}): {
  app: App;
  stack: TidemarkStack;
  config: TidemarkConfig;
} {
  const app = new App({
    context: { ...FEATURE_FLAGS, ...options.context },
    outdir: options.outdir,
    builtinCloudFormationValidation: options.cloudFormationValidation ?? true,
  });
  const config =
    options.config ??
    loadConfig(options.configPath ?? (app.node.tryGetContext('config') as string | undefined) ?? DEFAULT_CONFIG);
  const stack = new TidemarkStack(app, config.stackName, {
    env: config.env,
    description:
      'Tidemark: consistent, verifiable logical backups of PostgreSQL (Step Functions, Lambda, S3, DynamoDB)',
    config,
    functionEntries,
    profiles: options.profiles,
  });
  // Acknowledged with the checks' reasons (nag-suppressions.ts); tests build a bare stack to see
  // that each acknowledgement still matches a finding.
  applyNagSuppressions(stack);
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack, config };
}
