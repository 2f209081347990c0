import type { ActionOutcome } from '../notification';

/** The error code AWS returned (the SDK puts it in `name`). */
export function awsErrorCode(error: unknown): string {
  if (error && typeof error === 'object' && 'name' in error && typeof error.name === 'string') return error.name;
  return 'Error';
}

export function awsErrorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Throttling and transient codes as the AWS SDK for JavaScript v3 classifies them for its own retries
 * (@smithy/core retry/service-error-classification constants: THROTTLING_ERROR_CODES, TRANSIENT_ERROR_CODES), plus
 * each service's documented 5xx codes (EC2 InternalError/Unavailable, ECS/ECR ServerException, SNS InternalError,
 * DynamoDB InternalServerError, S3 InternalError/ServiceUnavailable).
 */
const THROTTLING = [
  'BandwidthLimitExceeded', 'EC2ThrottledException', 'LimitExceededException', 'PriorRequestNotComplete', 'ProvisionedThroughputExceededException',
  'RequestLimitExceeded', 'RequestThrottled', 'RequestThrottledException', 'SlowDown', 'ThrottledException', 'Throttling', 'ThrottlingException',
  'TooManyRequestsException', 'TransactionInProgressException',
];
const TIMEOUTS = ['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN'];
const SERVER = [
  'InternalError', 'InternalFailure', 'InternalServerError', 'InternalErrorException', 'InternalServiceError', 'InternalServiceErrorException',
  'ServerException', 'ServiceUnavailable', 'ServiceUnavailableException', 'Unavailable',
];
/**
 * EC2's eventual consistency: a resource just created may be "not found" by the next calls
 * (https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html). Only codes of resources this
 * responder creates or has just read: a quarantine group, its rules.
 */
const CONSISTENCY_WINDOW = ['InvalidGroup.NotFound', 'InvalidGroupId.NotFound', 'InvalidPermission.NotFound'];

const TRANSIENT_CODES = new Set([...THROTTLING, ...TIMEOUTS, ...SERVER, ...CONSISTENCY_WINDOW]);

/** A code that says "try again later", not "no": throttling, a 5xx, a timeout, EC2's consistency window. */
export function isTransientCode(code: string | undefined): boolean {
  return !!code && TRANSIENT_CODES.has(code);
}

/** The one classifier: transient (retry the event) or final (a refusal, a quota, a bug). */
export function isTransient(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  if (isTransientCode(awsErrorCode(error))) return true;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  // The SDK retries every 5xx as transient (TRANSIENT_ERROR_STATUS_CODES 500/502/503/504) and every server fault.
  return (error as { $fault?: string }).$fault === 'server' || (status !== undefined && status >= 500);
}

/** An answer from an AWS service (the SDK's service exceptions carry `$metadata`), or a transient network failure. */
export function isAwsError(error: unknown): boolean {
  return (!!error && typeof error === 'object' && '$metadata' in error) || isTransient(error);
}

/**
 * A refusal is AWS saying no (a client fault that is not transient): do not retry, fall back. A quota reached
 * (NetworkAclEntryLimitExceeded, ...) is a failure someone can fix, neither a refusal nor transient.
 */
export function isRefusal(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const fault = (error as { $fault?: string }).$fault;
  const code = awsErrorCode(error);
  return fault === 'client' && !isTransient(error) && !code.endsWith('LimitExceeded');
}

/** A step that failed transiently: the event is delivered again (Lambda's retries) to finish it. */
export function failedTransiently(outcome: ActionOutcome): boolean {
  return outcome.status === 'failed' && isTransientCode(outcome.errorCode);
}

/** The code to record for a failure: AWS's, or `InternalError` for a transient one whose code is not a known one. */
export function failureCode(error: unknown): string {
  const code = awsErrorCode(error);
  return isTransient(error) && !isTransientCode(code) ? 'InternalError' : code;
}

/** The outcome of a step AWS refused (`unsupported`, fall back) or that failed (`failed`), with AWS's error code. */
export function refusedOrFailed(action: string, mechanism: string, error: unknown, target?: string): ActionOutcome {
  const refused = isRefusal(error);
  const verdict = refused ? 'AWS refused' : isTransient(error) ? 'failed transiently' : 'failed';
  return {
    action,
    status: refused ? 'unsupported' : 'failed',
    mechanism,
    errorCode: refused ? awsErrorCode(error) : failureCode(error),
    detail: `${verdict}: ${awsErrorCode(error)}: ${awsErrorMessage(error)}`,
    ...(target ? { target } : {}),
  };
}
