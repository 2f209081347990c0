import { CreateTagsCommand, DeleteTagsCommand } from '@aws-sdk/client-ec2';
import { TagResourceCommand, UntagResourceCommand } from '@aws-sdk/client-ecs';
import { awsErrorCode } from '../aws/errors';
import type { ActionRecord } from '../ledger';
import { describeTaskBrief } from '../task-state';
import { defineAction, type ActionRuntime } from './response-action';

export const TAG_FINDING = 'responder:finding';
export const TAG_STATE = 'responder:state';
export const TAG_RULE = 'responder:rule';
const OUR_KEYS = [TAG_FINDING, TAG_STATE, TAG_RULE];

type TagValues = Record<string, string | null>;

function ours(tags: Record<string, string>): TagValues {
  return Object.fromEntries(OUR_KEYS.map((key) => [key, tags[key] ?? null]));
}

async function setTaskTags(runtime: ActionRuntime, taskArn: string, values: TagValues): Promise<void> {
  const set = Object.entries(values).filter((e): e is [string, string] => e[1] !== null);
  const unset = Object.entries(values).filter(([, v]) => v === null).map(([k]) => k);
  if (set.length) await runtime.clients.ecs.send(new TagResourceCommand({ resourceArn: taskArn, tags: set.map(([key, value]) => ({ key, value })) }));
  if (unset.length) await runtime.clients.ecs.send(new UntagResourceCommand({ resourceArn: taskArn, tagKeys: unset }));
}

async function setInterfaceTags(runtime: ActionRuntime, eniId: string, values: TagValues): Promise<void> {
  const set = Object.entries(values).filter((e): e is [string, string] => e[1] !== null);
  const unset = Object.entries(values).filter(([, v]) => v === null).map(([k]) => k);
  if (set.length) await runtime.clients.ec2.send(new CreateTagsCommand({ Resources: [eniId], Tags: set.map(([Key, Value]) => ({ Key, Value })) }));
  if (unset.length) await runtime.clients.ec2.send(new DeleteTagsCommand({ Resources: [eniId], Tags: unset.map((Key) => ({ Key })) }));
}

/** `arn:aws:ecs:<region>:<account>:task/<cluster>/<id>` → the cluster's ARN. */
function clusterArnOfTask(taskArn: string): string {
  const [prefix = '', resource = ''] = taskArn.split(':task/');
  return `${prefix}:cluster/${resource.split('/')[0]}`;
}

/**
 * StopTask deletes a task's tags ("Any tags associated with the task will be deleted",
 * https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_StopTask.html), so a task asked to stop has none to
 * set or restore; what TagResource answers then is not documented, so it is not asked.
 */
function tagsDeletedBecause(task: { found: boolean; desiredStatus?: string }): string | undefined {
  if (!task.found) return 'the task no longer exists';
  return task.desiredStatus === 'STOPPED' ? 'the task is stopped or stopping, and ECS deleted its tags' : undefined;
}

/** Marks the task and its interface with the finding and state, so anyone looking at the console sees why. */
export const tagResources = defineAction({
  name: 'tag',
  summary: 'Tag the task and its network interface with the finding id, the rule and the response state (tags are allowed even on ECS-managed interfaces).',
  permissions: [
    { actions: ['ecs:TagResource', 'ecs:UntagResource'], scope: 'ecs-task-in-cluster' },
    // Release reads the task first: a stopped task's tags are gone.
    { actions: ['ecs:DescribeTasks'], scope: 'read-only' },
    { actions: ['ec2:CreateTags', 'ec2:DeleteTags'], scope: 'network-interface' },
  ],
  mutating: true,
  destructive: false,
  reversible: true,
  describe: (_params, { finding, task }) => [
    {
      action: 'tag',
      status: 'planned',
      mechanism: 'tags',
      detail: `would tag the task${task.taskInterface ? ` and ${task.taskInterface.id}` : ''} with ${TAG_FINDING}=${finding.id}`,
    },
  ],
  async apply(_params, { finding, task }, runtime) {
    if (!task.found) return [{ action: 'tag', status: 'skipped', detail: 'task not found' }];
    const untaggable = tagsDeletedBecause(task);
    if (untaggable) return [{ action: 'tag', status: 'skipped', mechanism: 'tags', detail: `not tagged: ${untaggable}` }];
    // In bridge/host mode this is the container instance's interface: the finding concerns that host too. An awsvpc
    // interface's tags are read now (its before-state), beside the network cut rather than before it.
    const eni = task.taskInterface ? await task.details.taskInterface() : task.hostInterface;
    const record = await runtime.ledger.writeAhead(runtime.audit, {
      step: 'tag',
      action: 'tag',
      mechanism: 'tags',
      target: `task:${task.taskArn}`,
      beforeState: { taskArn: task.taskArn, taskTags: ours(task.tags), ...(eni ? { networkInterfaceId: eni.id, interfaceTags: ours(eni.tags) } : {}) },
    });
    const values = { [TAG_FINDING]: finding.id, [TAG_STATE]: 'responding', [TAG_RULE]: runtime.audit.policyRule };
    await Promise.all([setTaskTags(runtime, task.taskArn, values), eni && setInterfaceTags(runtime, eni.id, values)]);
    runtime.ready?.();
    const outcome = { action: 'tag', status: 'applied' as const, mechanism: 'tags', detail: `tagged the task${eni ? ` and ${eni.id}` : ''}`, target: `task:${task.taskArn}` };
    await runtime.ledger.recordOutcome(runtime.audit, record.step, outcome);
    return [outcome];
  },
  async undo(record: ActionRecord, runtime) {
    const before = record.beforeState as { taskArn: string; taskTags: TagValues; networkInterfaceId?: string; interfaceTags?: TagValues };
    const task = await describeTaskBrief(runtime.clients, { arn: before.taskArn, clusterArn: clusterArnOfTask(before.taskArn) });
    const untaggable = tagsDeletedBecause(task);
    if (untaggable) {
      // A stopped task's interface is deleted with it (DEPROVISIONING): nothing is left to restore.
      return { action: 'tag', status: 'skipped', mechanism: 'tags', detail: `nothing to restore: ${untaggable}` };
    }
    // Exactly the previous values: keys that did not exist are removed (the ledger keeps the record of the release).
    await setTaskTags(runtime, before.taskArn, before.taskTags);
    if (before.networkInterfaceId && before.interfaceTags) {
      try {
        await setInterfaceTags(runtime, before.networkInterfaceId, before.interfaceTags);
      } catch (error) {
        // A stopped awsvpc task's interface is deleted with it: nothing left to untag.
        if (awsErrorCode(error) !== 'InvalidNetworkInterfaceID.NotFound') throw error;
        return { action: 'tag', status: 'applied', mechanism: 'tags', detail: `task tags restored; its interface ${before.networkInterfaceId} no longer exists` };
      }
    }
    return { action: 'tag', status: 'applied', mechanism: 'tags', detail: `the task's${before.networkInterfaceId ? ' and its interface\'s' : ''} previous tags restored` };
  },
});
