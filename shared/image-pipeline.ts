import { findAction } from './actions/registry';
import type { ActionRuntime, Audit, ImageActionTarget } from './actions/response-action';
import { awsErrorCode, awsErrorMessage } from './aws/errors';
import { InvalidEventError } from './events/invalid-event';
import { normaliseImageFinding } from './events/image-finding';
import type { ImageFinding } from './finding';
import { imageLedgerId } from './image/image-reference';
import { findTasksUsingImage } from './image/tasks-using-image';
import type { ActionOutcome } from './notification';
import { buildImageNotification, imageContainmentOf } from './notify/build-image-notification';
import { publishNotification } from './notify/publish-notification';
import type { EventResult, PipelineDeps } from './pipeline';
import { decideImage, type ImageDecision } from './policy/decide-image';

const AUTOMATION = 'automation';

const isMutating = (name: string) => findAction(name)?.mutating ?? true;

function eventId(event: unknown): string {
  const id = (event as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id ? id : `unidentified-${Date.now()}`;
}

function summarise(finding: ImageFinding, rank: number) {
  return { id: imageLedgerId(finding.repository, finding.digest), type: `${finding.title}`, severity: rank };
}

/** Observe mode describes instead of applying (notify still runs); a failing step does not stop the next. */
export async function runImageSteps(decision: ImageDecision, target: ImageActionTarget, runtime: ActionRuntime, outcomes: ActionOutcome[]): Promise<void> {
  for (const step of decision.steps) {
    const action = findAction(step.action)!;
    const imageTarget = target as never;
    if (decision.mode === 'observe' && !action.runsInObserveMode) {
      for (const planned of action.describe(step.params, imageTarget, runtime.config)) {
        outcomes.push(planned);
        await runtime.ledger.recordOutcome(runtime.audit, `observe:${action.name}:${planned.mechanism ?? ''}`, planned, runtime.audit.ledgerId);
      }
      continue;
    }
    try {
      if (action.name === 'notify') {
        // The registry's notify records against a task; an image's message is recorded against the image.
        const published = await runtime.publishNotification();
        await runtime.ledger.recordOutcome(runtime.audit, `notify:${new Date().toISOString()}`, published, runtime.audit.ledgerId);
        outcomes.push(published);
        continue;
      }
      outcomes.push(...(await action.apply(step.params, imageTarget, runtime)));
    } catch (error) {
      const failed: ActionOutcome = { action: action.name, status: 'failed', errorCode: awsErrorCode(error), detail: awsErrorMessage(error) };
      outcomes.push(failed);
      await runtime.ledger.recordOutcome(runtime.audit, action.name, failed, runtime.audit.ledgerId);
    }
  }
}

/**
 * The one path for an image scan result (ECR basic scan, Inspector finding or scan): parse, decide, claim once per
 * image and severity, find the tasks running the digest, apply or describe, record, notify once.
 */
export async function respondToImageFinding(event: unknown, deps: PipelineDeps, requestedBy = AUTOMATION): Promise<EventResult> {
  const now = deps.now ?? (() => new Date());
  let finding: ImageFinding;
  try {
    finding = normaliseImageFinding(event);
  } catch (error) {
    if (!(error instanceof InvalidEventError)) throw error;
    await deps.ledger.rejectEvent(eventId(event), error.message, event);
    return { finding: null, decision: null, actions: [], notifications: 0, error: error.message };
  }
  const imageId = imageLedgerId(finding.repository, finding.digest);
  const audit: Omit<Audit, 'policyRule' | 'mode'> = { ledgerId: imageId, requestedBy, reason: '' };

  if (!finding.actionable) {
    // Recorded whatever the policy says: a failed scan is a gap in coverage someone may need to see later.
    const outcome: ActionOutcome = { action: 'record-scan', status: 'skipped', detail: `${finding.title}: ${finding.status}, never acted on`, target: imageId };
    await deps.ledger.recordOutcome({ ...audit, policyRule: 'none', mode: 'observe', reason: finding.title }, `scan-status:${finding.status}`, outcome, imageId);
  }

  const result = decideImage(finding, deps.policy, deps.config, isMutating, now());
  if (!result.act) {
    return { finding: summarise(finding, 0), decision: null, actions: [], notifications: 0, ignored: result.reason };
  }
  const { decision } = result;
  // One claim per image (and per non-acting status): Inspector's many per-CVE events make one message, and only a
  // rise in severity (or observe → enforce) acts again.
  const ledgerId = finding.actionable ? imageId : `${imageId}#${finding.status}`;
  const summary = { finding: summarise(finding, decision.severityRank), decision: { policyRule: decision.policyRule, mode: decision.mode } };
  const claim = await deps.ledger.claim({ ledgerId, severity: decision.severityRank, count: 1, mode: decision.mode });
  if (!claim.claimed) {
    return { ...summary, actions: [], notifications: 0, ignored: `already handled for this image (delivery ${claim.deliveries}, severity rank ${claim.severity}): one message per image` };
  }
  try {
    const tasksUsingImage = finding.actionable ? await findTasksUsingImage(deps.clients, finding.repository, finding.digest, deps.config.imageTaskClusters) : [];
    const outcomes: ActionOutcome[] = [];
    const runtime: ActionRuntime = {
      clients: deps.clients,
      ledger: deps.ledger,
      config: deps.config,
      audit: { ...audit, ledgerId: imageId, policyRule: decision.policyRule, mode: decision.mode, reason: `${finding.title} on ${finding.repository}` },
      publishNotification: () =>
        publishNotification(
          deps.clients,
          deps.config.topicArn,
          buildImageNotification({
            finding,
            decision,
            severityCounts: decision.severityCounts,
            vulnerabilities: decision.vulnerabilities,
            tasksUsingImage,
            outcomes,
            ledgerId: imageId,
            requestedBy,
            at: now(),
          }),
        ),
    };
    await runImageSteps(decision, { finding, tasksUsingImage, rawEvent: event }, runtime, outcomes);
    const containment = imageContainmentOf(decision, outcomes);
    await deps.ledger.finishClaim(ledgerId, containment.state);
    return {
      ...summary,
      actions: outcomes,
      notifications: outcomes.filter((o) => o.action === 'notify' && o.status === 'applied').length,
      containment: containment.mechanism ? `${containment.state} (${containment.mechanism})` : containment.state,
    };
  } catch (error) {
    await deps.ledger.abandonClaim(ledgerId);
    throw error;
  }
}
