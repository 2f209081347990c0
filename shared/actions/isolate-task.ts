import { CreateTagsCommand, DeleteTagsCommand, ModifyNetworkInterfaceAttributeCommand, type NetworkAcl } from '@aws-sdk/client-ec2';
import { awsErrorCode, failureCode, isAwsError, isRefusal, isTransient, refusedOrFailed } from '../aws/errors';
import { applyNetworkAclDeny, HalfMadeDeny, networkAclForSubnet, planNetworkAclDeny, removeNetworkAclDeny, RuleNumberTaken, type NetworkAclDeny } from '../aws/network-acl';
import { quarantineSecurityGroup, QuarantineGroupNotEmpty, type QuarantineGroup } from '../aws/quarantine-security-group';
import type { ActionRecord } from '../ledger';
import type { ActionOutcome } from '../notification';
import type { InterfaceState, TaskInterface, TaskState } from '../task-state';
import type { IsolateTaskParams } from './params';
import { defineAction, holds, type ActionRuntime } from './response-action';
import { stopTaskOnce } from './stop-task';

export const ORIGINAL_GROUPS_TAG = 'responder:original-groups';
const ACTION = 'isolate-task';

type Params = IsolateTaskParams;

/**
 * The interface that carries the task's traffic, or why there is none we may touch. An awsvpc task's own interface is
 * ECS-managed: AWS refuses to change its groups, which DescribeTasks alone tells (`ecsManaged`).
 */
type Isolation = { eni: TaskInterface; ecsManaged: true } | { eni: InterfaceState; ecsManaged: false } | { why: string };

function isolationInterface(task: TaskState, params: Params): Isolation {
  if (task.taskInterface) return { eni: task.taskInterface, ecsManaged: true };
  if (task.hostInterface) {
    return params.hostIsolation
      ? { eni: task.hostInterface, ecsManaged: false }
      : { why: `${task.networkMode ?? 'bridge'} mode: the task shares instance ${task.hostInterface.instanceId}'s interface; host isolation is opt-in (hostIsolation: true)` };
  }
  return { why: 'no network interface found for the task' };
}

/**
 * Only AWS's own answer decides the status: an error in the swap is `unsupported` (refused) or `failed` (it may or
 * may not have happened: the row keeps its before-state and release undoes it). An error recording the outcome
 * after the change propagates, leaving the row at `intent`, and the retry finishes it.
 */
async function swapSecurityGroups(runtime: ActionRuntime, task: TaskState, eni: InterfaceState): Promise<ActionOutcome> {
  const step = `${ACTION}:security-group`;
  const target = `task:${task.taskArn}`;
  // Before anything is made (even the quarantine group): the task's blast-radius slot.
  const withheld = await runtime.admit?.(ACTION);
  if (withheld) {
    const outcome = { ...withheld, target };
    await runtime.ledger.recordOutcome(runtime.audit, step, outcome, target);
    return outcome;
  }
  let quarantine: QuarantineGroup;
  try {
    quarantine = await quarantineSecurityGroup(runtime.clients, eni.vpcId, runtime.config.quarantineSecurityGroups);
  } catch (error) {
    // No usable empty group: nothing changed on the interface, and the ladder goes on to its next rung.
    // A revoke that failed transiently leaves the group unusable for now, not for good: the code says which.
    const outcome =
      error instanceof QuarantineGroupNotEmpty
        ? { action: ACTION, status: 'failed' as const, mechanism: 'security-group', errorCode: isTransient(error.cause) ? failureCode(error.cause) : error.name, detail: `not used: ${error.message}`, target }
        : refusedOrFailed(ACTION, 'security-group', error, target);
    await runtime.ledger.recordOutcome(runtime.audit, step, outcome, target);
    return outcome;
  }
  const { groupId } = quarantine;
  const own = runtime.earlier?.find((r) => r.step === step);
  // AWS's refusal is final: an earlier delivery recorded it, so the retry goes straight to the next rung.
  if (own?.status === 'unsupported') return { action: ACTION, status: 'unsupported', mechanism: 'security-group', errorCode: own.errorCode ?? undefined, detail: `${own.detail ?? 'refused'} (recorded by an earlier delivery)`, target };
  if ((!own || own.status === 'released') && eni.groups.length === 1 && eni.groups[0] === groupId) {
    // Another response holds this quarantine: its record keeps the original groups; this one must not record the quarantine as "original".
    return { action: ACTION, status: 'skipped', mechanism: 'security-group', detail: `already applied: ${eni.id} is in quarantine group ${groupId} (another response holds it); nothing changed`, target };
  }
  const record = await runtime.ledger.writeAhead(runtime.audit, {
    step,
    action: ACTION,
    mechanism: 'security-group',
    target,
    beforeState: { networkInterfaceId: eni.id, groups: eni.groups, quarantineGroupId: groupId },
  });
  const original = (record.beforeState?.groups as string[]) ?? eni.groups;
  let outcome: ActionOutcome;
  try {
    await runtime.clients.ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eni.id, Groups: [groupId] }));
    const repaired = quarantine.repaired.length ? ` (its rules ${quarantine.repaired.join('; ')} were revoked first)` : '';
    outcome = { action: ACTION, status: 'applied', mechanism: 'security-group', detail: `${eni.id} moved from ${original.join(', ') || 'no groups'} to quarantine group ${groupId}${repaired}`, target };
  } catch (error) {
    outcome = refusedOrFailed(ACTION, 'security-group', error, target);
    if (outcome.status === 'unsupported') outcome.detail += ` (${eni.requesterManaged ? 'ECS-managed interface: AWS does not allow changing its groups' : eni.id})`;
  }
  if (outcome.status === 'applied') {
    // Only after the swap held (a refused or failed swap must leave no such tag): the interface says what it had, for
    // anyone reading the console. The ledger is the source of truth, so a failure here does not undo the swap.
    await runtime.clients.ec2
      .send(new CreateTagsCommand({ Resources: [eni.id], Tags: [{ Key: ORIGINAL_GROUPS_TAG, Value: original.join(',') }] }))
      .catch((error: unknown) => (outcome.detail += `; the ${ORIGINAL_GROUPS_TAG} tag was not written (${awsErrorCode(error)})`));
  }
  await runtime.ledger.recordOutcome(runtime.audit, step, outcome, target);
  return outcome;
}

const NACL_ATTEMPTS = 8;

/** Deny-all entries for the CIDR in both directions, described, or undefined. */
function existingDeny(acl: NetworkAcl, cidr: string): string | undefined {
  const deny = (egress: boolean) => acl.Entries?.find((e) => e.Egress === egress && e.RuleAction === 'deny' && e.Protocol === '-1' && e.CidrBlock === cidr);
  const [inbound, outbound] = [deny(false), deny(true)];
  return inbound && outbound ? `${acl.NetworkAclId} denies ${cidr} (rules ${inbound.RuleNumber} in, ${outbound.RuleNumber} out)` : undefined;
}

/** Where a network-ACL deny goes: the interface's subnet and address (DescribeTasks gives both for an awsvpc task). */
type DenyTarget = Pick<InterfaceState, 'subnetId' | 'privateIp'>;

async function denyInNetworkAcl(runtime: ActionRuntime, task: TaskState, eni: DenyTarget): Promise<ActionOutcome> {
  const step = `${ACTION}:network-acl`;
  const target = `task:${task.taskArn}`;
  let planned: NetworkAclDeny;
  try {
    // Read beside the claims for an awsvpc task (TaskDetails.networkAcl), so this is usually already known.
    const acl = eni === task.taskInterface ? await task.details.networkAcl() : await networkAclForSubnet(runtime.clients, eni.subnetId);
    if (!acl) throw new Error(`no network ACL is associated with ${eni.subnetId}`);
    const own = runtime.earlier?.find((r) => r.step === step);
    const held = own ? undefined : existingDeny(acl, `${eni.privateIp}/32`);
    // Another response (a repeated isolate) already denies this /32 both ways: a second pair would change nothing.
    if (held) return { action: ACTION, status: 'skipped', mechanism: 'network-acl', detail: `already applied: ${held}; nothing changed`, target };
    planned = planNetworkAclDeny(acl, eni.privateIp);
  } catch (error) {
    // Nothing was changed: no before-state to keep.
    const outcome = refusedOrFailed(ACTION, 'network-acl', error, target);
    await runtime.ledger.recordOutcome(runtime.audit, step, outcome, target);
    return outcome;
  }
  // A retry after a crash reuses the numbers it wrote ahead; a collision with a concurrent isolation re-plans. The
  // task's blast-radius slot is taken beside the write-ahead.
  const [record, withheld] = await Promise.all([
    runtime.ledger.writeAhead(runtime.audit, { step, action: ACTION, mechanism: 'network-acl', target, beforeState: { ...planned } }),
    runtime.admit?.(ACTION),
  ]);
  if (withheld) {
    const outcome = { ...withheld, target };
    await runtime.ledger.recordOutcome(runtime.audit, step, outcome, target);
    return outcome;
  }
  let deny = record.beforeState as unknown as NetworkAclDeny;
  let outcome: ActionOutcome | undefined;
  for (let attempt = 1; !outcome; attempt++) {
    try {
      await applyNetworkAclDeny(runtime.clients, deny);
      outcome = {
        action: ACTION,
        status: 'applied',
        mechanism: 'network-acl',
        detail: `denied all traffic to and from ${deny.cidr} in ${deny.networkAclId} (rules ${deny.ingressRule} in, ${deny.egressRule} out). Same-subnet traffic is not filtered by network ACLs; load-balancer health checks now fail, so ECS will replace a service task.`,
        target,
      };
    } catch (error) {
      if (!(error instanceof RuleNumberTaken) || attempt === NACL_ATTEMPTS) {
        // Half made (ingress in, egress refused) stays in the ledger as failed with its before-state: release removes it.
        if (error instanceof HalfMadeDeny) {
          const cause = refusedOrFailed(ACTION, 'network-acl', error.cause, target);
          outcome = { ...cause, status: 'failed', detail: `half made, ${error.message}: ${cause.detail}` };
        } else outcome = refusedOrFailed(ACTION, 'network-acl', error, target);
        break;
      }
      // Only the direction whose number was taken moves (at random, so concurrent isolations stop colliding); an
      // entry already made in the other direction stays where it is, and the ledger learns the new number first.
      const fresh = await networkAclForSubnet(runtime.clients, eni.subnetId);
      const replanned = planNetworkAclDeny(fresh!, eni.privateIp, 'random');
      deny = error.egress ? { ...deny, egressRule: replanned.egressRule } : { ...deny, ingressRule: replanned.ingressRule };
      await runtime.ledger.replaceBeforeState(runtime.audit.ledgerId, step, { ...deny });
    }
  }
  await runtime.ledger.recordOutcome(runtime.audit, step, outcome, target);
  return outcome;
}

export const isolateTask = defineAction<Params>({
  name: ACTION,
  summary:
    'Containment ladder: swap the interface to the quarantine security group; where AWS refuses (ECS-managed interfaces), record the refusal and go down the fallback list (network-ACL deny of the task /32, then stop).',
  permissions: [
    { actions: ['ec2:ModifyNetworkInterfaceAttribute', 'ec2:CreateTags', 'ec2:DeleteTags'], scope: 'network-interface' },
    { actions: ['ec2:CreateSecurityGroup', 'ec2:RevokeSecurityGroupEgress', 'ec2:RevokeSecurityGroupIngress', 'ec2:CreateTags'], scope: 'security-group' },
    { actions: ['ec2:CreateNetworkAclEntry', 'ec2:DeleteNetworkAclEntry'], scope: 'network-acl' },
    { actions: ['ecs:StopTask'], scope: 'ecs-task-in-cluster' },
  ],
  mutating: true,
  destructive: true,
  reversible: true,
  describe(params, { task }) {
    const target = isolationInterface(task, params);
    const planned: ActionOutcome[] = [];
    if ('why' in target) planned.push({ action: ACTION, status: 'planned', mechanism: 'security-group', detail: `would not swap: ${target.why}` });
    else if (target.ecsManaged) {
      planned.push({ action: ACTION, status: 'planned', mechanism: 'security-group', detail: `would try ${target.eni.id}; AWS refuses group changes on ECS-managed interfaces, so the fallback would hold` });
    } else {
      return [{ action: ACTION, status: 'planned', mechanism: 'security-group', detail: `would move ${target.eni.id} to the quarantine group` }];
    }
    for (const rung of params.fallback) {
      planned.push({
        action: ACTION,
        status: 'planned',
        mechanism: rung,
        detail: rung === 'network-acl' ? `would deny ${task.taskInterface?.privateIp ?? 'the task IP'}/32 in the subnet's network ACL` : 'would stop the task',
      });
    }
    return planned;
  },
  async apply(params, { task }, runtime) {
    if (!task.found) return [{ action: ACTION, status: 'skipped', detail: 'task not found (already gone)' }];
    // desiredStatus STOPPED: StopTask was called and the task is on its way down (DEACTIVATING … STOPPED); its
    // interface goes at DEPROVISIONING (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-lifecycle-explanation.html).
    if (task.lastStatus === 'STOPPED' || task.desiredStatus === 'STOPPED') return [{ action: ACTION, status: 'skipped', detail: `task already ${task.lastStatus === 'STOPPED' ? 'stopped' : 'stopping'}` }];
    const target = isolationInterface(task, params);
    // Containment first: an error in one rung (even the ledger's) is that rung's failure, and the next rung is tried.
    const rung = async (mechanism: string, run: () => Promise<ActionOutcome>): Promise<ActionOutcome> => {
      try {
        return await run();
      } catch (error) {
        // AWS's answers only (the ledger's included); anything else is a defect or the end of the invocation.
        if (!isAwsError(error)) throw error;
        return refusedOrFailed(ACTION, mechanism, error, `task:${task.taskArn}`);
      }
    };
    const fallbacks = async (): Promise<ActionOutcome[]> => {
      const held: ActionOutcome[] = [];
      for (const fallback of params.fallback) {
        const outcome =
          fallback === 'stop-task'
            ? await rung('stop-task', () => stopTaskOnce(runtime, task, `${ACTION}:stop-task`, ACTION))
            : 'eni' in target
              ? await rung('network-acl', () => denyInNetworkAcl(runtime, task, target.eni))
              : { action: ACTION, status: 'unsupported' as const, mechanism: 'network-acl', detail: 'no task IP to deny' };
        held.push(outcome);
        if (holds(outcome)) break;
      }
      return held;
    };
    if ('why' in target) return [{ action: ACTION, status: 'unsupported', mechanism: 'security-group', detail: target.why }, ...(await fallbacks())];
    if (target.ecsManaged) {
      // AWS always refuses the swap here: it is still attempted and recorded, beside the fallback and never before it,
      // so the network cut does not wait for the quarantine group or the interface's description.
      const swap = rung('security-group', async () => {
        const eni = await task.details.taskInterface();
        if (!eni) return { action: ACTION, status: 'unsupported', mechanism: 'security-group', detail: `${target.eni.id} no longer exists (its task is stopping)`, target: `task:${task.taskArn}` };
        return swapSecurityGroups(runtime, task, eni);
      });
      // Both settle before the step ends (neither left running after an unexpected error); a stop may follow the cut.
      const [swapped, rest] = await Promise.allSettled([swap, fallbacks().finally(() => runtime.ready?.())]);
      if (swapped.status === 'rejected') throw swapped.reason;
      if (rest.status === 'rejected') throw rest.reason;
      return [swapped.value, ...rest.value];
    }
    const swap = await rung('security-group', () => swapSecurityGroups(runtime, task, target.eni));
    return holds(swap) ? [swap] : [swap, ...(await fallbacks())];
  },
  async undo(record: ActionRecord, runtime): Promise<ActionOutcome> {
    const before = record.beforeState ?? {};
    if (record.mechanism === 'security-group') {
      const eniId = String(before.networkInterfaceId);
      try {
        await runtime.clients.ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId, Groups: before.groups as string[] }));
      } catch (error) {
        // AWS refuses group changes on this interface (ECS-managed): the swap never happened, so nothing to restore.
        if (isRefusal(error) && awsErrorCode(error) !== 'InvalidNetworkInterfaceID.NotFound') {
          return { action: ACTION, status: 'applied', mechanism: 'security-group', detail: `${eniId}: AWS does not allow changing its groups (${awsErrorCode(error)}), so they never changed: nothing to restore` };
        }
        if (awsErrorCode(error) !== 'InvalidNetworkInterfaceID.NotFound') throw error;
        return { action: ACTION, status: 'applied', mechanism: 'security-group', detail: `${eniId} no longer exists (its task or instance is gone): nothing to restore` };
      }
      await runtime.clients.ec2.send(new DeleteTagsCommand({ Resources: [eniId], Tags: [{ Key: ORIGINAL_GROUPS_TAG }] }));
      return { action: ACTION, status: 'applied', mechanism: 'security-group', detail: `${eniId} restored to ${(before.groups as string[]).join(', ')}` };
    }
    if (record.mechanism === 'network-acl') {
      const deny = before as unknown as NetworkAclDeny;
      const removed = await removeNetworkAclDeny(runtime.clients, deny);
      return { action: ACTION, status: 'applied', mechanism: 'network-acl', detail: `removed ${removed} deny entr${removed === 1 ? 'y' : 'ies'} for ${deny.cidr} from ${deny.networkAclId}` };
    }
    return { action: ACTION, status: 'unsupported', mechanism: record.mechanism, detail: 'a stopped task cannot be restarted' };
  },
});
