import type * as SSM from '@aws-sdk/client-ssm';
import { serviceError } from './service-error';
import type { OperationInput } from './service-error';

type Result<T> = Omit<T, '$metadata'>;

/** SSM Parameter Store, as far as the responder reads it: the live observe switch (GetParameter of a String). */
export class SsmModel {
  readonly parameters = new Map<string, { value: string; version: number }>();

  constructor(
    private readonly accountId: string,
    private readonly region: string,
  ) {}

  putParameter(name: string, value: string): void {
    const version = (this.parameters.get(name)?.version ?? 0) + 1;
    this.parameters.set(name, { value, version });
  }

  handle(operation: string, input: OperationInput): unknown {
    if (operation === 'GetParameter') return this.getParameter(input as SSM.GetParameterRequest);
    return undefined;
  }

  private getParameter(input: SSM.GetParameterRequest): Result<SSM.GetParameterResult> {
    const name = String(input.Name);
    const parameter = this.parameters.get(name);
    // GetParameter of a missing name answers ParameterNotFound (SSM API reference, GetParameter "Errors").
    if (!parameter) throw serviceError('ssm', 'ParameterNotFound', 400);
    const path = name.startsWith('/') ? name.slice(1) : name;
    return {
      Parameter: {
        Name: name,
        Type: 'String',
        Value: parameter.value,
        Version: parameter.version,
        ARN: `arn:aws:ssm:${this.region}:${this.accountId}:parameter/${path}`,
        DataType: 'text',
      },
    };
  }
}
