import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { join } from 'node:path';
import { createAwsClients } from './aws/clients';
import { configFromEnvironment } from './config';
import { Ledger } from './ledger';
import type { PipelineDeps } from './pipeline';
import { loadPolicyFile } from './policy/policy';

let deps: PipelineDeps | undefined;

/**
 * Built once per Lambda container (cold start) and reused. A bad policy or configuration fails the cold start loudly
 * rather than responding with half a policy. policy.yml is packaged beside the bundle (serverless.yml patterns).
 */
export function lambdaDeps(): PipelineDeps {
  if (deps) return deps;
  const config = configFromEnvironment();
  const policyFile = process.env.POLICY_FILE ?? join(process.env.LAMBDA_TASK_ROOT ?? process.cwd(), 'policy.yml');
  deps = {
    clients: createAwsClients(),
    ledger: new Ledger(DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } }), config.tableName),
    policy: loadPolicyFile(policyFile),
    config,
  };
  return deps;
}
