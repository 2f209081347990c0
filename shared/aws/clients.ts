import { EC2Client } from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';

/** Every AWS client the pipeline uses. Tests and the replay CLI pass clients wired to the simulated account. */
export interface AwsClients {
  ecs: ECSClient;
  ec2: EC2Client;
  ecr: ECRClient;
  s3: S3Client;
  sns: SNSClient;
  secrets: SecretsManagerClient;
  sts: STSClient;
}

export interface ClientOptions {
  region?: string;
  /** An assumed role's (a member account's); absent, the default credential chain. */
  credentials?: AwsCredentialIdentity;
}

const CLIENTS = { ecs: ECSClient, ec2: EC2Client, ecr: ECRClient, s3: S3Client, sns: SNSClient, secrets: SecretsManagerClient, sts: STSClient };

/**
 * Clients for a real account, from the default credential chain. Each is built on first use: a path that never calls
 * S3 or Secrets Manager never resolves their configuration (region, credentials provider, endpoint rules).
 */
export function createAwsClients(options: ClientOptions = {}): AwsClients {
  const config = { region: options.region, credentials: options.credentials, maxAttempts: 4 };
  const made: Partial<AwsClients> = {};
  const clients = {} as AwsClients;
  for (const [name, Client] of Object.entries(CLIENTS) as [keyof AwsClients, new (c: typeof config) => never][]) {
    Object.defineProperty(clients, name, { enumerable: true, get: () => (made[name] ??= new Client(config)) });
  }
  return clients;
}
