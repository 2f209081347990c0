import type * as SecretsManager from '@aws-sdk/client-secrets-manager';
import { hashHex, deterministicUuid } from './ids';
import { serviceError } from './service-error';
import type { OperationInput } from './service-error';

type Result<T> = Omit<T, '$metadata'>;

export class SecretsModel {
  readonly secrets = new Map<string, { name: string; arn: string; value: string; createdAt: Date }>();

  constructor(
    private readonly accountId: string,
    private readonly region: string,
    private readonly now: () => Date,
  ) {}

  putSecret(name: string, value: string): string {
    // Secret ARNs end in a random 6-character suffix.
    const arn = `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${name}-${hashHex(name, 6)}`;
    this.secrets.set(name, { name, arn, value, createdAt: this.now() });
    return arn;
  }

  handle(operation: string, input: OperationInput): unknown {
    if (operation === 'GetSecretValue') return this.getSecretValue(input as SecretsManager.GetSecretValueRequest);
    return undefined;
  }

  private getSecretValue(input: SecretsManager.GetSecretValueRequest): Result<SecretsManager.GetSecretValueResponse> {
    const secret = [...this.secrets.values()].find((s) => s.name === input.SecretId || s.arn === input.SecretId);
    if (!secret) throw serviceError('secrets', 'ResourceNotFoundException', 400, "Secrets Manager can't find the specified secret.");
    return {
      ARN: secret.arn,
      Name: secret.name,
      SecretString: secret.value,
      VersionId: deterministicUuid(`${secret.arn}/${secret.value}`),
      VersionStages: ['AWSCURRENT'],
      CreatedDate: secret.createdAt,
    };
  }
}
