import { actingIn } from './acting-account';
import type { NetworkAclDeny } from './aws/network-acl';
import { removeNetworkAclDeny } from './aws/network-acl';
import { deploymentHome } from './config';
import { InvalidEventError } from './events/invalid-event';
import { parseTaskStateChange } from './events/ecs-task-state';
import type { ActionOutcome } from './notification';
import type { EventResult, PipelineDeps } from './pipeline';

/**
 * When a task the responder denied in a network ACL stops, its IP returns to the subnet's pool and may go to a
 * healthy task: remove the deny entries now, and record that in the ledger.
 */
export async function cleanUpStoppedTask(event: unknown, deps: PipelineDeps): Promise<EventResult> {
  const none: EventResult = { finding: null, decision: null, actions: [], notifications: 0 };
  let taskArn: string;
  try {
    const change = parseTaskStateChange(event, deploymentHome(deps.config));
    if (change.detail.lastStatus !== 'STOPPED') return { ...none, ignored: `task is ${change.detail.lastStatus}, not STOPPED` };
    taskArn = change.detail.taskArn;
  } catch (error) {
    if (error instanceof InvalidEventError) return { ...none, error: error.message };
    throw error;
  }
  const records = await deps.ledger.recordsForTarget(`task:${taskArn}`);
  // Organization-wide: a member's network ACL is changed through the member role.
  if (records.length) {
    const [, , , region = '', account = ''] = taskArn.split(':');
    const acting = await actingIn(deps, { account, region, id: taskArn.split('/').pop() ?? 'stopped' });
    if (!acting.ok) return { ...none, error: acting.why };
    deps = acting.deps;
  }
  const actions: ActionOutcome[] = [];
  for (const record of records) {
    // `failed` too: a half-made deny (ingress in, egress refused) still holds an entry of ours.
    if (record.mechanism !== 'network-acl' || !['applied', 'intent', 'failed'].includes(record.status) || !record.beforeState) continue;
    const deny = record.beforeState as unknown as NetworkAclDeny;
    const removed = await removeNetworkAclDeny(deps.clients, deny);
    const detail = `task stopped: removed ${removed} deny entr${removed === 1 ? 'y' : 'ies'} for ${deny.cidr} from ${deny.networkAclId}`;
    await deps.ledger.markReleased(record, { by: 'automation', reason: 'task stopped', detail });
    actions.push({ action: 'release', status: 'applied', mechanism: 'network-acl', detail, target: `task:${taskArn}` });
  }
  return actions.length ? { ...none, actions } : { ...none, ignored: 'the responder holds no network-ACL entry for this task' };
}
