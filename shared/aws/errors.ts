import type { ActionOutcome } from '../notification';

/** The error code AWS returned (the SDK puts it in `name`). */
export function awsErrorCode(error: unknown): string {
  if (error && typeof error === 'object' && 'name' in error && typeof error.name === 'string') return error.name;
  return 'Error';
}

export function awsErrorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const RETRYABLE = new Set(['ThrottlingException', 'RequestLimitExceeded', 'Throttling', 'SlowDown', 'TimeoutError', 'InternalError', 'InternalFailure', 'ServiceUnavailable']);

/**
 * A refusal is AWS saying no (a client fault that is not throttling): do not retry, fall back. Anything else
 * (throttling, 5xx, timeouts) has already been retried by the SDK and is a failure, not a refusal.
 */
export function isRefusal(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const fault = (error as { $fault?: string }).$fault;
  const code = awsErrorCode(error);
  // A quota reached (NetworkAclEntryLimitExceeded, ...) is a failure someone can fix, not AWS saying "never".
  return fault === 'client' && !RETRYABLE.has(code) && !code.endsWith('LimitExceeded');
}

/** The outcome of a step AWS refused (`unsupported`, fall back) or that failed (`failed`), with AWS's error code. */
export function refusedOrFailed(action: string, mechanism: string, error: unknown, target?: string): ActionOutcome {
  const refused = isRefusal(error);
  return {
    action,
    status: refused ? 'unsupported' : 'failed',
    mechanism,
    errorCode: awsErrorCode(error),
    detail: `${refused ? 'AWS refused' : 'failed'}: ${awsErrorCode(error)}: ${awsErrorMessage(error)}`,
    ...(target ? { target } : {}),
  };
}
