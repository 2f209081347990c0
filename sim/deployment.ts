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
  account: SimulatedAccount;
  deps: PipelineDeps;
  /** The ledger table's real DynamoDB API (dynalite on loopback). */
  dynamo: DynamoDBClient;
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
  const dynamo = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: account.region,
    credentials: { accessKeyId: 'simulated', secretAccessKey: 'simulated' },
  });
  const tableName = 'ecs-threat-responder-simulated-ledger';
  await dynamo.send(new CreateTableCommand(ledgerTableDefinition(tableName)));

  const evidenceBucket = 'ecs-threat-responder-simulated-evidence';
  account.createBucket(evidenceBucket);
  const topicArn = account.createTopic('ecs-threat-responder-simulated-notifications');
  const config: ResponderConfig = {
    stage: 'simulated',
    tableName,
    evidenceBucket,
    topicArn,
    quarantineSecurityGroups: {},
    protectedClusters: [],
    defaultMode: 'enforce',
    forceObserve: false,
    ...options.config,
  };
  const doc = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  return {
    account,
    dynamo,
    deps: { clients: account.clients(), ledger: new Ledger(doc, tableName, options.now), policy: options.policy, config, now: options.now },
    async close() {
      dynamo.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
