import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createAwsClients, type AwsClients } from './aws/clients';
import { deferredSdk } from './aws/deferred';
import { MemberAccounts } from './aws/member-accounts';
import { configFromEnvironment, deploymentHome, type ResponderConfig } from './config';
import { Ledger } from './ledger';
import { withObserveSwitch } from './observe-switch';
import type { PipelineDeps } from './pipeline';
import { loadCompiledPolicy } from './policy/compiled-policy';
import { cachedParameterReader } from './aws/observe-switch-provider';

/** How stale the live observe switch may be: a flip takes effect within this. */
const SWITCH_MAX_AGE_SECONDS = 30;

let deps: PipelineDeps | undefined;
let readParameter: ((name: string) => Promise<string | undefined>) | undefined;

/**
 * Built once per Lambda container (cold start) and reused. A bad configuration fails the cold start loudly rather
 * than responding with half of it. The policy was validated at package time and is carried in the bundle as JSON.
 */
function baseDeps(): PipelineDeps {
  if (deps) return deps;
  const config = configFromEnvironment();
  const clients = createAwsClients();
  deps = {
    clients,
    memberAccounts: memberAccountsFor(config, clients),
    ledger: new Ledger(DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } }), config.tableName),
    policy: loadCompiledPolicy(),
    config,
  };
  if (config.switchParameter) deps.readObserveSwitch = observeSwitchReader(config.switchParameter);
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
      homeRegion: deploymentHome(config).region,
      homeClientsIn: (region) => createAwsClients({ region }),
      sts: clients.sts,
      // Built on the first membership check, its code loaded then (a deferred module: shared/aws/deferred/index.ts).
      // Not a dynamic import(): in a cjs bundle that keeps every export of the client, in the same file.
      organizations: () => Promise.resolve(new (deferredSdk().OrganizationsClient)({})),
      clientsWith: (region, credentials) => createAwsClients({ region, credentials }),
    },
  );
}

/**
 * The live observe switch, read from SSM and cached 30 s. The SSM client is built on the first read, not at cold start.
 * Imported statically: a dynamic import() would keep esbuild from tree-shaking the client (172 KB against 20 KB).
 */
function observeSwitchReader(name: string): () => Promise<string | undefined> {
  return async () => (readParameter ??= cachedParameterReader(SWITCH_MAX_AGE_SECONDS))(name);
}

/**
 * The container's dependencies with the live observe switch applied (it fails closed: shared/observe-switch.ts).
 * `deferObserveSwitch`: not awaited here but handed over as `readObserveSwitch`, for the runtime pipeline to read it
 * in parallel with its first AWS calls (issue 10: reading it first was one more round trip before the network cut).
 */
export async function lambdaDeps(options: { deferObserveSwitch?: boolean } = {}): Promise<PipelineDeps> {
  const { readObserveSwitch, ...base } = baseDeps();
  if (!readObserveSwitch) return base;
  return options.deferObserveSwitch ? { ...base, readObserveSwitch } : withObserveSwitch(base, readObserveSwitch);
}
