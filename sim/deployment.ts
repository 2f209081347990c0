import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import type { AddressInfo } from 'node:net';
import type { ResponderConfig } from '../shared/config';
import { ENTRY_POINTS } from '../shared/entry-points';
import { Ledger, ledgerTableDefinition } from '../shared/ledger';
import { withObserveSwitch } from '../shared/observe-switch';
import type { EventResult, PipelineDeps } from '../shared/pipeline';
import type { Policy } from '../shared/policy/policy';
import { SimulatedAccount, type CallRecord } from './account';
import { MemberAccounts } from '../shared/aws/member-accounts';
import { IamEvaluator } from './iam/iam-evaluator';
import { memberRolesFromTemplate } from './member-roles';
import { SimulatedOrganization } from './organization';
import { stackPolicies, type StackPolicies } from './iam/stack-policies';
import { deterministicUuid } from './ids';
import { packageStack } from './packaged-template';

/** The functions of serverless.yml whose code runs in the simulated account, each as its own role. */
export type FunctionName = 'runtimeFinding' | 'taskStopped' | 'imageFinding' | 'taskLaunchGuard' | 'runbook';

/** The stage the simulated deployment is packaged as: names in the roles (topic, switch, secret) carry it. */
export const SIMULATED_STAGE = 'simulated';
const STACK = `ecs-threat-responder-${SIMULATED_STAGE}`;

export interface RegionalDeployment {
  account: SimulatedAccount;
  config: ResponderConfig;
  /** The dependencies of one function: its clients and ledger act with that function's role only. */
  depsFor(functionName: FunctionName): PipelineDeps;
  /**
   * Runs a function as Lambda would: the live observe switch read from SSM with the function's role, then the
   * function's entry point with its own dependencies.
   */
  invoke(functionName: FunctionName, event: unknown, requestedBy?: string): Promise<EventResult>;
}

export interface SimulatedDeployment extends RegionalDeployment {
  /** The organization, when the deployment is organization-wide. */
  organization?: SimulatedOrganization;
  /**
   * Organization-wide: an account joins the organization (as an account invited or created later), with the member
   * roles of organization/member-role.yml unless `withoutMemberRole`. With `byOrganizationId` it is then allowed.
   */
  addMember(accountId: string, options?: { withoutMemberRole?: boolean }): void;
  /** The ledger as a person with full access sees it (for reading state in tests and reports). */
  ledger: Ledger;
  /**
   * The same account in another region: the responder is deployed per region (GuardDuty findings and EventBridge
   * rules are regional), so each region gets its own simulated resources, bucket and topic; the ledger is shared.
   */
  inRegion(region: string): RegionalDeployment;
  /** Every regional account created so far, home first. */
  accounts(): SimulatedAccount[];
  /** The ledger table's real DynamoDB API (dynalite on loopback), unrestricted. */
  dynamo: DynamoDBClient;
  /** dynalite's URL, for a process of its own (AWS_ENDPOINT_URL_DYNAMODB). */
  dynamoEndpoint: string;
  close(): Promise<void>;
}

export interface DeploymentOptions {
  policy: Policy;
  config?: Partial<ResponderConfig>;
  account?: SimulatedAccount;
  now?: () => Date;
  /**
   * IAM: on by default, with the roles of the real `osls package` template. `false` turns it off (only for tests of
   * the simulator itself); a StackPolicies replaces the shipped roles (a test that shows a refusal).
   */
  iam?: false | StackPolicies;
  /** Stage parameters the stack is packaged with (as `--param name=value`). */
  params?: Record<string, string>;
  /**
   * An organization-wide deployment: these member accounts (listed, or allowed as members of the organization), each
   * with the member roles of organization/member-role.yml unless named in `withoutMemberRole`.
   */
  organization?: {
    members: string[];
    byOrganizationId?: boolean;
    withoutMemberRole?: string[];
    organizationId?: string;
    /** Stage parameters memberRoleName and memberExternalId: the members' roles are made with them (defaults below). */
    roleName?: string;
    externalId?: string;
  };
  /**
   * Benchmarks: the functions' ledger calls to dynalite wait the account's simulated latency for `dynamodb`
   * (`account.latency`) and are logged in the account's `calls` with their start and end times, like every other call.
   */
  timeLedgerCalls?: boolean;
}

/** The member role name (stage parameter memberRoleName's default) and the external id the simulated members trust. */
export const MEMBER_ROLE = 'ecs-threat-responder-member';
export const SIMULATED_EXTERNAL_ID = 'ecs-threat-responder-simulated-external-id';

const TABLE_NAME = `${STACK}-ledger`;

/** The roles of the packaged stack for one region of the simulated account. */
function shippedPolicies(account: SimulatedAccount, keyArn: string, topicArn: string, bucket: string, params?: Record<string, string>): StackPolicies {
  const { template } = packageStack({ stage: SIMULATED_STAGE, params }) as { template: unknown };
  const arn = (service: string, resource: string) => `arn:aws:${service}:${account.region}:${account.accountId}:${resource}`;
  return stackPolicies(template, {
    partition: 'aws',
    accountId: account.accountId,
    region: account.region,
    stackName: STACK,
    resources: {
      LedgerTable: { ref: TABLE_NAME, arn: arn('dynamodb', `table/${TABLE_NAME}`) },
      EvidenceBucket: { ref: bucket, arn: `arn:aws:s3:::${bucket}` },
      NotificationTopic: { ref: topicArn, arn: topicArn },
      ResponderKey: { ref: keyArn.slice(keyArn.indexOf('/') + 1), arn: keyArn },
      ObserveSwitchParameter: { ref: `/ecs-threat-responder/${SIMULATED_STAGE}/observe-switch` },
    },
  });
}

/**
 * What `osls deploy` would create, on the simulated account: the evidence bucket (encrypted with the stack's key), the
 * notification topic, the observe switch, and the ledger table in dynalite (a real implementation of DynamoDB's API)
 * on 127.0.0.1. Each function acts with its own role from the packaged template, evaluated on every call.
 */
export async function startSimulatedDeployment(options: DeploymentOptions): Promise<SimulatedDeployment> {
  const account = options.account ?? new SimulatedAccount();
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const dynamoEndpoint = `http://127.0.0.1:${port}`;
  const dynamoClient = () =>
    new DynamoDBClient({ endpoint: dynamoEndpoint, region: account.region, credentials: { accessKeyId: 'simulated', secretAccessKey: 'simulated' } });
  const dynamo = dynamoClient();
  const functionClients: DynamoDBClient[] = [];
  await dynamo.send(new CreateTableCommand(ledgerTableDefinition(TABLE_NAME)));
  const ledgerOn = (client: DynamoDBClient) => new Ledger(DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }), TABLE_NAME, options.now);
  const switchParameter = `/ecs-threat-responder/${SIMULATED_STAGE}/observe-switch`;

  const organization = options.organization ? new SimulatedOrganization(account.accountId, options.now, options.organization.organizationId) : undefined;
  const memberRole = options.organization?.roleName ?? MEMBER_ROLE;
  const externalId = options.organization?.externalId ?? SIMULATED_EXTERNAL_ID;
  const addMember = (member: string, withoutMemberRole = false) => {
    if (!organization) throw new Error('the simulated deployment is not organization-wide');
    organization.addMember(member);
    if (withoutMemberRole) return;
    organization.deployMemberRoles(member, memberRolesFromTemplate(member, account.region, { SecurityAccountId: account.accountId, ResponderStackName: STACK, ExternalId: externalId, RoleName: memberRole }));
  };
  if (organization && options.organization) {
    account.organization = organization;
    organization.adopt(account);
    for (const member of options.organization.members) addMember(member, options.organization.withoutMemberRole?.includes(member));
  }
  // Which accounts the responder acts in, as its stage parameters say: the members listed, or every account of the
  // organization (checked with Organizations).
  const allowed =
    organization && options.organization
      ? options.organization.byOrganizationId
        ? { memberAccounts: [], organizationId: organization.organizationId }
        : { memberAccounts: options.organization.members, organizationId: undefined }
      : undefined;
  const memberAccountsFor = (regional: SimulatedAccount, functionName: FunctionName, clients: PipelineDeps['clients']): MemberAccounts | undefined => {
    if (!organization || !allowed) return undefined;
    return new MemberAccounts(
      {
        accounts: allowed.memberAccounts,
        organizationId: allowed.organizationId,
        // People's commands go through the member's runbook role, the only one that may undo (organization/member-role.yml).
        roleName: functionName === 'runbook' ? `${memberRole}-runbook` : memberRole,
        externalId,
      },
      {
        homeAccountId: regional.accountId,
        homeRegion: regional.region,
        // The same account in the finding's region, acting with the same function's role.
        homeClientsIn: (region) => (regions.get(region) ?? deploy(new SimulatedAccount({ accountId: account.accountId, region, now: options.now }))).depsFor(functionName).clients,
        sts: clients.sts,
        organizations: () => Promise.resolve(regional.organizationsClient(functionName)),
        clientsWith: (region, credentials) => organization.clientsFor(credentials, region),
        now: options.now,
      },
    );
  };
  const regions = new Map<string, RegionalDeployment>();
  const deploy = (regional: SimulatedAccount) => {
    const evidenceBucket = `${STACK}-evidence-${regional.region}`;
    regional.createBucket(evidenceBucket);
    const keyArn = `arn:aws:kms:${regional.region}:${regional.accountId}:key/${deterministicUuid(`key/${regional.region}`)}`;
    // As infrastructure.yml's NotificationTopic: encrypted with the stack's key.
    const topicArn = regional.createTopic(`${STACK}-notifications`, { kmsKeyArn: keyArn });
    // As infrastructure.yml's EvidenceBucket: SSE-KMS with the stack's key by default.
    regional.s3.setDefaultEncryption(evidenceBucket, { algorithm: 'aws:kms', kmsKeyArn: keyArn });
    regional.ssm.putParameter(switchParameter, 'policy');
    if (options.iam !== false) {
      const policies = options.iam ?? shippedPolicies(regional, keyArn, topicArn, evidenceBucket, options.params);
      regional.enforceIam(new IamEvaluator(policies, regional.accountId, { recordDir: process.env.RESPONDER_IAM_RECORD_DIR, synthetic: options.iam !== undefined }));
    }
    const config: ResponderConfig = {
      stage: SIMULATED_STAGE,
      tableName: TABLE_NAME,
      evidenceBucket,
      evidenceKeyArn: keyArn,
      topicArn,
      quarantineSecurityGroups: {},
      protectedClusters: [],
      defaultMode: 'enforce',
      forceObserve: false,
      ...(allowed ? { organization: { ...allowed, roleName: memberRole, externalId } } : {}),
      ...options.config,
    };
    const byFunction = new Map<FunctionName, PipelineDeps>();
    const depsFor = (functionName: FunctionName): PipelineDeps => {
      let deps = byFunction.get(functionName);
      if (!deps) {
        const client = dynamoClient();
        functionClients.push(client);
        // The ledger's calls are authorized as the function's role before they reach dynalite.
        client.middlewareStack.add(
          (next, context) => async (args) => {
            const operation = (context.commandName ?? '').replace(/Command$/, '');
            try {
              await regional.authorize(functionName, 'dynamodb', operation, args.input as Record<string, unknown>);
            } catch (error) {
              regional.calls.push({ service: 'dynamodb', operation, input: { ...(args.input) }, ok: false, errorCode: (error as Error).name, principal: functionName, iamDenied: (error as { iamDenied?: never }).iamDenied, at: (options.now ?? (() => new Date()))().toISOString() });
              throw error;
            }
            if (!options.timeLedgerCalls) return next(args);
            const record: CallRecord = { service: 'dynamodb', operation, input: { ...(args.input) }, ok: true, principal: functionName, at: '', startedAt: performance.now() };
            const delay = regional.latency.for('dynamodb', operation);
            if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
            record.at = (options.now ?? (() => new Date()))().toISOString();
            regional.calls.push(record);
            try {
              return await next(args);
            } catch (error) {
              record.ok = false;
              record.errorCode = (error as Error).name;
              throw error;
            } finally {
              record.endedAt = performance.now();
            }
          },
          { step: 'initialize', name: 'simulatedIam' },
        );
        const clients = regional.clients({ principal: functionName });
        deps = { clients, ledger: ledgerOn(client), policy: options.policy, config, now: options.now, memberAccounts: memberAccountsFor(regional, functionName, clients) };
        byFunction.set(functionName, deps);
      }
      return deps;
    };
    const invoke = async (functionName: FunctionName, event: unknown, requestedBy?: string): Promise<EventResult> => {
      const ssm = regional.ssmClient(functionName);
      const readSwitch = async () => (await ssm.send(new GetParameterCommand({ Name: switchParameter }))).Parameter?.Value;
      // As shared/lambda-deps.ts: the runtime pipeline reads the switch beside its first calls; the others before they start.
      const deps = functionName === 'runtimeFinding' ? { ...depsFor(functionName), readObserveSwitch: readSwitch } : await withObserveSwitch(depsFor(functionName), readSwitch);
      const entryPoint = ENTRY_POINTS[functionName];
      if (!entryPoint) throw new Error(`no entry point for ${functionName}`);
      return entryPoint(event, deps, requestedBy);
    };
    const entry = { account: regional, depsFor, config, invoke };
    regions.set(regional.region, entry);
    return entry;
  };
  const home = deploy(account);
  return {
    account,
    organization,
    addMember: (accountId, memberOptions) => addMember(accountId, memberOptions?.withoutMemberRole),
    dynamo,
    dynamoEndpoint,
    ledger: ledgerOn(dynamo),
    config: home.config,
    depsFor: home.depsFor,
    invoke: home.invoke,
    inRegion: (region) => regions.get(region) ?? deploy(new SimulatedAccount({ accountId: account.accountId, region, now: options.now })),
    accounts: () => [...regions.values()].map((r) => r.account),
    async close() {
      dynamo.destroy();
      for (const client of functionClients) client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
