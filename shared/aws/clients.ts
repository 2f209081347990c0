import { EC2Client } from '@aws-sdk/client-ec2';
import type { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import { deferredSdk } from './deferred';

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

type Config = { region?: string; credentials?: AwsCredentialIdentity; maxAttempts: number };

/**
 * Each client's class, read when the client is first built: ECS and EC2 (the first round trip and the network cut) are
 * in every bundle; the others are deferred modules (./deferred/index.ts), whose code a Lambda loads on first use only.
 */
const CLIENTS: { [K in keyof AwsClients]: () => new (config: Config) => AwsClients[K] } = {
  ecs: () => ECSClient,
  ec2: () => EC2Client,
  ecr: () => deferredSdk().ECRClient,
  s3: () => deferredSdk().S3Client,
  sns: () => deferredSdk().SNSClient,
  secrets: () => deferredSdk().SecretsManagerClient,
  sts: () => deferredSdk().STSClient,
};

/**
 * Clients for a real account, from the default credential chain. Each is built on first use: a path that never calls
 * S3 or Secrets Manager never resolves their configuration (region, credentials provider, endpoint rules), nor loads
 * their code in a Lambda bundle.
 */
export function createAwsClients(options: ClientOptions = {}): AwsClients {
  const config: Config = { region: options.region, credentials: options.credentials, maxAttempts: 4 };
  const made: Partial<AwsClients> = {};
  const clients = {} as AwsClients;
  for (const [name, Client] of Object.entries(CLIENTS) as [keyof AwsClients, () => new (c: Config) => never][]) {
    Object.defineProperty(clients, name, { enumerable: true, get: () => (made[name] ??= new (Client())(config)) });
  }
  return clients;
}
