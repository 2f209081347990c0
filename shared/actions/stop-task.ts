import { StopTaskCommand } from '@aws-sdk/client-ecs';
import { z } from 'zod';
import type { TaskState } from '../task-state';
import type { ActionOutcome } from '../notification';
import { defineAction, type ActionRuntime } from './response-action';

/** ECS caps StopTask's reason at 255 characters. */
const MAX_REASON = 255;

export function replacementNote(task: TaskState): string | undefined {
  return task.service
    ? `ECS will start a replacement for service ${task.service} from the same image digest: quarantine the image to stop it.`
    : undefined;
}

/** Stops a task once: a task already stopping or stopped is left as it is. Shared by `stop-task` and the isolation ladder. */
export async function stopTaskOnce(runtime: ActionRuntime, task: TaskState, step: string, action: string): Promise<ActionOutcome> {
  if (!task.found) return { action, status: 'skipped', mechanism: 'stop-task', detail: 'task not found (already gone)' };
  if (task.desiredStatus === 'STOPPED' || task.lastStatus === 'STOPPED') {
    return { action, status: 'skipped', mechanism: 'stop-task', detail: `task already ${task.lastStatus === 'STOPPED' ? 'stopped' : 'stopping'}` };
  }
  await runtime.ledger.writeAhead(runtime.audit, {
    step,
    action,
    mechanism: 'stop-task',
    target: `task:${task.taskArn}`,
    beforeState: { taskArn: task.taskArn, clusterArn: task.clusterArn, lastStatus: task.lastStatus ?? null, service: task.service ?? null },
  });
  const reason = `ecs-threat-responder: ${runtime.audit.reason} [${runtime.audit.ledgerId}, rule ${runtime.audit.policyRule}]`.slice(0, MAX_REASON);
  await runtime.clients.ecs.send(new StopTaskCommand({ cluster: task.clusterArn, task: task.taskArn, reason }));
  const note = replacementNote(task);
  const outcome: ActionOutcome = {
    action,
    status: 'applied',
    mechanism: 'stop-task',
    detail: ['StopTask sent; the task cannot be restarted.', note].filter(Boolean).join(' '),
    target: `task:${task.taskArn}`,
  };
  await runtime.ledger.recordOutcome(runtime.audit, step, outcome);
  return outcome;
}

export const stopTask = defineAction({
  name: 'stop-task',
  summary: 'StopTask with a reason naming the finding; idempotent. A service task is replaced by ECS from the same image digest.',
  params: z.strictObject({}),
  permissions: [{ actions: ['ecs:StopTask'], scope: 'ecs-task-in-cluster' }],
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
  apply: async (_params, { task }, runtime) => [await stopTaskOnce(runtime, task, 'stop-task', 'stop-task')],
});
