import { quarantineImage } from './actions/quarantine-image';
import type { ActionRuntime, Audit } from './actions/response-action';
import { deploymentHome } from './config';
import { imageLedgerId, imageUri } from './image/image-reference';
import { forgetQuarantineState, QUARANTINE_ACTION } from './image/quarantine-state';
import { NOTIFICATION_SCHEMA_ID, NOTIFICATION_SCHEMA_VERSION, type ActionOutcome, type Notification } from './notification';
import { publishNotification } from './notify/publish-notification';
import type { EventResult, PipelineDeps } from './pipeline';

export interface ImageReleaseRequest {
  repository: string;
  digest: string;
  /** Who releases (a person, for the audit trail). */
  by: string;
  reason: string;
  ticket?: string;
  /** The image's account (organization-wide, a member's; deps then act there); the responder's own by default. */
  account?: string;
}

const UNDOABLE = new Set(['applied', 'intent', 'skipped', 'failed']);

/**
 * `release-image`: undo every quarantine step the ledger holds for the digest (storage class, then tags) from the
 * write-ahead before-state, and record who released it and why. Tasks the launch guard stopped stay stopped.
 */
export async function releaseImage(request: ImageReleaseRequest, deps: PipelineDeps): Promise<EventResult> {
  const now = deps.now ?? (() => new Date());
  // The image is in the responder's region (its topic's), in its own account unless a member's was named.
  const home = deploymentHome(deps.config);
  const { region } = home;
  const account = request.account ?? home.account;
  const ledgerId = imageLedgerId({ account, region, repository: request.repository, digest: request.digest }, home);
  const records = (await deps.ledger.recordsForTarget(ledgerId)).filter(
    (r) => r.action === QUARANTINE_ACTION && r.mode === 'enforce' && UNDOABLE.has(r.status) && (r.mechanism === 'archive' || r.mechanism === 'image-tags'),
  );
  const none: EventResult = { finding: null, decision: null, actions: [], notifications: 0 };
  if (!records.length) return { ...none, ignored: `${request.repository}@${request.digest} is not quarantined by the responder` };
  const audit: Audit = { ledgerId, policyRule: 'release-image', mode: 'enforce', requestedBy: request.by, reason: request.reason, ticket: request.ticket };
  const outcomes: ActionOutcome[] = [];
  const runtime: ActionRuntime = { clients: deps.clients, ledger: deps.ledger, config: deps.config, audit, publishNotification: () => Promise.reject(new Error('release publishes its own notification')) };
  // Archive first: tags are put back on an image that can be pulled again.
  for (const record of records.sort((a, b) => Number(b.mechanism === 'archive') - Number(a.mechanism === 'archive'))) {
    const outcome = { ...(await quarantineImage.undo!(record, runtime)), action: 'release-image' };
    outcomes.push(outcome);
    await deps.ledger.markReleased(record, { by: request.by, reason: request.reason, detail: outcome.detail ?? '' });
  }
  forgetQuarantineState(deps.ledger, ledgerId);
  const notification: Notification = {
    schema: NOTIFICATION_SCHEMA_ID,
    version: NOTIFICATION_SCHEMA_VERSION,
    kind: 'runbook',
    headline: `Released: ${request.repository}@${request.digest.slice(0, 19)}… by ${request.by}`,
    at: now().toISOString(),
    ledgerId,
    finding: null,
    resource: { images: [imageUri(account, region, request.repository, request.digest)] },
    indicators: { domains: [], remoteIps: [] },
    image: { repository: request.repository, digest: request.digest, tags: [], severityCounts: {}, topVulnerabilities: [], tasksUsingImage: [], mechanism: records[0]!.mechanism },
    decision: null,
    containment: { state: 'released', mechanism: records.map((r) => r.mechanism).join(', ') },
    actions: outcomes,
    requestedBy: request.by,
    reason: request.reason,
    ticket: request.ticket,
    links: [],
    notes: ['Tasks the launch guard stopped stay stopped; new tasks may now start from this digest.'],
  };
  const notified = await publishNotification(deps.clients, deps.config.topicArn, notification);
  outcomes.push(notified);
  // A failed publish comes back as a failed outcome (it never throws): count only what went out.
  return { ...none, decision: { policyRule: 'release-image', mode: 'enforce' }, actions: outcomes, notifications: notified.status === 'applied' ? 1 : 0, containment: 'released' };
}
