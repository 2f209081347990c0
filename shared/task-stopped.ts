import type { NetworkAclDeny } from './aws/network-acl';
import { removeNetworkAclDeny } from './aws/network-acl';
import { InvalidEventError } from './events/invalid-event';
import { parseTaskStateChange } from './events/ecs-task-state';
import type { PipelineDeps } from './pipeline';

export interface TaskStoppedResult {
  taskArn?: string;
  removedEntries: number;
  error?: string;
}

/**
 * When a task the responder denied in a network ACL stops, its IP returns to the subnet's pool and may go to a
 * healthy task: remove the deny entries now, and record that in the ledger.
 */
export async function cleanUpStoppedTask(event: unknown, deps: PipelineDeps): Promise<TaskStoppedResult> {
  let taskArn: string;
  try {
    const change = parseTaskStateChange(event);
    if (change.detail.lastStatus !== 'STOPPED') return { taskArn: change.detail.taskArn, removedEntries: 0 };
    taskArn = change.detail.taskArn;
  } catch (error) {
    if (error instanceof InvalidEventError) return { removedEntries: 0, error: error.message };
    throw error;
  }
  const records = await deps.ledger.recordsForTarget(`task:${taskArn}`);
  let removedEntries = 0;
  for (const record of records) {
    if (record.mechanism !== 'network-acl' || (record.status !== 'applied' && record.status !== 'intent') || !record.beforeState) continue;
    const removed = await removeNetworkAclDeny(deps.clients, record.beforeState as unknown as NetworkAclDeny);
    removedEntries += removed;
    await deps.ledger.markReleased(record, { by: 'automation', reason: 'task stopped', detail: `removed ${removed} network-ACL deny entries` });
  }
  return { taskArn, removedEntries };
}
