import type * as STS from '@aws-sdk/client-sts';

type Result<T> = Omit<T, '$metadata'>;

export class StsModel {
  constructor(
    private readonly accountId: string,
    readonly principalArn: string,
  ) {}

  handle(operation: string): unknown {
    if (operation !== 'GetCallerIdentity') return undefined;
    const sessionName = this.principalArn.split('/').pop() ?? 'simulated';
    const result: Result<STS.GetCallerIdentityResponse> = { Account: this.accountId, Arn: this.principalArn, UserId: `AROASIMULATEDROLE0001:${sessionName}` };
    return result;
  }
}
