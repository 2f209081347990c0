import { actingIn } from './acting-account';
import type { AwsClients } from './aws/clients';
import type { MemberAccounts } from './aws/member-accounts';
import { isMutatingAction } from './actions/registry';
import type { ResponderConfig } from './config';
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
import { runSteps } from './run-steps';
import { readTaskState, type TaskState } from './task-state';

export interface PipelineDeps {
  clients: AwsClients;
  /** Organization-wide: how to act in a member account (absent: the responder acts only in its own). */
  memberAccounts?: MemberAccounts;
  ledger: Ledger;
  policy: Policy;
  config: ResponderConfig;
  now?: () => Date;
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
export async function settleClaim(ledger: Ledger, ledgerId: string, outcomes: ActionOutcome[], state: string, automatic: boolean): Promise<ActionOutcome[]> {
  const pending = automatic ? stepsToRetry(outcomes) : [];
  if (pending.length) await ledger.retryClaim(ledgerId, state);
  else await ledger.finishClaim(ledgerId, state);
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

/** Claim, gather, apply (or describe, in observe mode), record, notify. Automation and people both come through here. */
export async function respond(request: ResponseRequest, deps: PipelineDeps): Promise<EventResult> {
  const now = deps.now ?? (() => new Date());
  const { finding, decision, ledgerId, requestedBy } = request;
  const claim = await deps.ledger.claim({ ledgerId, severity: finding.severity, count: finding.count, mode: decision.mode });
  const summary = { finding: summarise(finding), decision: { policyRule: decision.policyRule, mode: decision.mode } };
  if (!claim.claimed) {
    return { ...summary, actions: [], notifications: 0, ignored: `duplicate delivery ${claim.deliveries} of this finding: already handled (severity ${claim.severity})` };
  }

  const automatic = finding.source !== 'runbook';
  const acting = await actingIn(deps, finding);
  if (!acting.ok) return refuseResponse(request, acting.why, deps, summary);
  deps = acting.deps;
  const outcomes: ActionOutcome[] = [];
  let pending: ActionOutcome[];
  let result: EventResult;
  try {
    const task = request.task ?? (await readTaskState(deps.clients, finding.task));
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
    await runSteps(decision, { target: { finding, task, rawEvent: request.rawEvent }, recordTarget: `task:${task.taskArn}`, scope }, runtime, outcomes);
    const containment = containmentOf(decision, outcomes);
    pending = await settleClaim(deps.ledger, ledgerId, outcomes, containment.state, automatic);
    result = resultOf(summary, outcomes, containment, [...decision.notes, ...retryNotes(outcomes, claim.attempt, automatic)]);
  } catch (error) {
    // The lease lets a retry in anyway if this write fails too.
    await deps.ledger.abandonClaim(ledgerId).catch(() => undefined);
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
    notes: [why],
    images: request.finding.task.containers.map((c) => c.image),
  });
  const published = await publishNotification(deps.clients, deps.config.topicArn, notification);
  await deps.ledger.finishClaim(request.ledgerId, 'refused');
  return { ...summary, actions: [published], notifications: published.status === 'applied' ? 1 : 0, containment: 'not-contained', error: why, notes: decision.notes };
}
