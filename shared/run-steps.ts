import { findAction } from './actions/registry';
import type { ActionRuntime, ActionTarget, ImageActionTarget } from './actions/response-action';
import { awsErrorMessage, failureCode } from './aws/errors';
import type { ActionOutcome } from './notification';
import type { Decision } from './policy/decide';
import { DEFAULT_SAFETY } from './policy/policy-schema';
import { allowDestructive } from './safety';

export interface StepContext {
  target: ActionTarget | ImageActionTarget;
  /** The ledger target of audit rows this runner writes itself: `task:<arn>` or `image:<repo>@<digest>`. */
  recordTarget: string;
  /** What the blast-radius limit counts against. */
  scope: { account: string; cluster?: string };
}

/**
 * Runs a decision's steps in order, for tasks and images alike. Observe mode describes instead of applying (notify
 * still runs); a step already applied by an earlier delivery is skipped; a destructive step first takes a
 * blast-radius slot (fail closed); a failing step is recorded and does not stop the next.
 */
export async function runSteps(decision: Decision, context: StepContext, runtime: ActionRuntime, outcomes: ActionOutcome[]): Promise<void> {
  const { ledger, audit } = runtime;
  const earlier = await ledger.actionRecords(audit.ledgerId);
  for (const step of decision.steps) {
    const action = findAction(step.action)!;
    if (decision.mode === 'observe' && !action.runsInObserveMode) {
      for (const planned of action.describe(step.params, context.target, runtime.config)) {
        outcomes.push(planned);
        await ledger.recordOutcome(audit, `observe:${action.name}:${planned.mechanism ?? ''}`, planned, context.recordTarget);
      }
      continue;
    }
    const done = earlier.find((r) => r.action === action.name && r.status === 'applied' && r.mode === 'enforce');
    if (done && action.name !== 'notify') {
      outcomes.push({ action: action.name, status: 'skipped', mechanism: done.mechanism ?? undefined, detail: `already applied at ${done.updatedAt} by an earlier delivery` });
      continue;
    }
    if (action.destructive && !decision.force) {
      const verdict = await allowDestructive(ledger, runtime.safety ?? DEFAULT_SAFETY, context.scope, new Date());
      if (!verdict.allowed) {
        // Said loudly: in the outcome, the ledger and the notification's notes.
        const withheld: ActionOutcome = verdict.transient
          ? { action: action.name, status: 'failed', mechanism: 'safety', errorCode: verdict.transient, detail: verdict.why }
          : { action: action.name, status: 'skipped', mechanism: 'safety', detail: verdict.why };
        outcomes.push(withheld);
        decision.notes.push(verdict.why);
        await ledger.recordOutcome(audit, action.name, withheld, context.recordTarget);
        continue;
      }
    }
    try {
      outcomes.push(...(await action.apply(step.params, context.target, { ...runtime, recordTarget: context.recordTarget })));
    } catch (error) {
      const failed: ActionOutcome = { action: action.name, status: 'failed', errorCode: failureCode(error), detail: awsErrorMessage(error) };
      outcomes.push(failed);
      await ledger.recordOutcome(audit, action.name, failed, context.recordTarget);
    }
  }
}

