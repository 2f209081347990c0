import { DescribeServicesCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { awsErrorCode, isTransient } from '../aws/errors';
import { DEFAULT_SAFETY } from '../policy/policy-schema';
import type { TaskState } from '../task-state';
import type { ActionOutcome } from '../notification';
import type { StopTaskParams } from './params';
import { defineAction, type ActionRuntime } from './response-action';

/** ECS caps StopTask's reason at 255 characters. */
const MAX_REASON = 255;

export function replacementNote(task: TaskState): string | undefined {
  return task.service
    ? `ECS will start a replacement for service ${task.service} from the same image digest, unless that digest is quarantined.`
    : undefined;
}

/** Why a stop would leave the task's service under its minimum healthy tasks, or undefined. Fails closed. */
async function minHealthyViolation(runtime: ActionRuntime, task: TaskState): Promise<string | undefined> {
  const minimum = (runtime.safety ?? DEFAULT_SAFETY).minHealthyTasks;
  if (!task.service || minimum === 0) return undefined;
  try {
    const out = await runtime.clients.ecs.send(new DescribeServicesCommand({ cluster: task.clusterArn, services: [task.service] }));
    const running = out.services?.[0]?.runningCount ?? 0;
    if (running - 1 >= minimum) return undefined;
    return `MIN-HEALTHY: service ${task.service} has ${running} running task${running === 1 ? '' : 's'}; a stop would leave fewer than ${minimum}. Not stopped (a rule may set ignoreMinHealthy: true).`;
  } catch (error) {
    // A throttle or 5xx is retried with the event (the stop still matters); only a lasting error withholds it.
    if (isTransient(error)) throw error;
    return `SAFETY CHECK FAILED (${awsErrorCode(error)}): could not count the service's healthy tasks, so no stop`;
  }
}

/**
 * Stops a task once: a task already stopping or stopped is left as it is. Shared by `stop-task` and the isolation
 * ladder. The write-ahead, the blast-radius slot and the service's healthy count are asked at once; the stop itself
 * waits for the evidence (`beforeStop`), which it would destroy.
 */
export async function stopTaskOnce(runtime: ActionRuntime, task: TaskState, step: string, action: string, ignoreMinHealthy = false): Promise<ActionOutcome> {
  if (!task.found) return { action, status: 'skipped', mechanism: 'stop-task', detail: 'task not found (already gone)' };
  if (task.desiredStatus === 'STOPPED' || task.lastStatus === 'STOPPED') {
    return { action, status: 'skipped', mechanism: 'stop-task', detail: `task already ${task.lastStatus === 'STOPPED' ? 'stopped' : 'stopping'}` };
  }
  const target = `task:${task.taskArn}`;
  const [unhealthy, withheld] = await Promise.all([
    ignoreMinHealthy ? undefined : minHealthyViolation(runtime, task),
    runtime.admit?.(action),
    runtime.ledger.writeAhead(runtime.audit, {
      step,
      action,
      mechanism: 'stop-task',
      target,
      beforeState: { taskArn: task.taskArn, clusterArn: task.clusterArn, lastStatus: task.lastStatus ?? null, service: task.service ?? null },
    }),
    runtime.beforeStop,
  ]);
  const notStopped: ActionOutcome | undefined = unhealthy ? { action, status: 'skipped', mechanism: 'safety', detail: unhealthy, target } : withheld && { ...withheld, target };
  if (notStopped) {
    // Nothing changed: the record written ahead now says why.
    await runtime.ledger.recordOutcome(runtime.audit, step, notStopped);
    return notStopped;
  }
  const reason = `ecs-threat-responder: ${runtime.audit.reason} [${runtime.audit.ledgerId}, rule ${runtime.audit.policyRule}]`.slice(0, MAX_REASON);
  await runtime.clients.ecs.send(new StopTaskCommand({ cluster: task.clusterArn, task: task.taskArn, reason }));
  const note = replacementNote(task);
  const outcome: ActionOutcome = {
    action,
    status: 'applied',
    mechanism: 'stop-task',
    detail: ['StopTask sent; the task cannot be restarted.', note].filter(Boolean).join(' '),
    target,
  };
  await runtime.ledger.recordOutcome(runtime.audit, step, outcome);
  return outcome;
}

export const stopTask = defineAction<StopTaskParams>({
  name: 'stop-task',
  summary: 'StopTask with a reason naming the finding; idempotent. A service task is replaced by ECS from the same image digest.',
  permissions: [
    { actions: ['ecs:StopTask'], scope: 'ecs-task-in-cluster' },
    { actions: ['ecs:DescribeServices'], scope: 'read-only' },
  ],
  mutating: true,
  destructive: true,
  reversible: false,
  describe: (_params, { task }) => [
    {
      action: 'stop-task',
      status: 'planned',
      mechanism: 'stop-task',
      detail: ['would stop the task.', replacementNote(task)].filter(Boolean).join(' '),
    },
  ],
  apply: async (params, { task }, runtime) => [await stopTaskOnce(runtime, task, 'stop-task', 'stop-task', params.ignoreMinHealthy)],
});
