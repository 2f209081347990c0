import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import type { AddressInfo } from 'node:net';
import type { ResponderConfig } from '../shared/config';
import { Ledger, ledgerTableDefinition } from '../shared/ledger';
import type { PipelineDeps } from '../shared/pipeline';
import type { Policy } from '../shared/policy/policy';
import { SimulatedAccount } from './account';

export interface SimulatedDeployment {
  /** The home region's account. */
  account: SimulatedAccount;
  deps: PipelineDeps;
  /**
   * The same account in another region: the responder is deployed per region (GuardDuty findings and EventBridge
   * rules are regional), so each region gets its own simulated resources, bucket and topic; the ledger is shared.
   */
  inRegion(region: string): { account: SimulatedAccount; deps: PipelineDeps };
  /** Every regional account created so far, home first. */
  accounts(): SimulatedAccount[];
  /** The ledger table's real DynamoDB API (dynalite on loopback). */
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
}

/**
 * What `osls deploy` would create, on the simulated account: the evidence bucket, the notification topic and the
 * ledger table, the latter in dynalite (a real implementation of DynamoDB's API) listening on 127.0.0.1.
 */
export async function startSimulatedDeployment(options: DeploymentOptions): Promise<SimulatedDeployment> {
  const account = options.account ?? new SimulatedAccount();
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const dynamoEndpoint = `http://127.0.0.1:${port}`;
  const dynamo = new DynamoDBClient({
    endpoint: dynamoEndpoint,
    region: account.region,
    credentials: { accessKeyId: 'simulated', secretAccessKey: 'simulated' },
  });
  const tableName = 'ecs-threat-responder-simulated-ledger';
  await dynamo.send(new CreateTableCommand(ledgerTableDefinition(tableName)));

  const doc = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  const ledger = new Ledger(doc, tableName, options.now);
  const regions = new Map<string, { account: SimulatedAccount; deps: PipelineDeps }>();
  const deploy = (regional: SimulatedAccount) => {
    const evidenceBucket = `ecs-threat-responder-simulated-evidence-${regional.region}`;
    regional.createBucket(evidenceBucket);
    const config: ResponderConfig = {
      stage: 'simulated',
      tableName,
      evidenceBucket,
      topicArn: regional.createTopic('ecs-threat-responder-simulated-notifications'),
      quarantineSecurityGroups: {},
      protectedClusters: [],
      defaultMode: 'enforce',
      forceObserve: false,
      ...options.config,
    };
    const entry = { account: regional, deps: { clients: regional.clients(), ledger, policy: options.policy, config, now: options.now } };
    regions.set(regional.region, entry);
    return entry;
  };
  const home = deploy(account);
  return {
    account,
    dynamo,
    dynamoEndpoint,
    deps: home.deps,
    inRegion: (region) => regions.get(region) ?? deploy(new SimulatedAccount({ accountId: account.accountId, region, now: options.now })),
    accounts: () => [...regions.values()].map((r) => r.account),
    async close() {
      dynamo.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
