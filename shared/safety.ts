import { awsErrorCode, awsErrorMessage, failureCode, isTransient } from './aws/errors';
import type { Ledger } from './ledger';
import type { Safety } from './policy/policy-schema';

/** `transient`: the counter could not be read for a reason that passes (throttling, a 5xx): retry the event. */
export type SafetyVerdict = { allowed: true } | { allowed: false; why: string; transient?: string };

function windowStart(now: Date, minutes: number): Date {
  const size = minutes * 60_000;
  return new Date(Math.floor(now.getTime() / size) * size);
}

/**
 * The blast-radius limit: at most N destructive actions per window per account and per cluster (atomic DynamoDB
 * counters). Fails closed: if the counter cannot be read or written, the answer is no.
 */
export async function allowDestructive(ledger: Ledger, safety: Safety, scope: { account: string; cluster?: string }, now: Date): Promise<SafetyVerdict> {
  const start = windowStart(now, safety.windowMinutes);
  const window = `${safety.windowMinutes} min`;
  try {
    if (!(await ledger.takeSlot(`account#${scope.account}`, start, safety.maxDestructivePerAccount, safety.windowMinutes))) {
      return { allowed: false, why: `BLAST-RADIUS LIMIT: ${safety.maxDestructivePerAccount} destructive actions in ${window} already taken in account ${scope.account}; downgraded to notify` };
    }
    if (scope.cluster && !(await ledger.takeSlot(`cluster#${scope.account}#${scope.cluster}`, start, safety.maxDestructivePerCluster, safety.windowMinutes))) {
      await ledger.returnSlot(`account#${scope.account}`, start);
      return { allowed: false, why: `BLAST-RADIUS LIMIT: ${safety.maxDestructivePerCluster} destructive actions in ${window} already taken in cluster ${scope.cluster}; downgraded to notify` };
    }
    return { allowed: true };
  } catch (error) {
    // Fails closed now; a transient cause (the ledger throttled) is retried with the event rather than held for good.
    const why = `SAFETY CHECK FAILED (${awsErrorCode(error)}: ${awsErrorMessage(error)}): no destructive action taken`;
    return isTransient(error) ? { allowed: false, why, transient: failureCode(error) } : { allowed: false, why };
  }
}
