import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SSMClient } from '@aws-sdk/client-ssm';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { join } from 'node:path';
import { createAwsClients, type AwsClients } from './aws/clients';
import { MemberAccounts } from './aws/member-accounts';
import { configFromEnvironment, deploymentHome, type ResponderConfig } from './config';
import { Ledger } from './ledger';
import { withObserveSwitch } from './observe-switch';
import type { PipelineDeps } from './pipeline';
import { loadPolicyFile } from './policy/policy';

/** How stale the live observe switch may be: a flip takes effect within this. */
const SWITCH_MAX_AGE_SECONDS = 30;

let deps: PipelineDeps | undefined;
let switchProvider: SSMProvider | undefined;

/**
 * Built once per Lambda container (cold start) and reused. A bad policy or configuration fails the cold start loudly
 * rather than responding with half a policy. policy.yml is packaged beside the bundle (serverless.yml patterns).
 */
function baseDeps(): PipelineDeps {
  if (deps) return deps;
  const config = configFromEnvironment();
  const policyFile = process.env.POLICY_FILE ?? join(process.env.LAMBDA_TASK_ROOT ?? process.cwd(), 'policy.yml');
  const clients = createAwsClients();
  deps = {
    clients,
    memberAccounts: memberAccountsFor(config, clients),
    ledger: new Ledger(DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } }), config.tableName),
    policy: loadPolicyFile(policyFile),
    config,
  };
  return deps;
}

/** Organization-wide: the member role is assumed in each allowed account (shared/aws/member-accounts.ts). */
function memberAccountsFor(config: ResponderConfig, clients: AwsClients): MemberAccounts | undefined {
  const organization = config.organization;
  if (!organization) return undefined;
  return new MemberAccounts(
    { accounts: organization.memberAccounts, organizationId: organization.organizationId, roleName: organization.roleName, externalId: organization.externalId },
    {
      homeAccountId: deploymentHome(config).account,
      sts: clients.sts,
      organizations: async () => new (await import('@aws-sdk/client-organizations')).OrganizationsClient({}),
      clientsWith: (region, credentials) => createAwsClients({ region, credentials }),
    },
  );
}

/** The container's dependencies with the live observe switch applied (read through Powertools, cached 30 s). */
export async function lambdaDeps(): Promise<PipelineDeps> {
  const base = baseDeps();
  const name = base.config.switchParameter;
  if (!name) return base;
  switchProvider ??= new SSMProvider({ awsSdkV3Client: new SSMClient({}) });
  const provider = switchProvider;
  return withObserveSwitch(base, async () => (await provider.get(name, { maxAge: SWITCH_MAX_AGE_SECONDS })) ?? undefined);
}
