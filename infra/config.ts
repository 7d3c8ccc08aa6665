// The deployment's configuration file (docs/deploy.md documents every field). Parsed once, at
// synth; any mistake fails synth with `<file>: <field path>: <what is wrong>`.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { longestIntervalMinutes, parseScheduleExpression } from './schedule-expression.ts';
import { PitrConfigSchema } from './pitr-config.ts';

const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;
const ID = /^[a-z][a-z0-9-]{0,39}$/;
const idMessage = 'lower-case letters, digits and "-", starting with a letter, at most 40 characters';
/** Shortest schedule interval: one run's export window (15 min) must fit between two runs. */
export const MIN_INTERVAL_MINUTES = 15;

const securityGroupId = z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'a security group id (sg-…)');
const port = z.number().int().min(1).max(65535).default(5432);

const secretArn = z
  .string()
  .regex(
    SECRET_ARN,
    'a complete Secrets Manager secret ARN, including the 6-character suffix (arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf)',
  );

const Network = z
  .object({
    vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, 'a VPC id (vpc-…)'),
    subnets: z
      .array(
        z
          .object({
            id: z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'a subnet id (subnet-…)'),
            availabilityZone: z
              .string()
              .regex(/^[a-z]{2}(-gov)?-[a-z]+-\d[a-z]$/, 'an availability zone name, e.g. eu-west-1a'),
            /** The stack adds its S3 and DynamoDB gateway endpoints to this route table. */
            routeTableId: z
              .string()
              .regex(
                /^rtb-[0-9a-f]{8,17}$/,
                'the id of the route table of this subnet (rtb-…): the S3 and DynamoDB gateway endpoints are added to it',
              ),
          })
          .strict(),
      )
      .min(1)
      .max(16),
    /** The database's security group: the functions' own group may reach it on `port`, nothing else. */
    securityGroupId,
  })
  .strict();

const Source = z
  .object({
    id: z.string().regex(ID, idMessage),
    host: z.string().min(1),
    port,
    database: z.string().min(1).max(63),
    secretArn,
    network: Network,
  })
  .strict();

const Schedule = z
  .object({
    expression: z.string().superRefine((expression, ctx) => {
      try {
        parseScheduleExpression(expression);
        const minutes = longestIntervalMinutes(expression);
        if (minutes < MIN_INTERVAL_MINUTES)
          ctx.addIssue({
            code: 'custom',
            message: `"${expression}" runs every ${minutes} min; backups need at least ${MIN_INTERVAL_MINUTES} min apart (one export window)`,
          });
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    }),
    timeZone: z
      .string()
      .default('UTC')
      .refine(isTimeZone, {
        error: (issue) => `"${String(issue.input)}" is not an IANA time zone (e.g. Europe/Paris, UTC)`,
      }),
  })
  .strict();

const count = z.number().int().min(1);
const Retention = z
  .object({
    keepLast: count,
    keepDaily: count,
    keepWeekly: count,
    keepMonthly: count,
    // Refused, not dropped: src/core/maintenance/retention.ts applies the keep* rules only, so an
    // accepted maxAgeDays would promise an expiry nothing performs.
    maxAgeDays: z
      .unknown()
      .refine(
        () => false,
        'is not enforced by retention (only keepLast, keepDaily, keepWeekly and keepMonthly are): remove it, or express the age with keepDaily / keepWeekly / keepMonthly',
      ),
  })
  .partial()
  .strict()
  .refine((r) => Object.keys(r).length > 0, 'name at least one of keepLast, keepDaily, keepWeekly, keepMonthly');

const Collection = z
  .object({
    name: z.string().regex(ID, idMessage),
    source: z.string(),
    schedule: Schedule,
    /** Carried for the retention job (not enforced by this version). */
    retention: Retention,
    /** Carried for the archive job (not deployed by this version). */
    archiveRegion: z.string().regex(REGION, 'an AWS region, e.g. eu-central-1').optional(),
    /** Parallel export tasks; an inline Map runs at most 40 at a time. */
    workers: z.number().int().min(1).max(40).default(4),
    /** Point-in-time recovery: the change archive's schedule and alarms (infra/pitr-config.ts). */
    pitr: PitrConfigSchema.optional(),
  })
  .strict();

/**
 * A database a restore may write into: the restore roles read only these secrets, and the
 * functions' security group reaches only these groups and ports (with the sources').
 */
const RestoreTarget = z.object({ id: z.string().regex(ID, idMessage), secretArn, port, securityGroupId }).strict();

const IAM_ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/[\w+=,.@\/-]{1,512}$/;

export const TidemarkConfigSchema = z
  .object({
    $schema: z.string().optional(),
    stackName: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'a CloudFormation stack name')
      .default('Tidemark'),
    env: z
      .object({
        account: z.string().regex(/^\d{12}$/, 'a 12-digit AWS account id'),
        region: z.string().regex(REGION, 'an AWS region, e.g. eu-west-1'),
      })
      .strict(),
    repository: z
      .object({
        prefix: z
          .string()
          .regex(/^([A-Za-z0-9._-]+\/)*$/, 'empty, or key segments each ending in "/" (e.g. "tidemark/")')
          .default(''),
        /** Move chunks to Standard-IA, then Glacier Instant Retrieval (docs/deploy.md, "Cost"). */
        tierChunks: z.boolean().default(true),
        /**
         * How often the repository is verified (`tidemark verify`): noncurrent object versions are
         * kept for the longest retention plus this, so a deletion is noticed while it can be undone.
         */
        verifyIntervalDays: z.number().int().min(1).max(365).default(7),
      })
      .strict()
      .default({ prefix: '', tierChunks: true, verifyIntervalDays: 7 }),
    /**
     * The only principal that may delete object versions, change the bucket's lifecycle,
     * versioning, policy or Object Lock, or disable, delete or re-policy the repository key.
     * Required: a default name nobody created would leave only the account root able to.
     */
    breakGlassRoleArn: z.string().regex(IAM_ROLE_ARN, 'an IAM role ARN (arn:aws:iam::<account>:role/<name>)'),
    /**
     * An existing Secrets Manager interface endpoint in the VPC, by its security group (the
     * functions' group may reach it on 443). Without it the stack creates one.
     */
    secretsManagerEndpoint: z.object({ securityGroupId }).strict().optional(),
    /**
     * An existing KMS interface endpoint in the VPC, by its security group (the functions' group
     * may reach it on 443; its policy must allow kms:GenerateMac / kms:VerifyMac on the repository
     * key). Without it the stack creates one.
     */
    kmsEndpoint: z.object({ securityGroupId }).strict().optional(),
    alarmEmail: z.email().optional(),
    sources: z.array(Source).min(1),
    /** The only databases a restore may write to; a source's server only when listed here too. */
    restoreTargets: z
      .array(RestoreTarget)
      .min(
        1,
        "name at least one database a restore may write into (for a disaster-recovery restore into a source's own server, list that server's secret here too): the restore roles can read no other secret",
      ),
    collections: z.array(Collection),
  })
  .strict()
  .superRefine((config, ctx) => {
    unique(
      config.sources.map((s) => s.id),
      'sources',
      'id',
      ctx,
    );
    unique(
      config.restoreTargets.map((t) => t.id),
      'restoreTargets',
      'id',
      ctx,
    );
    unique(
      config.collections.map((c) => c.name),
      'collections',
      'name',
      ctx,
    );
    const vpc = config.sources[0]!.network.vpcId;
    config.sources.forEach((s, i) => {
      if (s.network.vpcId !== vpc) {
        ctx.addIssue({
          code: 'custom',
          path: ['sources', i, 'network', 'vpcId'],
          message: `${s.network.vpcId} differs from sources[0]'s ${vpc}: one stack's functions run in one VPC; deploy one stack per VPC`,
        });
      }
    });
    const breakGlassAccount = IAM_ROLE_ARN.exec(config.breakGlassRoleArn)?.[1];
    if (breakGlassAccount && breakGlassAccount !== config.env.account)
      ctx.addIssue({
        code: 'custom',
        path: ['breakGlassRoleArn'],
        message: `is a role of account ${breakGlassAccount}, not of the stack's account ${config.env.account}`,
      });
    // One egress rule per database group and port, plus the endpoints', within a security group's 60.
    if (databaseEndpoints(config).length > 50)
      ctx.addIssue({
        code: 'custom',
        path: ['sources'],
        message:
          'more than 50 distinct (security group, port) pairs across sources and restoreTargets; a security group holds 60 egress rules',
      });
    // Lambda takes at most 16 subnets; the functions get the union.
    if (new Set(config.sources.flatMap((s) => s.network.subnets.map((n) => n.id))).size > 16)
      ctx.addIssue({
        code: 'custom',
        path: ['sources'],
        message: 'more than 16 distinct subnets across sources; Lambda accepts 16',
      });
    const ids = new Set(config.sources.map((s) => s.id));
    config.collections.forEach((c, i) => {
      if (!ids.has(c.source))
        ctx.addIssue({
          code: 'custom',
          path: ['collections', i, 'source'],
          message: `"${c.source}" is not the id of an entry of sources (${[...ids].join(', ')})`,
        });
      if (c.archiveRegion === config.env.region)
        ctx.addIssue({
          code: 'custom',
          path: ['collections', i, 'archiveRegion'],
          message: `is the stack's own region (${c.archiveRegion}); an archive copy belongs in another region`,
        });
    });
  });

export type TidemarkConfig = z.output<typeof TidemarkConfigSchema>;

/** Each database security group and port the functions must reach: sources and restore targets. */
export function databaseEndpoints(
  config: Pick<TidemarkConfig, 'sources' | 'restoreTargets'>,
): Array<{ securityGroupId: string; port: number }> {
  const all = [
    ...config.sources.map((s) => ({ securityGroupId: s.network.securityGroupId, port: s.port })),
    ...config.restoreTargets,
  ];
  const unique = new Map(
    all.map((d) => [`${d.securityGroupId}:${d.port}`, { securityGroupId: d.securityGroupId, port: d.port }]),
  );
  return [...unique.values()];
}
export type SourceConfig = TidemarkConfig['sources'][number];
export type CollectionConfig = TidemarkConfig['collections'][number];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses configuration text; `file` names it in messages. */
export function parseConfig(text: string, file: string): TidemarkConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid JSON: ${(err as Error).message}`);
  }
  const result = TidemarkConfigSchema.safeParse(json);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues
        .map((issue) => `${file}: ${formatPath(issue.path) || '(top level)'}: ${issue.message}`)
        .join('\n'),
    );
  }
  return result.data;
}

export function loadConfig(file: string): TidemarkConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `${file}: cannot read the configuration file: ${(err as Error).message}. Pass another with -c config=<file>.`,
    );
  }
  return parseConfig(text, file);
}

/** `['collections', 0, 'schedule']` → `collections[0].schedule`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

function unique(values: string[], list: string, field: string, ctx: z.RefinementCtx): void {
  values.forEach((v, i) => {
    if (values.indexOf(v) !== i)
      ctx.addIssue({
        code: 'custom',
        path: [list, i, field],
        message: `"${v}" is used twice; each ${field} must be unique`,
      });
  });
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
