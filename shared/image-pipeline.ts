import { actingIn } from './acting-account';
import { isMutatingAction } from './actions/registry';
import type { ActionRuntime, Audit } from './actions/response-action';
import { parseOrReject } from './events/parse-or-reject';
import { normaliseImageFinding } from './events/image-finding';
import type { ImageFinding } from './finding';
import { deploymentHome } from './config';
import { imageLedgerId } from './image/image-reference';
import { findTasksUsingImage } from './image/tasks-using-image';
import type { ActionOutcome } from './notification';
import { buildImageNotification, imageContainmentOf, severityNumber } from './notify/build-image-notification';
import { publishNotification } from './notify/publish-notification';
import { attemptsHeadline, ResponseIncomplete, resultOf, retryNotes, settleClaim, type EventResult, type PipelineDeps } from './pipeline';
import { decideImage, type ImageDecision } from './policy/decide-image';
import { protectionReason } from './policy/decide';
import { runSteps } from './run-steps';

const AUTOMATION = 'automation';

/** For the replay report and logs: severity on GuardDuty's scale (CRITICAL 9, HIGH 7, …), like the notification. */
function summarise(finding: ImageFinding, rank: number, imageId: string) {
  return { id: imageId, type: `${finding.title} on ${finding.repository}`, severity: severityNumber(rank) };
}

/**
 * An Inspector2 Scan of something other than an ECR image (an EC2 instance, a Lambda function, a machine image): the
 * rule's pattern filters these out, and one that still arrives is not this responder's business, nor malformed.
 */
function nonEcrScan(event: unknown): string | undefined {
  const e = event as { 'detail-type'?: unknown; detail?: Record<string, unknown> } | null;
  if (e?.['detail-type'] !== 'Inspector2 Scan' || typeof e.detail !== 'object' || e.detail === null || 'repository-name' in e.detail) return undefined;
  return 'an Inspector scan of something other than an ECR image: not acted on';
}

/**
 * The one path for an image scan result (ECR basic scan, Inspector finding or scan): parse, decide, claim once per
 * image and severity, find the tasks running the digest, apply or describe, record, notify once.
 */
export async function respondToImageFinding(event: unknown, deps: PipelineDeps, requestedBy = AUTOMATION): Promise<EventResult> {
  const now = deps.now ?? (() => new Date());
  const notEcr = nonEcrScan(event);
  if (notEcr) return { finding: null, decision: null, actions: [], notifications: 0, ignored: notEcr };
  const parsed = await parseOrReject(event, deps, normaliseImageFinding);
  if (!parsed.ok) return parsed.result;
  const finding = parsed.value;
  const imageId = imageLedgerId(finding, deploymentHome(deps.config));
  const audit: Omit<Audit, 'policyRule' | 'mode'> = { ledgerId: imageId, requestedBy, reason: '' };

  if (!finding.actionable) {
    // Recorded whatever the policy says: a failed scan is a gap in coverage someone may need to see later.
    const outcome: ActionOutcome = { action: 'record-scan', status: 'skipped', detail: `${finding.title}: ${finding.status}, never acted on`, target: imageId };
    await deps.ledger.recordOutcome({ ...audit, policyRule: 'none', mode: 'observe', reason: finding.title }, `scan-status:${finding.status}`, outcome, imageId);
  }

  const result = decideImage(finding, deps.policy, deps.config, isMutatingAction, now());
  if (!result.act) {
    return { finding: summarise(finding, 0, imageId), decision: null, actions: [], notifications: 0, ignored: result.reason };
  }
  return respondToImage({ finding, decision: result.decision, rawEvent: event, requestedBy }, deps);
}

export interface ImageResponseRequest {
  finding: ImageFinding;
  decision: ImageDecision;
  rawEvent: unknown;
  requestedBy: string;
  /** A person's reason (runbook); automation's reason is the finding. */
  reason?: string;
  ticket?: string;
  /**
   * A person's request is its own ledger entry (claim and audit rows), so a quarantine after a release is never taken
   * for a repeated scan, and each episode keeps its own who and why. Its rows still target the image.
   */
  ledgerId?: string;
}

/** Claim, find the tasks running the digest, apply or describe, record, notify. Automation and people both come here. */
export async function respondToImage(request: ImageResponseRequest, deps: PipelineDeps): Promise<EventResult> {
  const now = deps.now ?? (() => new Date());
  const { finding, decision, requestedBy } = request;
  // Keyed by the image's registry: the same repository and digest in two members are two images.
  const imageId = imageLedgerId(finding, deploymentHome(deps.config));
  // One claim per image (and per non-acting status): Inspector's many per-CVE events make one message, and only a
  // rise in severity (or observe → enforce) acts again.
  const entryId = request.ledgerId ?? imageId;
  const ledgerId = request.ledgerId ?? (finding.actionable ? imageId : `${imageId}#${finding.status}`);
  const summary = { finding: summarise(finding, decision.severityRank, imageId), decision: { policyRule: decision.policyRule, mode: decision.mode } };
  const claim = await deps.ledger.claim({ ledgerId, severity: decision.severityRank, count: 1, mode: decision.mode });
  if (!claim.claimed) {
    return { ...summary, actions: [], notifications: 0, ignored: `already handled for this image (delivery ${claim.deliveries}, severity rank ${claim.severity}): one message per image` };
  }
  // Organization-wide: a member's repository and tasks are reached through the member role; a refusal only notifies.
  const acting = await actingIn(deps, finding);
  if (acting.ok) deps = acting.deps;
  const refused = acting.ok ? undefined : acting.why;
  const decisionHere = refused ? { ...decision, steps: decision.steps.filter((s) => s.action === 'notify'), notes: [...decision.notes, refused] } : decision;
  // Automation's response is retried with the event (Lambda's retries); a person runs their command again.
  const automatic = requestedBy === AUTOMATION && finding.source !== 'runbook';
  let pending: ActionOutcome[];
  let result: EventResult;
  try {
    const tasksUsingImage = finding.actionable && !refused ? await findTasksUsingImage(deps.clients, finding.repository, finding.digest, deps.config.imageTaskClusters) : [];
    const outcomes: ActionOutcome[] = [];
    const runtime: ActionRuntime = {
      clients: deps.clients,
      ledger: deps.ledger,
      config: deps.config,
      audit: {
        ledgerId: entryId,
        requestedBy,
        policyRule: decision.policyRule,
        mode: decisionHere.mode,
        reason: request.reason ?? `${finding.title} on ${finding.repository}`,
        ticket: request.ticket,
      },
      safety: deps.policy.safety,
      protectionOf: (target) => protectionReason(deps.policy, deps.config, target),
      publishNotification: () => {
        const built = buildImageNotification({
          finding,
          decision: decisionHere,
          severityCounts: decision.severityCounts,
          vulnerabilities: decision.vulnerabilities,
          tasksUsingImage,
          outcomes,
          ledgerId: entryId,
          requestedBy,
          at: now(),
          notes: retryNotes(outcomes, claim.attempt, automatic),
          homeAccount: deploymentHome(deps.config).account,
        });
        return publishNotification(deps.clients, deps.config.topicArn, {
          ...built,
          headline: attemptsHeadline(built.headline, outcomes, claim.attempt, automatic),
          // A person's command is a runbook message, with their reason.
          ...(request.reason ? { kind: 'runbook' as const, reason: request.reason, ticket: request.ticket } : {}),
        });
      },
    };
    await runSteps(decisionHere, { target: { finding, tasksUsingImage, rawEvent: request.rawEvent }, recordTarget: imageId, scope: { account: finding.account } }, runtime, outcomes);
    const containment = imageContainmentOf(decisionHere, outcomes);
    pending = await settleClaim(deps.ledger, ledgerId, outcomes, refused ? 'refused' : containment.state, automatic);
    result = { ...resultOf(summary, outcomes, containment, [...decisionHere.notes, ...retryNotes(outcomes, claim.attempt, automatic)]), ...(refused ? { error: refused } : {}) };
  } catch (error) {
    // The lease lets a retry in anyway if this write fails too.
    await deps.ledger.abandonClaim(ledgerId).catch(() => undefined);
    throw error;
  }
  if (pending.length) throw new ResponseIncomplete(ledgerId, claim.attempt, pending);
  return result;
}
