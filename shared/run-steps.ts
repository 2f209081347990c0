import { findAction } from './actions/registry';
import { holds, type ActionRuntime, type ActionTarget, type ImageActionTarget } from './actions/response-action';
import { awsErrorMessage, failureCode } from './aws/errors';
import type { ActionRecord, Episode } from './ledger';
import type { ActionOutcome } from './notification';
import type { Decision } from './policy/decide';
import { DEFAULT_SAFETY } from './policy/policy-schema';
import { allowDestructive, withheldOutcome, type SafetyVerdict } from './safety';

export interface StepContext {
  target: ActionTarget | ImageActionTarget;
  /** The ledger target of audit rows this runner writes itself: `task:<arn>` or `image:<repo>@<digest>`. */
  recordTarget: string;
  /** What the blast-radius limit counts against. */
  scope: { account: string; cluster?: string };
  /** The finding's first claim: no earlier delivery can have recorded a step, so the ledger is not asked. */
  first?: boolean;
  /** The task's episode: what earlier findings about it hold (skipped here), and whether it took its slot already. */
  episode?: Episode;
}

/** What the steps leave on the target, for its episode (`held`: `action/mechanism`). */
export interface StepsRun {
  held: string[];
  counted: boolean;
}

/** The steps a task's episode holds once for every finding about the task. */
export const EPISODE_ACTIONS: ReadonlySet<string> = new Set(['tag', 'isolate-task', 'stop-task']);

/** Take the blast-radius slot inside their apply, right before the change and beside its write-ahead. */
const ADMIT_INSIDE = new Set(['isolate-task', 'stop-task']);

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Runs a decision's steps, for tasks and images alike. Containment first: the steps run at once, except that a step
 * that destroys evidence (a stop) waits until every step listed before it is ready (evidence stored, tags set, the
 * network cut made), and `notify` runs last with every outcome. Observe mode describes instead of applying (notify
 * still runs); a step already applied by an earlier delivery, or held in the task's episode, is skipped; a disruptive
 * step takes the task's one blast-radius slot (fail closed), given back when nothing changed; a failing step is
 * recorded and does not stop the others. Outcomes are listed in the policy's order.
 */
export async function runSteps(decision: Decision, context: StepContext, runtime: ActionRuntime, outcomes: ActionOutcome[]): Promise<StepsRun> {
  const { ledger, audit } = runtime;
  const earlier = context.first ? [] : await ledger.actionRecords(audit.ledgerId);
  const notifySteps = decision.steps.filter((s) => s.action === 'notify');
  const steps = decision.steps.filter((s) => s.action !== 'notify');
  let admission: Promise<SafetyVerdict> | undefined;
  const admit = (action: string): Promise<ActionOutcome | undefined> => {
    if (decision.force || context.episode?.counted) return Promise.resolve(undefined);
    admission ??= allowDestructive(ledger, runtime.safety ?? DEFAULT_SAFETY, context.scope, new Date()).then((verdict) => {
      // Said loudly, once: in the notification's notes, and in each withheld step's outcome and record.
      if (!verdict.allowed) decision.notes.push(verdict.why);
      return verdict;
    });
    return admission.then((verdict) => (verdict.allowed ? undefined : withheldOutcome(verdict, action)));
  };

  const ready = steps.map(() => deferred());
  const runs = steps.map(async (step, index): Promise<ActionOutcome[]> => {
    try {
      const action = findAction(step.action)!;
      const stepRuntime: ActionRuntime = {
        ...runtime,
        earlier,
        admit,
        recordTarget: context.recordTarget,
        ready: ready[index]!.resolve,
        beforeStop: Promise.all(ready.slice(0, index).map((r) => r.promise)).then(() => undefined),
      };
      return await runStep(step, action, decision, context, stepRuntime, earlier);
    } finally {
      ready[index]!.resolve();
    }
  });
  // Every step settles before anything is decided: one step's unexpected error must not leave another changing the
  // task unseen after the response gave up.
  const settled = await Promise.allSettled(runs);
  for (const run of settled) if (run.status === 'rejected') throw run.reason;
  for (const run of settled as PromiseFulfilledResult<ActionOutcome[]>[]) outcomes.push(...run.value);
  for (const step of notifySteps) outcomes.push(...(await runStep(step, findAction(step.action)!, decision, context, { ...runtime, recordTarget: context.recordTarget }, earlier)));

  const verdict = admission ? await admission : undefined;
  // `failed` may have changed something (half a deny pair, a StopTask that timed out after reaching ECS); `skipped`
  // and `unsupported` (AWS refused) changed nothing.
  const changed = outcomes.some((o) => (o.status === 'applied' || o.status === 'failed') && o.mechanism !== 'safety' && findAction(o.action)?.destructive);
  // The slot counts a task disrupted: an action that changed nothing gives it back (a slot kept by mistake only
  // errs on the safe side, so a failure to give it back is not the response's).
  if (verdict?.allowed && !changed) await verdict.release().catch(() => undefined);
  // `action/mechanism`: a later finding's skip names what holds (the network ACL, the stop).
  const held = [...EPISODE_ACTIONS].flatMap((name) => {
    const holding = outcomes.find((o) => o.action === name && holds(o));
    return holding ? [`${name}/${holding.mechanism ?? ''}`] : [];
  });
  return { held, counted: Boolean(verdict?.allowed && changed) || Boolean(context.episode?.counted) };
}

async function runStep(
  step: Decision['steps'][number],
  action: NonNullable<ReturnType<typeof findAction>>,
  decision: Decision,
  context: StepContext,
  runtime: ActionRuntime,
  earlier: ActionRecord[],
): Promise<ActionOutcome[]> {
  const { ledger, audit } = runtime;
  if (decision.mode === 'observe' && !action.runsInObserveMode) {
    const planned = action.describe(step.params, context.target, runtime.config);
    for (const outcome of planned) await ledger.recordOutcome(audit, `observe:${action.name}:${outcome.mechanism ?? ''}`, outcome, context.recordTarget);
    return planned;
  }
  const done = earlier.find((r) => r.action === action.name && r.status === 'applied' && r.mode === 'enforce');
  if (done && action.name !== 'notify') {
    return [{ action: action.name, status: 'skipped', mechanism: done.mechanism ?? undefined, detail: `already applied at ${done.updatedAt} by an earlier delivery` }];
  }
  const held = context.episode?.held.find((h) => h.split('/')[0] === action.name);
  if (held) {
    const detail = `already applied in this task's episode, opened by ${context.episode!.openedBy}: one containment per task, nothing changed`;
    const joined: ActionOutcome = { action: action.name, status: 'skipped', mechanism: held.split('/')[1] || undefined, detail };
    await ledger.recordOutcome(audit, action.name, joined, context.recordTarget);
    return [joined];
  }
  if (action.destructive && !ADMIT_INSIDE.has(action.name)) {
    const withheld = await runtime.admit!(action.name);
    if (withheld) {
      await ledger.recordOutcome(audit, action.name, withheld, context.recordTarget);
      return [withheld];
    }
  }
  try {
    return await action.apply(step.params, context.target, runtime);
  } catch (error) {
    const failed: ActionOutcome = { action: action.name, status: 'failed', errorCode: failureCode(error), detail: awsErrorMessage(error) };
    // If the ledger fails here too, the invocation fails once every step has settled (runSteps), and Lambda's retry
    // finishes what is recorded as intent.
    await ledger.recordOutcome(audit, action.name, failed, context.recordTarget);
    return [failed];
  }
}
