import { quarantineImageParams } from './actions/params';
import { quarantineImage, quarantineTagFor } from './actions/quarantine-image';
import { parseOrReject } from './events/parse-or-reject';
import { parseImagePush } from './events/ecr-image-action';
import type { ImageFinding } from './finding';
import { deploymentHome } from './config';
import { imageLedgerId } from './image/image-reference';
import { quarantineStateOf } from './image/quarantine-state';
import { respondToImage } from './image-pipeline';
import { forcedObserve } from './observe-switch';
import type { EventResult, PipelineDeps } from './pipeline';
import type { ImageDecision } from './policy/decide-image';

const NONE: EventResult = { finding: null, decision: null, actions: [], notifications: 0 };

/** The quarantine-image parameters of the rule that quarantined the digest (defaults if the rule is gone). */
function quarantineParams(deps: PipelineDeps, policyRule: string) {
  const step = deps.policy.rules.find((r) => r.name === policyRule)?.steps.find((s) => s.action === quarantineImage.name);
  return quarantineImageParams.parse(step?.params ?? {});
}

/**
 * Re-pushing an archived image restores it to standard storage (archive-image.html), so a CI push can silently
 * un-quarantine a digest: a push of a quarantined digest is quarantined again and reported.
 */
export async function guardImagePush(event: unknown, deps: PipelineDeps, requestedBy: string): Promise<EventResult> {
  const now = deps.now ?? (() => new Date());
  const parsed = await parseOrReject(event, deps, parseImagePush);
  if (!parsed.ok) return parsed.result;
  const push = parsed.value;
  if (push.result !== 'SUCCESS') return { ...NONE, ignored: `push ${push.result}: nothing was stored` };
  // The tag fallback retags with PutImage, which ECR reports as a push: that one is the responder's own.
  if (push.tag === quarantineTagFor(push.digest)) return { ...NONE, ignored: "the responder's own quarantine tag" };
  // ECR emits the push in the registry's own account and region (a member's arrives forwarded, envelope unchanged);
  // the intake has checked and kept both.
  const home = deploymentHome(deps.config);
  const registry = { account: push.account, region: push.region };
  const quarantine = await quarantineStateOf(deps.ledger, imageLedgerId({ ...registry, repository: push.repository, digest: push.digest }, home));
  if (quarantine.state !== 'enforced') return { ...NONE, ignored: `${push.repository}@${push.digest.slice(0, 19)}… is not quarantined${quarantine.state === 'observed' ? ' (observe mode only)' : ''}` };

  const id = (event as { id?: unknown }).id;
  const eventId = typeof id === 'string' && id ? id : `${push.repository}@${push.digest}:${push.tag ?? ''}`;
  const forced = forcedObserve(deps.policy, deps.config);
  const decision: ImageDecision = {
    policyRule: quarantine.policyRule,
    mode: forced ? 'observe' : 'enforce',
    steps: [{ action: quarantineImage.name, params: quarantineParams(deps, quarantine.policyRule) }, { action: 'notify', params: {} }],
    notes: [
      `Pushed${push.tag ? ` as ${push.tag}` : ''}; quarantined since ${quarantine.at}: ${quarantine.reason}.`,
      ...(forced ? [forced] : []),
    ],
    severityCounts: {},
    vulnerabilities: [],
    severityRank: 0,
  };
  const finding: ImageFinding = {
    kind: 'image',
    source: 'ecr-push',
    id: eventId,
    ...registry,
    repository: push.repository,
    digest: push.digest,
    tags: push.tag ? [push.tag] : [],
    status: 'PUSH',
    actionable: true,
    severityCounts: {},
    vulnerabilities: [],
    title: 'push of a quarantined digest',
    observedAt: now().toISOString(),
  };
  // The same path as a scan's quarantine (safety rails, protection, observe switch), claimed once per push event.
  return respondToImage({ finding, decision, rawEvent: event, requestedBy, ledgerId: `image-push:${eventId}` }, deps);
}
