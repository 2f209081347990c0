import { actingIn } from './acting-account';
import { stopTaskOnce } from './actions/stop-task';
import type { ActionRuntime, Audit } from './actions/response-action';
import { parseTaskStateChange } from './events/ecs-task-state';
import { parseOrReject } from './events/parse-or-reject';
import { deploymentHome } from './config';
import { ecrRegistryOf, imageLedgerId, parseImageReference } from './image/image-reference';
import { quarantineStateOf, type QuarantineState } from './image/quarantine-state';
import { guardImagePush } from './image-push-guard';
import type { ActionOutcome } from './notification';
import { buildLaunchGuardNotification } from './notify/build-launch-guard-notification';
import { publishNotification } from './notify/publish-notification';
import { attemptsHeadline, ResponseIncomplete, retryNotes, settleClaim, type EventResult, type PipelineDeps } from './pipeline';
import { forcedObserve } from './observe-switch';
import { protectionReason } from './policy/decide';
import { DEFAULT_SAFETY } from './policy/policy-schema';
import { allowDestructive, withheldOutcome } from './safety';
import { clusterTagsOf, describeTaskBrief, type TaskState } from './task-state';

const AUTOMATION = 'automation';
/** A task is starting or running: STOPPED is the `taskStopped` function's. */
const STARTING = new Set(['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING']);
const NONE: EventResult = { finding: null, decision: null, actions: [], notifications: 0 };

interface ContainerImage {
  image: string;
  imageDigest?: string;
}

type Hit = { repository: string; digest: string; uri: string; account: string; quarantine: Extract<QuarantineState, { state: 'enforced' | 'observed' }> };

async function firstQuarantined(deps: PipelineDeps, containers: ContainerImage[]): Promise<Hit | undefined> {
  const home = deploymentHome(deps.config);
  for (const c of containers) {
    const ref = parseImageReference(c.image);
    const digest = c.imageDigest ?? ref.digest;
    // The registry in the image names the account and region whose quarantine counts (a member's own, or one it pulls from).
    const registry = ecrRegistryOf(ref.registry);
    if (!digest || !registry) continue;
    const quarantine = await quarantineStateOf(deps.ledger, imageLedgerId({ ...registry, repository: ref.repository, digest }, home));
    if (quarantine.state !== 'none') return { repository: ref.repository, digest, account: registry.account, uri: `${c.image.split('@')[0]}@${digest}`, quarantine };
  }
  return undefined;
}

/** stop-task's own note (quarantine the image) is moot here: say what the quarantine does to a replacement. */
function stoppedDetail(task: TaskState, mechanism: string): string {
  if (!task.service) return 'StopTask sent, with a reason naming the quarantine.';
  return mechanism === 'archive'
    ? `StopTask sent. ECS will try a replacement for service ${task.service} from the same digest; it cannot pull the archived image.`
    : `StopTask sent. ECS will start a replacement for service ${task.service} from the same digest (tags removed, pulls by digest work); the launch guard stops each one: update the service to a fixed image.`;
}

/** The launch guard's Lambda entry: a starting task, or a push that may have restored a quarantined image. */
export async function guardLaunchOrPush(event: unknown, deps: PipelineDeps, requestedBy = AUTOMATION): Promise<EventResult> {
  const detailType = (event as { 'detail-type'?: unknown } | null)?.['detail-type'];
  return detailType === 'ECR Image Action' ? guardImagePush(event, deps, requestedBy) : guardTaskLaunch(event, deps, requestedBy);
}

/** Protection and the blast-radius limit apply to the launch guard's stops as to every destructive action. */
async function withheldBySafety(deps: PipelineDeps, runtime: ActionRuntime, task: TaskState, clusterName: string, now: Date): Promise<ActionOutcome | undefined> {
  const clusterTags = await clusterTagsOf(deps.clients, task.clusterArn);
  const protectedBy = protectionReason(deps.policy, deps.config, { clusterName, service: task.service, tags: task.tags, clusterTags });
  if (protectedBy) return { action: 'launch-guard', status: 'skipped', mechanism: 'safety', detail: `Protected resource (${protectedBy}): not stopped`, target: `task:${task.taskArn}` };
  const account = task.taskArn.split(':')[4] ?? '';
  const verdict = await allowDestructive(runtime.ledger, runtime.safety ?? DEFAULT_SAFETY, { account, cluster: clusterName }, now);
  return verdict.allowed ? undefined : withheldOutcome(verdict, 'launch-guard', `task:${task.taskArn}`);
}

/**
 * A task starting from a quarantined digest is stopped with a reason naming the quarantine. ECS puts the digest in
 * the event once resolved; an earlier event without it is answered from DescribeTasks.
 */
export async function guardTaskLaunch(event: unknown, deps: PipelineDeps, requestedBy = AUTOMATION): Promise<EventResult> {
  const now = deps.now ?? (() => new Date());
  const parsed = await parseOrReject(event, deps, parseTaskStateChange);
  if (!parsed.ok) return parsed.result;
  const change = parsed.value;
  const { detail } = change;
  if (!STARTING.has(detail.lastStatus) || detail.desiredStatus === 'STOPPED') return { ...NONE, ignored: `task is ${detail.lastStatus} (desired ${detail.desiredStatus ?? '?'}): not a launch` };
  // Organization-wide: a member's task is read and stopped through the member role, reached only when the task must
  // be read (the event lacks a digest, or an image is quarantined): most launches need no AWS call at all.
  const [, , , taskRegion = '', taskAccount = ''] = detail.taskArn.split(':');
  let inTaskAccount: PipelineDeps | undefined;
  const reachTask = async (): Promise<string | undefined> => {
    if (inTaskAccount) return undefined;
    const acting = await actingIn(deps, { account: taskAccount, region: taskRegion, id: detail.taskArn.split('/').pop() ?? 'launch' });
    if (!acting.ok) return acting.why;
    inTaskAccount = deps = acting.deps;
    return undefined;
  };

  let task: TaskState | undefined;
  let containers: ContainerImage[] = detail.containers.filter((c) => c.image).map((c) => ({ image: c.image!, imageDigest: c.imageDigest }));
  if (!containers.length || containers.some((c) => !c.imageDigest && !parseImageReference(c.image).digest)) {
    const refused = await reachTask();
    if (refused) return { ...NONE, error: refused };
    task = await describeTaskBrief(deps.clients, { arn: detail.taskArn, clusterArn: detail.clusterArn });
    containers = task.containers;
  }
  const hit = await firstQuarantined(deps, containers);
  if (!hit) return { ...NONE, ignored: `no quarantined image among ${containers.length} container${containers.length === 1 ? '' : 's'}` };
  const refused = await reachTask();
  if (refused) return { ...NONE, error: refused };

  const mode = hit.quarantine.state === 'observed' || forcedObserve(deps.policy, deps.config) ? 'observe' : 'enforce';
  const decision = { policyRule: hit.quarantine.policyRule, mode } as const;
  task ??= await describeTaskBrief(deps.clients, { arn: detail.taskArn, clusterArn: detail.clusterArn });
  if (!task.found || task.lastStatus === 'STOPPED' || task.desiredStatus === 'STOPPED') {
    // A service's replacement that could not pull the archived image: ECS stopped it before we looked.
    return { ...NONE, decision, ignored: `task already ${task.found ? 'stopped' : 'gone'}${task.raw.task?.stoppedReason ? `: ${task.raw.task.stoppedReason}` : ''}` };
  }
  const ledgerId = `launch-guard:${detail.taskArn}`;
  const claim = await deps.ledger.claim({ ledgerId, severity: 1, count: 1, mode });
  if (!claim.claimed) return { ...NONE, decision, ignored: `already handled this task's launch (delivery ${claim.deliveries})` };
  const automatic = requestedBy === AUTOMATION;
  let pending: ActionOutcome[];
  let result: EventResult;
  try {
    const audit: Audit = {
      ledgerId: hit.quarantine.ledgerId,
      policyRule: hit.quarantine.policyRule,
      mode,
      requestedBy,
      reason: `started from quarantined image ${hit.repository}`,
    };
    const outcomes: ActionOutcome[] = [];
    const build = () => {
      const built = buildLaunchGuardNotification({
        task,
        image: hit,
        quarantine: hit.quarantine,
        mode,
        outcomes,
        requestedBy,
        at: now(),
        region: change.region ?? detail.clusterArn.split(':')[3] ?? '',
        observeReason: forcedObserve(deps.policy, deps.config),
        homeAccount: deploymentHome(deps.config).account,
      });
      const retry = retryNotes(outcomes, claim.attempt, automatic);
      return { ...built, headline: attemptsHeadline(built.headline, outcomes, claim.attempt, automatic), notes: [...built.notes, ...retry] };
    };
    const runtime: ActionRuntime = {
      clients: deps.clients,
      ledger: deps.ledger,
      config: deps.config,
      audit,
      safety: deps.policy.safety,
      publishNotification: () => publishNotification(deps.clients, deps.config.topicArn, build()),
    };
    const step = `launch-guard:stop-task:${detail.taskArn.split('/').pop()}`;
    const clusterName = detail.clusterArn.split('/').pop() ?? '';
    const withheld = mode === 'enforce' ? await withheldBySafety(deps, runtime, task, clusterName, now()) : undefined;
    if (withheld) {
      outcomes.push(withheld);
      await deps.ledger.recordOutcome(audit, step, withheld, `task:${task.taskArn}`);
    } else if (mode === 'enforce') {
      // No minimum-healthy check: a task running a quarantined image is not one of the healthy tasks it protects.
      const stop = await stopTaskOnce(runtime, task, step, 'launch-guard', true);
      outcomes.push(stop.status === 'applied' ? { ...stop, detail: stoppedDetail(task, hit.quarantine.mechanism) } : { ...stop, detail: `${stop.detail}${task.raw.task?.stoppedReason ? `: ${task.raw.task.stoppedReason}` : ''}` });
    } else {
      const planned: ActionOutcome = { action: 'launch-guard', status: 'planned', mechanism: 'stop-task', detail: 'would stop the task', target: `task:${task.taskArn}` };
      outcomes.push(planned);
      await deps.ledger.recordOutcome(audit, `observe:${step}`, planned);
    }
    outcomes.push(await runtime.publishNotification());
    const notification = build();
    pending = await settleClaim(deps.ledger, ledgerId, outcomes, notification.containment.state, automatic);
    result = {
      ...NONE,
      decision,
      actions: outcomes,
      notifications: outcomes.filter((o) => o.action === 'notify' && o.status === 'applied').length,
      containment: notification.containment.mechanism ? `${notification.containment.state} (${notification.containment.mechanism})` : notification.containment.state,
      ...(notification.notes.length ? { notes: notification.notes } : {}),
    };
  } catch (error) {
    await deps.ledger.abandonClaim(ledgerId).catch(() => undefined);
    throw error;
  }
  if (pending.length) throw new ResponseIncomplete(ledgerId, claim.attempt, pending);
  return result;
}
