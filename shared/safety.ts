import { awsErrorCode, awsErrorMessage, failureCode, isTransient } from './aws/errors';
import type { Ledger } from './ledger';
import type { ActionOutcome } from './notification';
import type { Safety } from './policy/policy-schema';

/** `transient`: the counter could not be read for a reason that passes (throttling, a 5xx): retry the event. */
export type SafetyVerdict = { allowed: true; release: () => Promise<void> } | { allowed: false; why: string; transient?: string };

/**
 * What a step withheld by the safety rails records: `failed` with the code when the counter could not be read for a
 * reason that passes (the event is delivered again), `skipped` when the limit is reached or a check refused.
 */
export function withheldOutcome(verdict: { why: string; transient?: string }, action: string, target?: string): ActionOutcome {
  return verdict.transient
    ? { action, status: 'failed', mechanism: 'safety', errorCode: verdict.transient, detail: verdict.why, ...(target ? { target } : {}) }
    : { action, status: 'skipped', mechanism: 'safety', detail: verdict.why, ...(target ? { target } : {}) };
}

function windowStart(now: Date, minutes: number): Date {
  const size = minutes * 60_000;
  return new Date(Math.floor(now.getTime() / size) * size);
}

/**
 * The blast-radius limit: at most N tasks disrupted per window per account and per cluster (atomic DynamoDB counters,
 * both taken at once). A task takes one slot per episode, whatever its steps; `release` gives the slots back when the
 * action changed nothing (the task had already stopped). Fails closed: if a counter cannot be written, the answer is no.
 */
export async function allowDestructive(ledger: Ledger, safety: Safety, scope: { account: string; cluster?: string }, now: Date): Promise<SafetyVerdict> {
  const start = windowStart(now, safety.windowMinutes);
  const window = `${safety.windowMinutes} min`;
  const scopes = [
    { key: `account#${scope.account}`, limit: safety.maxDestructivePerAccount, full: `account ${scope.account}` },
    ...(scope.cluster ? [{ key: `cluster#${scope.account}#${scope.cluster}`, limit: safety.maxDestructivePerCluster, full: `cluster ${scope.cluster}` }] : []),
  ];
  const taken = await Promise.allSettled(scopes.map((s) => ledger.takeSlot(s.key, start, s.limit, safety.windowMinutes)));
  const giveBack = () => Promise.all(scopes.filter((_, i) => taken[i]!.status === 'fulfilled' && (taken[i] as PromiseFulfilledResult<boolean>).value).map((s) => ledger.returnSlot(s.key, start))).then(() => undefined);
  const failed = taken.find((t): t is PromiseRejectedResult => t.status === 'rejected');
  if (failed) {
    await giveBack().catch(() => undefined);
    // Fails closed now; a transient cause (the ledger throttled) is retried with the event rather than held for good.
    const why = `SAFETY CHECK FAILED (${awsErrorCode(failed.reason)}: ${awsErrorMessage(failed.reason)}): no destructive action taken`;
    return isTransient(failed.reason) ? { allowed: false, why, transient: failureCode(failed.reason) } : { allowed: false, why };
  }
  const full = scopes.find((_, i) => !(taken[i] as PromiseFulfilledResult<boolean>).value);
  if (full) {
    await giveBack().catch(() => undefined); // a slot kept by mistake only errs on the safe side
    return { allowed: false, why: `BLAST-RADIUS LIMIT: ${full.limit} tasks already disrupted in ${window} in ${full.full}; downgraded to notify` };
  }
  return { allowed: true, release: giveBack };
}
