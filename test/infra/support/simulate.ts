// Asks an IAM policy simulator what AWS would decide for one request against the synthesized
// stack's resource policies (the bucket policy, the key policy), made by a principal with the
// identity policy given: the template tests prove what the Deny statements deny, not only that
// they are there.
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { Template } from 'aws-cdk-lib/assertions';
import { stackPolicies, type PolicyDocument, type StackPolicies } from '../../support/stack-policies.ts';

export const ACCOUNT = { partition: 'aws', region: 'eu-west-1', accountId: '123456789012' };
export const BUCKET = 'tidemark-repository';

/** An identity policy allowing everything: the resource policy's Deny statements decide. */
export const ADMINISTRATOR: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
};

export function deployedPolicies(template: Template): StackPolicies {
  return stackPolicies(template, { bucket: BUCKET, table: 'tidemark-catalog', account: ACCOUNT });
}

export interface Request {
  /** A role ARN. */
  principal: string;
  action: string;
  resource: string;
  context?: Record<string, string>;
  /** ADMINISTRATOR unless given. */
  identity?: PolicyDocument;
  resourcePolicy: PolicyDocument | undefined;
}

/** 'Allowed', 'ExplicitlyDenied' or 'ImplicitlyDenied'. */
export async function decide(r: Request): Promise<string> {
  const result = await runSimulation(
    {
      identityPolicies: [{ name: 'identity', policy: r.identity ?? ADMINISTRATOR }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(r.resourcePolicy ? { resourcePolicy: r.resourcePolicy } : {}),
      request: {
        action: r.action,
        principal: r.principal,
        resource: { accountId: ACCOUNT.accountId, resource: r.resource },
        // AWS sets aws:PrincipalArn to the role's ARN; the simulator takes it from the context.
        contextVariables: { 'aws:SecureTransport': 'true', 'aws:PrincipalArn': r.principal, ...r.context },
      },
    },
    {},
  );
  if (result.resultType === 'error')
    throw new Error(`the simulator rejected ${r.action}: ${JSON.stringify(result.errors)}`);
  return result.overallResult;
}
