import * as ec2Sdk from '@aws-sdk/client-ec2';
import * as ecrSdk from '@aws-sdk/client-ecr';
import * as dynamodbSdk from '@aws-sdk/client-dynamodb';
import * as ecsSdk from '@aws-sdk/client-ecs';
import * as organizationsSdk from '@aws-sdk/client-organizations';
import * as s3Sdk from '@aws-sdk/client-s3';
import * as secretsSdk from '@aws-sdk/client-secrets-manager';
import * as snsSdk from '@aws-sdk/client-sns';
import * as ssmSdk from '@aws-sdk/client-ssm';
import * as stsSdk from '@aws-sdk/client-sts';

export type ServiceName = 'ec2' | 'ecs' | 'ecr' | 's3' | 'sns' | 'secrets' | 'sts' | 'ssm' | 'dynamodb' | 'organizations';

type ExceptionClass = new (options: {
  name: string;
  $fault: 'client' | 'server';
  $metadata: Record<string, unknown>;
  message?: string;
}) => Error;

const sdkModules: Record<ServiceName, { module: Record<string, unknown>; base: ExceptionClass }> = {
  ec2: { module: ec2Sdk, base: ec2Sdk.EC2ServiceException },
  ecr: { module: ecrSdk, base: ecrSdk.ECRServiceException },
  ecs: { module: ecsSdk, base: ecsSdk.ECSServiceException },
  s3: { module: s3Sdk, base: s3Sdk.S3ServiceException },
  secrets: { module: secretsSdk, base: secretsSdk.SecretsManagerServiceException },
  sns: { module: snsSdk, base: snsSdk.SNSServiceException },
  sts: { module: stsSdk, base: stsSdk.STSServiceException },
  ssm: { module: ssmSdk, base: ssmSdk.SSMServiceException },
  dynamodb: { module: dynamodbSdk, base: dynamodbSdk.DynamoDBServiceException },
  organizations: { module: organizationsSdk, base: organizationsSdk.OrganizationsServiceException },
};

/**
 * Builds the error the real SDK would throw for an AWS error code: the client's modelled exception class when
 * there is one (SNS wire code `NotFound` becomes `NotFoundException`, as the SDK's deserializer does), otherwise
 * the service's base exception with `name` set to the code (EC2 models no exceptions, so its errors arrive so).
 */
export function serviceError(service: ServiceName, code: string, status: number, message?: string): Error {
  const { module, base } = sdkModules[service];
  const modelled = [code, `${code}Exception`]
    .map((name) => module[name])
    .find((candidate): candidate is ExceptionClass => typeof candidate === 'function' && candidate.prototype instanceof base);
  const Exception = modelled ?? base;
  const error = new Exception({
    name: code,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status, requestId: 'simulated' },
    message: message ?? code,
  });
  if (!modelled) error.name = code;
  Object.assign(error, { Code: code });
  return error;
}

/** The SDK's client-side timeout: not a service error, classified transient by name. */
export function timeoutError(operation: string): Error {
  const error = new Error(`simulated timeout calling ${operation}`);
  error.name = 'TimeoutError';
  Object.assign(error, { $metadata: {} });
  return error;
}

/** An operation or parameter the simulator does not model: never answered with a silent success. */
export function notModelledError(message: string): Error {
  const error = new Error(`simulated account: ${message}`);
  error.name = 'NotModelledBySimulator';
  return error;
}

/**
 * A command's input as the middleware receives it: the SDK has already typed and serialised it per command, and
 * each model casts it to that command's request type, so `any` stops at this boundary.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type OperationInput = Record<string, any>;

/**
 * The error each service answers when IAM refuses a call (each service's API reference, "Errors"; the SDKs' models):
 * EC2 `UnauthorizedOperation`, S3 and STS `AccessDenied`, SNS `AuthorizationError` (SDK AuthorizationErrorException;
 * an encrypted topic whose key refuses answers `KMSAccessDenied`), the JSON services `AccessDeniedException`.
 */
export function accessDeniedError(service: ServiceName, action: string, reason: string): Error {
  if (service === 'ec2') return serviceError(service, 'UnauthorizedOperation', 403, `You are not authorized to perform this operation. ${reason}`);
  if (service === 's3' || service === 'sts') return serviceError(service, 'AccessDenied', 403, reason);
  if (service === 'sns') return action.startsWith('kms:') ? serviceError(service, 'KMSAccessDenied', 400, reason) : serviceError(service, 'AuthorizationError', 403, reason);
  return serviceError(service, 'AccessDeniedException', 400, reason);
}
