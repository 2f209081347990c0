import { actingIn } from './acting-account';
import type { AwsClients } from './aws/clients';
import { deferredSdk } from './aws/deferred';
import type { MemberAccounts } from './aws/member-accounts';
import { isMutatingAction } from './actions/registry';
import { deploymentHome, type ResponderConfig } from './config';
import { parseOrReject } from './events/parse-or-reject';
import { normaliseGuardDutyFinding } from './events/guardduty';
import type { Finding } from './finding';
import type { Ledger } from './ledger';
import type { ActionOutcome } from './notification';
import { buildRuntimeNotification, containmentOf } from './notify/build-notification';
import { publishNotification } from './notify/publish-notification';
import { decide, type Decision } from './policy/decide';
import type { Policy } from './policy/policy';
import { stepsToRetry, type ActionRuntime, type Audit } from './actions/response-action';
import { EPISODE_ACTIONS, runSteps } from './run-steps';
import { observeSwitchReason } from './observe-switch';
import { readTaskState, type TaskState } from './task-state';

export interface PipelineDeps {
  clients: AwsClients;
  /** Organization-wide: how to act in a member account (absent: the responder acts only in its own). */
  memberAccounts?: MemberAccounts;
  ledger: Ledger;
  policy: Policy;
  config: ResponderConfig;
  now?: () => Date;
  /**
   * The live observe switch's value (shared/observe-switch.ts), not yet applied: the Lambda passes it unread so the
   * pipeline reads it in parallel with its first AWS calls. Absent: no live switch, or already applied to `config`.
   */
  readObserveSwitch?: () => Promise<string | undefined>;
}

/** What one event led to: the replay CLI prints it, the Lambda logs and returns it. */
export interface EventResult {
  finding: { id: string; type: string; severity: number } | null;
  decision: { policyRule: string; mode: 'observe' | 'enforce' } | null;
  actions: ActionOutcome[];
  notifications: number;
  containment?: string;
  /** Why nothing was done: no rule matched, a duplicate delivery, a sample. */
  ignored?: string;
  error?: string;
  /** Why the response was narrower than the rule (protection, observe switch, safety rails), as people were told. */
  notes?: string[];
}

const AUTOMATION = 'automation';

/**
 * Lambda's asynchronous invocations: the first and `maximumRetryAttempts: 2` retries (serverless.yml), then the
 * on-failure destination (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
 */
export const MAX_ATTEMPTS = 3;

/**
 * A response with a step that failed transiently, after it was recorded and people were told what held: thrown from
 * the entry point so Lambda delivers the event again (and, after the last attempt, to the failure queue).
 */
export class ResponseIncomplete extends Error {
  override readonly name = 'ResponseIncomplete';
  constructor(
    readonly ledgerId: string,
    readonly attempt: number,
    readonly pending: ActionOutcome[],
  ) {
    super(`${ledgerId}: attempt ${attempt} of ${MAX_ATTEMPTS} left ${pending.map((o) => `${o.action}${o.mechanism ? `/${o.mechanism}` : ''} (${o.errorCode})`).join(', ')} failed transiently`);
  }
}

/** What people are told about steps still failing transiently on this attempt. */
export function retryNotes(outcomes: ActionOutcome[], attempt: number, automatic: boolean): string[] {
  const pending = stepsToRetry(outcomes);
  if (!pending.length) return [];
  const steps = pending.map((o) => `${o.action}${o.mechanism ? ` (${o.mechanism})` : ''}: ${o.errorCode}`).join('; ');
  if (!automatic) return [`Failed transiently: ${steps}. Run the command again: what held is not repeated.`];
  return attempt >= MAX_ATTEMPTS
    ? [`Still failing after ${attempt} attempts: ${steps}. The event goes to the failure queue; act by hand (runbook).`]
    : [`Failed transiently: ${steps}. Retried automatically (attempt ${attempt} of ${MAX_ATTEMPTS}); what held is not repeated.`];
}

/**
 * After the steps: the claim is finished, or kept open (`retry`) while an automatic response still has a step that
 * failed transiently, so Lambda's re-delivery is a retry and not a duplicate. Returns those steps: the caller throws
 * `ResponseIncomplete` with them once its result is recorded and people were told.
 */
export async function settleClaim(ledger: Ledger, ledgerId: string, outcomes: ActionOutcome[], state: string, automatic: boolean, mode?: Decision['mode']): Promise<ActionOutcome[]> {
  const pending = automatic ? stepsToRetry(outcomes) : [];
  if (pending.length) await ledger.retryClaim(ledgerId, state, mode);
  else await ledger.finishClaim(ledgerId, state, mode);
  return pending;
}

/** The last of Lambda's attempts with a step still failing: people are told how many were made, and that it is not contained. */
export function attemptsHeadline(headline: string, outcomes: ActionOutcome[], attempt: number, automatic: boolean): string {
  const final = automatic && attempt >= MAX_ATTEMPTS && stepsToRetry(outcomes).length > 0;
  return final ? headline.replace(/^NOT (CONTAINED|QUARANTINED|STOPPED)/, `NOT CONTAINED after ${attempt} attempts`) : headline;
}

/** The result of a response that ran its steps: what was done, how many messages went out, what held. */
export function resultOf(
  summary: Pick<EventResult, 'finding' | 'decision'>,
  outcomes: ActionOutcome[],
  containment: { state: string; mechanism?: string },
  notes: string[],
): EventResult {
  return {
    ...summary,
    actions: outcomes,
    notifications: outcomes.filter((o) => o.action === 'notify' && o.status === 'applied').length,
    containment: containment.mechanism ? `${containment.state} (${containment.mechanism})` : containment.state,
    ...(notes.length ? { notes } : {}),
  };
}


function summarise(finding: Finding) {
  return { id: finding.id, type: finding.type, severity: finding.severity };
}

/** The one path for a GuardDuty Runtime Monitoring finding: parse, decide, then `respond`. */
export async function respondToRuntimeFinding(event: unknown, deps: PipelineDeps, requestedBy = AUTOMATION): Promise<EventResult> {
  const parsed = await parseOrReject(event, deps, normaliseGuardDutyFinding);
  if (!parsed.ok) return parsed.result;
  const finding = parsed.value;
  const result = decide(finding, deps.policy, deps.config, isMutatingAction);
  if (!result.act) return { finding: summarise(finding), decision: null, actions: [], notifications: 0, ignored: result.reason };
  return respond({
    finding,
    decision: result.decision,
    rawEvent: event,
    ledgerId: `guardduty:${finding.id}`,
    requestedBy,
    reason: `GuardDuty ${finding.type} (severity ${finding.severity})`,
  }, deps);
}

export interface ResponseRequest {
  finding: Finding;
  decision: Decision;
  rawEvent: unknown;
  ledgerId: string;
  requestedBy: string;
  reason: string;
  ticket?: string;
  /** Already read by the caller (the runbook reads it to check protection); saves a second DescribeTasks. */
  task?: TaskState;
}

/** The live switch forces observe mode: the decision observes, and says why. */
function observed(decision: Decision, why: string | undefined): Decision {
  if (!why || decision.mode === 'observe') return decision;
  return { ...decision, mode: 'observe', notes: [...decision.notes, why] };
}

/**
 * Reads the steps will need, started beside the episode's claim rather than after it: the network ACL a cut is planned
 * from, and the task definition and interface description the evidence and tags keep. Each is read once (TaskDetails);
 * a failure surfaces in the step that needs it.
 */
function prefetch(task: TaskState, decision: Decision): void {
  if (!task.found || decision.mode !== 'enforce') return;
  const uses = (name: string) => decision.steps.some((s) => s.action === name);
  const deniesInNetworkAcl = decision.steps.some((s) => s.action === 'isolate-task' && (s.params as { fallback?: string[] }).fallback?.includes('network-acl'));
  const reads = [
    ...(deniesInNetworkAcl ? [task.details.networkAcl()] : []),
    ...(uses('capture-evidence') ? [task.details.taskDefinition()] : []),
    ...(uses('capture-evidence') || uses('tag') ? [task.details.taskInterface()] : []),
  ];
  for (const read of reads) void read.catch(() => undefined);
}

/**
 * Claim, gather, apply (or describe, in observe mode), record, notify. Automation and people both come through here.
 * Containment first: the finding's claim, DescribeTasks and the live observe switch go at once; then the task's
 * episode beside the reads the cut needs; then the steps, the network cut ahead of anything that can wait.
 */
export async function respond(request: ResponseRequest, deps: PipelineDeps): Promise<EventResult> {
  const now = deps.now ?? (() => new Date());
  const { finding, ledgerId, requestedBy } = request;
  const summary = { finding: summarise(finding), decision: { policyRule: request.decision.policyRule, mode: request.decision.mode } };
  const readSwitch = deps.readObserveSwitch;
  const claiming = deps.ledger.claim({ ledgerId, severity: finding.severity, count: finding.count, mode: request.decision.mode });
  // A member account is reached after the claim: a duplicate delivery must not assume its role again (a role that
  // cannot be assumed is reported once). The responder's own account is read beside the claim.
  const member = deps.memberAccounts !== undefined && finding.account !== deploymentHome(deps.config).account;
  const reach = () => actingIn(deps, finding).then(async (acting) => (acting.ok ? { ...acting, task: request.task ?? (await readTaskState(acting.deps.clients, finding.task)) } : acting));
  // In a Lambda bundle the SDK code no first round trip needs (S3 for evidence, SNS for the notification) is a file of
  // its own (shared/aws/deferred): compiled now, while the first calls are in flight, rather than in the middle of the
  // steps, where it would hold up the network cut. A failure to load it surfaces in the step that needs it.
  setImmediate(() => {
    try {
      deferredSdk();
    } catch {
      // reported by the step that needs it
    }
  });
  const [claimed, reached, switched] = await Promise.allSettled([
    claiming,
    member ? claiming.then((c) => (c.claimed ? reach() : undefined)) : reach(),
    readSwitch ? observeSwitchReason(readSwitch) : Promise.resolve(undefined),
  ]);
  if (claimed.status === 'rejected') throw claimed.reason;
  const claim = claimed.value;
  if (!claim.claimed) {
    return { ...summary, actions: [], notifications: 0, ignored: `duplicate delivery ${claim.deliveries} of this finding: already handled (severity ${claim.severity})` };
  }
  if (reached.status === 'rejected') {
    // The lease lets a retry in anyway if this write fails too.
    await deps.ledger.abandonClaim(ledgerId).catch(() => undefined);
    throw reached.reason;
  }
  const acting = reached.value!;
  if (!acting.ok) return refuseResponse(request, acting.why, deps, summary);
  const switchReason = switched.status === 'fulfilled' ? switched.value : undefined;
  // Taken again only to move from observe to enforce, while the switch still observes: a duplicate after all.
  const previous = claim.previous;
  if (switchReason && request.decision.mode === 'enforce' && previous?.state === 'done' && previous.mode === 'observe' && finding.severity <= previous.severity) {
    await deps.ledger.finishClaim(ledgerId, previous.containment ?? 'observed', 'observe');
    return { ...summary, decision: { ...summary.decision, mode: 'observe' }, actions: [], notifications: 0, ignored: `duplicate delivery of this finding: already handled in observe mode, and the observe switch is still on` };
  }
  const decision = observed(request.decision, switchReason);
  summary.decision.mode = decision.mode;
  const { task } = acting;
  deps = acting.deps;

  const automatic = finding.source !== 'runbook';
  const target = `task:${task.taskArn}`;
  const outcomes: ActionOutcome[] = [];
  let episodeOpen = false;
  let pending: ActionOutcome[];
  let result: EventResult;
  try {
    prefetch(task, decision);
    // One containment per task: findings about the same task share its episode (ClaimBusyError while another runs it).
    const episode = decision.mode === 'enforce' && task.found && decision.steps.some((s) => EPISODE_ACTIONS.has(s.action)) ? await deps.ledger.openEpisode(target, ledgerId) : undefined;
    episodeOpen = episode !== undefined;
    const audit: Audit = { ledgerId, policyRule: decision.policyRule, mode: decision.mode, requestedBy, reason: request.reason, ticket: request.ticket };
    const runtime: ActionRuntime = {
      clients: deps.clients,
      ledger: deps.ledger,
      config: deps.config,
      audit,
      safety: deps.policy.safety,
      publishNotification: () => {
        const retry = retryNotes(outcomes, claim.attempt, automatic);
        const built = buildRuntimeNotification({
            finding,
            decision,
            outcomes,
            ledgerId,
            images: task.containers.length ? task.containers.map((c) => (c.imageDigest ? `${c.image.split('@')[0]}@${c.imageDigest}` : c.image)) : finding.task.containers.map((c) => c.image),
            requestedBy,
            evidenceBucket: deps.config.evidenceBucket,
            at: now(),
            notes: [...(task.found ? [] : [task.notFoundReason ?? 'DescribeTasks did not find the task.']), ...retry],
            homeAccount: deploymentHome(deps.config).account,
        });
        const headline = attemptsHeadline(built.headline, outcomes, claim.attempt, automatic);
        return publishNotification(deps.clients, deps.config.topicArn, {
          ...built,
          headline,
          ...(finding.source === 'runbook' ? { kind: 'runbook' as const, reason: request.reason, ticket: request.ticket } : {}),
        });
      },
    };
    const scope = { account: finding.account, cluster: finding.task.clusterName };
    const run = await runSteps(decision, { target: { finding, task, rawEvent: request.rawEvent }, recordTarget: target, scope, first: claim.reason === 'first', episode }, runtime, outcomes);
    const containment = containmentOf(decision, outcomes);
    [pending] = await Promise.all([
      settleClaim(deps.ledger, ledgerId, outcomes, containment.state, automatic, decision.mode),
      // The episode is retried with the claim: both by the same steps still to finish (what settleClaim returns).
      episode ? deps.ledger.closeEpisode(target, ledgerId, { ...run, retry: automatic && stepsToRetry(outcomes).length > 0 }) : undefined,
    ]);
    episodeOpen = false;
    result = resultOf(summary, outcomes, containment, [...decision.notes, ...retryNotes(outcomes, claim.attempt, automatic)]);
  } catch (error) {
    // The leases let a retry in anyway if these writes fail too.
    await Promise.all([
      deps.ledger.abandonClaim(ledgerId).catch(() => undefined),
      episodeOpen ? deps.ledger.closeEpisode(target, ledgerId, { held: [], counted: false, retry: true }).catch(() => undefined) : undefined,
    ]);
    throw error;
  }
  if (pending.length) throw new ResponseIncomplete(ledgerId, claim.attempt, pending);
  return result;
}

/**
 * A response the responder may not make (the finding's account is not one it acts in, or the member role cannot be
 * assumed): nothing is read or changed in that account; people are told why, once, and the claim is finished.
 */
async function refuseResponse(request: ResponseRequest, why: string, deps: PipelineDeps, summary: Pick<EventResult, 'finding' | 'decision'>): Promise<EventResult> {
  const now = deps.now ?? (() => new Date());
  const decision = { ...request.decision, steps: [], notes: [...request.decision.notes, why] };
  const notification = buildRuntimeNotification({
    finding: request.finding,
    decision,
    outcomes: [],
    ledgerId: request.ledgerId,
    requestedBy: request.requestedBy,
    evidenceBucket: deps.config.evidenceBucket,
    at: now(),
    images: request.finding.task.containers.map((c) => c.image),
  });
  const published = await publishNotification(deps.clients, deps.config.topicArn, notification);
  await deps.ledger.finishClaim(request.ledgerId, 'refused');
  return { ...summary, actions: [published], notifications: published.status === 'applied' ? 1 : 0, containment: 'not-contained', error: why, notes: decision.notes };
}
