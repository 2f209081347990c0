import { randomUUID } from 'node:crypto';
import { awsErrorCode, awsErrorMessage } from './aws/errors';
import { isolateTaskParams, quarantineImageParams, stopTaskParams } from './actions/params';
import { findAction } from './actions/registry';
import type { ActionRuntime } from './actions/response-action';
import { deploymentHome } from './config';
import { parseTaskArn, REPOSITORY_NAME } from './events/aws-formats';
import { assertOurs, type Home } from './events/home';
import { InvalidEventError } from './events/invalid-event';
import { severityLabel, type Finding, type ImageFinding } from './finding';
import { respondToImage } from './image-pipeline';
import { forcedObserve } from './observe-switch';
import { releaseImage } from './image-release';
import type { ActionRecord } from './ledger';
import { NOTIFICATION_SCHEMA_ID, NOTIFICATION_SCHEMA_VERSION, type ActionOutcome, type Notification } from './notification';
import { publishNotification } from './notify/publish-notification';
import { respond, type EventResult, type PipelineDeps } from './pipeline';
import { protectionReason, type Decision } from './policy/decide';
import type { ImageDecision } from './policy/decide-image';
import { imageLedgerId, imageOfLedgerId, type HomeRegistry } from './image/image-reference';
import { actingIn } from './acting-account';
import { clusterTagsOf, readTaskState, type TaskState } from './task-state';
import * as z from './zod-mini';

export const RUNBOOK_COMMANDS = ['isolate', 'stop', 'quarantine-image', 'release', 'release-image', 'status', 'history'] as const;
const MUTATING = new Set(['isolate', 'stop', 'quarantine-image', 'release', 'release-image']);
const UNDOABLE = new Set(['applied', 'intent', 'failed']);
/** An unfilled placeholder from a printed command: `<why>`, `...`, `…`. */
const PLACEHOLDER = /^\s*(<[^>]*>|\.\.\.|…)\s*$/;
const TASK_ARN = /^arn:aws[\w-]*:ecs:([\w-]+):(\d{12}):task\/([\w-]+)\/(\w+)$/;

/** One payload shape for the Lambda, the CLI and replay files. */
export const RunbookCommandSchema = z.strictObject({
  runbook: z.enum(RUNBOOK_COMMANDS),
  taskArn: z.optional(z.string().check(z.regex(TASK_ARN, 'must be a long-format ECS task ARN (task/<cluster>/<id>)'))),
  /**
   * Organization-wide: the account the command acts in (a member's, through its runbook role). A task ARN names its
   * account already (they must agree); for an image it selects the member; status and history keep its records only.
   */
  account: z.optional(z.string().check(z.regex(/^\d{12}$/, 'must be a 12-digit account id'))),
  repository: z.optional(z.string().check(z.regex(REPOSITORY_NAME, 'must be an ECR repository name (namespaces allowed, 2–256 characters)'))),
  imageDigest: z.optional(z.string().check(z.regex(/^sha256:[a-f0-9]{64}$/, 'must be sha256:<64 hex>'))),
  // Ledger ids (`guardduty:<id>`, `runbook:isolate:<uuid>`, `image:<repo>@<digest>`): printable, far below DynamoDB's 2,048-byte key.
  findingId: z.optional(z.string().check(z.regex(/^[\x21-\x7e]{1,1000}$/, 'must be a ledger or GuardDuty finding id (1–1000 printable characters)'))),
  // Recorded on every ledger row and sent in every message: bounded.
  reason: z.optional(z.string().check(z.maxLength(1000))),
  ticket: z.optional(z.string().check(z.maxLength(200))),
  since: z.optional(z.iso.datetime({ offset: true })),
  /** Exceed the automatic blast-radius limit: only with a reason, and recorded. Protection is never exceeded. */
  force: z._default(z.boolean(), false),
  /** stop: stop even if the service drops below the policy's minimum healthy tasks. */
  ignoreMinHealthy: z.optional(z.boolean()),
  /** Who asks. The CLI fills it from STS; a direct Lambda invoke cannot be attributed by Lambda itself (README). */
  requestedBy: z.optional(z.string().check(z.maxLength(200))),
  /** quarantine-image: also stop the tasks running the digest. */
  stopRunningTasks: z.optional(z.boolean()),
  /** isolate: the ladder below the security-group swap (default: network-acl). */
  fallback: z.optional(z.array(z.enum(['network-acl', 'stop-task']))),
  hostIsolation: z.optional(z.boolean()),
});
export type RunbookCommand = z.infer<typeof RunbookCommandSchema>;

export interface RunbookResult extends EventResult {
  records?: ActionRecord[];
}

export function isRunbookPayload(event: unknown): boolean {
  return typeof event === 'object' && event !== null && 'runbook' in event;
}

/**
 * Who a direct Lambda invoke says it is. Lambda does not reveal the invoking principal to the function, so the value
 * is recorded as the caller's statement; CloudTrail's Lambda Invoke data events are the authority.
 */
export function statedRequester(payload: unknown): string {
  const stated = (payload as { requestedBy?: unknown } | null)?.requestedBy;
  return typeof stated === 'string' && stated.trim() ? `${stated.trim()} (as stated by the caller)` : 'unattributed (direct invoke)';
}

/** Parses and checks a command: a mutating command without a reason, or without its target, does nothing. */
export function parseRunbookCommand(payload: unknown, home?: Home): RunbookCommand {
  const parsed = RunbookCommandSchema.safeParse(payload);
  if (!parsed.success) throw InvalidEventError.fromZod(parsed.error);
  const command = parsed.data;
  // A person's command acts where automation would: the deployment's own account and region, or (organization-wide)
  // a member's, through its runbook role.
  const task = command.taskArn === undefined ? undefined : parseTaskArn(command.taskArn, 'taskArn');
  if (task && home) assertOurs(task, home, { account: 'taskArn', region: 'taskArn' });
  if (task && command.account && task.account !== command.account) throw new InvalidEventError('account', `is ${command.account}; the task ARN names account ${task.account}`);
  if (command.account && home) assertOurs({ account: command.account, region: home.region }, home, { account: 'account', region: 'account' });
  if (MUTATING.has(command.runbook) && !command.reason?.trim()) {
    throw new InvalidEventError('reason', `is required for ${command.runbook}: say why, it is recorded and sent with the notification`);
  }
  if (MUTATING.has(command.runbook) && PLACEHOLDER.test(command.reason!)) {
    throw new InvalidEventError('reason', `"${command.reason!.trim()}" is a placeholder: say why, in your own words; it is recorded and sent with the notification`);
  }
  // The GuardDuty console and CLI show bare finding ids; the ledger keys them guardduty:<id>.
  if (command.findingId && !command.findingId.includes(':')) command.findingId = `guardduty:${command.findingId.trim()}`;
  const needs = (field: keyof RunbookCommand, ok: boolean) => {
    if (!ok) throw new InvalidEventError(String(field), `is required for ${command.runbook}`);
  };
  if (command.runbook === 'isolate' || command.runbook === 'stop') needs('taskArn', !!command.taskArn);
  if (command.runbook === 'release' || command.runbook === 'status') needs('taskArn', !!(command.taskArn || command.findingId || (command.repository && command.imageDigest)));
  if (command.runbook === 'quarantine-image' || command.runbook === 'release-image') {
    needs('repository', !!command.repository);
    needs('imageDigest', !!command.imageDigest);
  }
  return command;
}

function runbookFinding(command: RunbookCommand, taskArn: string, requestId: string): Finding {
  const [, region, account, cluster] = TASK_ARN.exec(taskArn)!;
  return {
    kind: 'runtime',
    source: 'runbook',
    id: requestId,
    type: `Runbook:${command.runbook}`,
    title: `${command.runbook} requested by ${command.requestedBy ?? 'a person'}: ${command.reason ?? ''}`,
    // A person's request carries no severity; the highest keeps a later automatic re-evaluation from re-running it.
    severity: 10,
    severityLabel: severityLabel(10),
    account: account!,
    region: region!,
    clusterTags: {},
    task: { arn: taskArn, clusterName: cluster!, clusterArn: taskArn.replace(/:task\/.*/, `:cluster/${cluster}`), tags: {}, containers: [] },
    indicators: { domains: [], remoteIps: [] },
    sample: false,
    count: 1,
    updatedAt: new Date().toISOString(),
  };
}

/** What already contains the task (a stop in progress, or an unreleased isolation or stop in the ledger), if anything. */
async function containmentHeld(command: RunbookCommand, deps: PipelineDeps, task: TaskState): Promise<ActionOutcome | undefined> {
  const action = command.runbook === 'isolate' ? 'isolate-task' : 'stop-task';
  if (task.found && (task.desiredStatus === 'STOPPED' || task.lastStatus === 'STOPPED')) {
    return { action, status: 'skipped', mechanism: 'stop-task', detail: `already applied: the task is ${task.lastStatus === 'STOPPED' ? 'stopped' : 'stopping'}; nothing changed` };
  }
  if (command.runbook !== 'isolate' || !task.found) return undefined;
  const records = await deps.ledger.recordsForTarget(`task:${task.taskArn}`);
  const holding = records.find((r) => r.action === 'isolate-task' && r.mode === 'enforce' && r.status === 'applied' && r.mechanism !== 'stop-task');
  if (!holding) return undefined;
  return { action, status: 'skipped', mechanism: holding.mechanism, detail: `already applied by ${holding.ledgerId} (${holding.mechanism}) at ${holding.updatedAt}; nothing changed` };
}

async function containTask(command: RunbookCommand, deps: PipelineDeps, requestedBy: string): Promise<RunbookResult> {
  const requestId = `runbook:${command.runbook}:${randomUUID()}`;
  const finding = runbookFinding(command, command.taskArn!, requestId);
  // Organization-wide: a member's task is read and changed through the member's runbook role.
  const acting = await actingIn(deps, finding);
  if (!acting.ok) throw new InvalidEventError('taskArn', acting.why);
  deps = acting.deps;
  const task = await readTaskState(deps.clients, finding.task);
  finding.task = { ...finding.task, service: task.service, launchType: task.launchType, tags: task.tags, containers: task.containers };
  finding.clusterTags = await clusterTagsOf(deps.clients, finding.task.clusterArn);
  const notes: string[] = [];
  // Protected resources are never touched, by automation or by a person: lift the protection first, on purpose.
  const protectedBy = protectionReason(deps.policy, deps.config, { ...finding.task, clusterTags: finding.clusterTags });
  if (protectedBy) throw new InvalidEventError('taskArn', `${protectedBy}: protected resources are never touched; remove the protection first`);
  const containing =
    command.runbook === 'isolate'
      ? { action: 'isolate-task', params: isolateTaskParams.parse({ fallback: command.fallback ?? ['network-acl'], hostIsolation: command.hostIsolation ?? false }) }
      : { action: 'stop-task', params: stopTaskParams.parse({ ignoreMinHealthy: command.ignoreMinHealthy ?? false }) };
  const forced = forcedObserve(deps.policy, deps.config);
  if (forced) notes.push(forced);
  const held = forced ? undefined : await containmentHeld(command, deps, task);
  if (held) {
    // Repeated: nothing is changed (no evidence, tags or second deny pair), and people are told so.
    notes.push(held.detail!);
    const decision: Decision = { policyRule: `runbook:${command.runbook}`, mode: 'enforce', steps: [{ action: 'notify', params: {} }], notes };
    const result = await respond({ finding, decision, rawEvent: command, ledgerId: requestId, requestedBy, reason: command.reason!, ticket: command.ticket, task }, deps);
    return { ...result, actions: [held, ...result.actions], containment: `contained (${held.mechanism})` };
  }
  const decision: Decision = {
    policyRule: `runbook:${command.runbook}`,
    mode: forced ? 'observe' : 'enforce',
    steps: [{ action: 'capture-evidence', params: {} }, { action: 'tag', params: {} }, containing, { action: 'notify', params: {} }],
    notes,
    force: command.force,
  };
  if (command.force) notes.push(`Forced past the automatic safety rails by ${requestedBy}.`);
  return respond({ finding, decision, rawEvent: command, ledgerId: requestId, requestedBy, reason: command.reason!, ticket: command.ticket, task }, deps);
}

/** A person quarantines an image: the same image path as a scan, with their reason and a decision of their own. */
async function quarantineImageByHand(command: RunbookCommand, deps: PipelineDeps, requestedBy: string): Promise<RunbookResult> {
  // The responder's own region (that of its topic); its own account unless the command names a member's.
  const { region, account: home } = deploymentHome(deps.config);
  const forced = forcedObserve(deps.policy, deps.config);
  const finding: ImageFinding = {
    kind: 'image',
    source: 'runbook',
    id: `runbook:quarantine-image:${randomUUID()}`,
    account: command.account ?? home,
    region,
    repository: command.repository!,
    digest: command.imageDigest!,
    tags: [],
    status: 'REQUESTED',
    actionable: true,
    severityCounts: {},
    vulnerabilities: [],
    title: `quarantine-image requested by ${requestedBy}`,
    observedAt: new Date().toISOString(),
  };
  const decision: ImageDecision = {
    policyRule: 'runbook:quarantine-image',
    mode: forced ? 'observe' : 'enforce',
    steps: [
      { action: 'quarantine-image', params: quarantineImageParams.parse({ stopRunningTasks: command.stopRunningTasks ?? false }) },
      { action: 'notify', params: {} },
    ],
    notes: [
      ...(forced ? [forced] : []),
      ...(command.force ? [`Forced past the automatic safety rails by ${requestedBy}.`] : []),
    ],
    force: command.force,
    severityCounts: {},
    vulnerabilities: [],
    // Above any scan's rank: a person's quarantine is not re-decided by a later scan of the same image.
    severityRank: 5,
  };
  return respondToImage({ finding, decision, rawEvent: command, requestedBy, reason: command.reason!, ticket: command.ticket, ledgerId: finding.id }, deps);
}

/** The ledger target of the command's own target: its task, or its image (in the responder's region; --account's registry). */
function commandTarget(command: RunbookCommand, home: HomeRegistry): string {
  if (command.taskArn) return `task:${command.taskArn}`;
  return imageLedgerId({ account: command.account ?? home.account, region: home.region, repository: command.repository!, digest: command.imageDigest! }, home);
}

async function recordsFor(command: RunbookCommand, deps: PipelineDeps): Promise<ActionRecord[]> {
  if (command.findingId) return deps.ledger.actionRecords(command.findingId);
  return deps.ledger.recordsForTarget(commandTarget(command, deploymentHome(deps.config)));
}

/** The account and region a record's target is in: a task ARN's, or an image's registry (a short image id: the responder's). */
function whereTargetIs(target: string | undefined, home: HomeRegistry): HomeRegistry | undefined {
  const bare = (target ?? '').replace(/^history:/, '');
  const task = TASK_ARN.exec(bare.replace(/^task:/, ''));
  if (task) return { account: task[2]!, region: task[1]! };
  return imageOfLedgerId(bare, home);
}

/**
 * The records of one account (status and history with --account): those whose target names it (a task ARN, an
 * image's registry), and the other steps of the same responses (their interface, notification).
 */
export function inAccount(records: ActionRecord[], account: string | undefined, home: HomeRegistry): ActionRecord[] {
  if (!account) return records;
  const names = (r: ActionRecord) => whereTargetIs(r.target, home)?.account === account;
  const responses = new Set(records.filter(names).map((r) => r.ledgerId));
  return records.filter((r) => names(r) || responses.has(r.ledgerId));
}

/** Edit distance, for "did you mean": a ledger id a character or two away is the one a person meant. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** A target the ledger holds nothing for: a failure that says so, names the close match if there is one, and notifies no one. */
async function nothingMatched(command: RunbookCommand, deps: PipelineDeps): Promise<RunbookResult> {
  const target = command.findingId ?? command.taskArn ?? `${command.repository}@${command.imageDigest}`;
  const known = new Set((await deps.ledger.recordsSince(new Date(0).toISOString())).flatMap((r) => [r.ledgerId, r.target?.replace(/^task:/, '') ?? '']).filter(Boolean));
  const wanted = target.toLowerCase();
  const close = [...known]
    .map((id) => ({ id, d: id.toLowerCase().includes(wanted) || wanted.includes(id.toLowerCase()) ? 0 : distance(id.toLowerCase(), wanted) }))
    .filter((c) => c.d <= Math.max(2, Math.floor(wanted.length / 10)))
    .sort((a, b) => a.d - b.d)[0];
  const hint = close ? `; did you mean ${close.id}?` : '; `history` lists what the ledger holds';
  return { finding: null, decision: null, actions: [], notifications: 0, error: `nothing matched: the ledger holds nothing for ${target}, so nothing was ${command.runbook === 'status' ? 'found' : 'changed'}${hint}` };
}

/** Undoes exactly what was done, newest first, from the ledger's before-states; says what cannot be undone. */
async function release(command: RunbookCommand, deps: PipelineDeps, requestedBy: string): Promise<RunbookResult> {
  const all = await recordsFor(command, deps);
  if (all.length === 0) return await nothingMatched(command, deps);
  const records = all.filter((r) => r.mode === 'enforce').sort((a, b) => b.at.localeCompare(a.at));
  // Organization-wide: undo acts in the account and region of the task or image the records name.
  const where = records.map((r) => whereTargetIs(r.target, deploymentHome(deps.config))).find((w) => w !== undefined);
  if (where) {
    const acting = await actingIn(deps, { ...where, id: command.findingId ?? 'release' });
    if (!acting.ok) return { finding: null, decision: null, actions: [], notifications: 0, error: acting.why };
    deps = acting.deps;
  }
  const outcomes: ActionOutcome[] = [];
  const runtime: ActionRuntime = {
    clients: deps.clients,
    ledger: deps.ledger,
    config: deps.config,
    audit: { ledgerId: command.findingId ?? 'release', policyRule: `runbook:${command.runbook}`, mode: 'enforce', requestedBy, reason: command.reason!, ticket: command.ticket },
    publishNotification: () => Promise.reject(new Error('release publishes its own notification')),
  };
  for (const record of records) {
    const action = findAction(record.action);
    if (record.status === 'released') {
      outcomes.push({ action: record.action, status: 'skipped', mechanism: record.mechanism ?? undefined, detail: `already released by ${record.releasedBy} at ${record.releasedAt}` });
      continue;
    }
    // `intent` (a crash between write-ahead and change) and `failed` (an error that may have come after the change)
    // may or may not have changed something: undo is idempotent, so it runs. Refused and planned steps changed nothing.
    if (!UNDOABLE.has(record.status) || !record.beforeState) continue;
    if (record.action === 'quarantine-image') {
      const holders = (await deps.ledger.recordsForTarget(record.target ?? '')).filter(
        (r) =>
          r.ledgerId !== record.ledgerId &&
          r.action === record.action &&
          r.mode === 'enforce' &&
          (r.mechanism === 'archive' || r.mechanism === 'image-tags') &&
          ['applied', 'intent', 'skipped', 'failed'].includes(r.status),
      );
      if (holders.length) {
        outcomes.push({ action: record.action, status: 'skipped', mechanism: record.mechanism ?? undefined, detail: `still quarantined by ${holders[0]!.ledgerId}: release-image lifts every quarantine of the image` });
        continue;
      }
    }
    if (!action?.undo) {
      if (record.mechanism === 'stop-task') outcomes.push({ action: record.action, status: 'unsupported', mechanism: 'stop-task', detail: 'a stopped task cannot be restarted; its service has started a replacement' });
      continue;
    }
    try {
      const outcome = await action.undo(record, runtime);
      outcomes.push(outcome);
      if (outcome.status === 'applied') await deps.ledger.markReleased(record, { by: requestedBy, reason: command.reason!, detail: outcome.detail ?? '' });
    } catch (error) {
      outcomes.push({ action: record.action, status: 'failed', mechanism: record.mechanism ?? undefined, errorCode: awsErrorCode(error), detail: awsErrorMessage(error) });
    }
  }
  if (outcomes.length === 0) outcomes.push({ action: 'release', status: 'skipped', detail: 'the ledger holds nothing to release for this target' });
  const notification = releaseNotification(command, outcomes, requestedBy, records[0]?.ledgerId ?? command.findingId ?? '');
  const notified = await publishNotification(deps.clients, deps.config.topicArn, notification);
  return { finding: null, decision: { policyRule: `runbook:${command.runbook}`, mode: 'enforce' }, actions: [...outcomes, notified], notifications: notified.status === 'applied' ? 1 : 0, containment: 'released' };
}

function releaseNotification(command: RunbookCommand, outcomes: ActionOutcome[], requestedBy: string, ledgerId: string): Notification {
  const target = command.taskArn ?? command.findingId ?? `${command.repository}@${command.imageDigest}`;
  const failed = outcomes.some((o) => o.status === 'failed');
  const unchanged = outcomes.every((o) => o.status === 'skipped');
  // "already released" only when that is what every skip says; other skips (an image another finding still holds,
  // steps with nothing to undo) are "nothing released".
  const alreadyReleased = unchanged && outcomes.length > 0 && outcomes.every((o) => /^already released/.test(o.detail ?? ''));
  return {
    schema: NOTIFICATION_SCHEMA_ID,
    version: NOTIFICATION_SCHEMA_VERSION,
    kind: 'runbook',
    headline: `${failed ? 'Release INCOMPLETE' : alreadyReleased ? 'Nothing changed (already released)' : unchanged ? 'Nothing released' : 'Released'} by ${requestedBy}: ${target}`,
    at: new Date().toISOString(),
    ledgerId,
    finding: null,
    resource: { taskArn: command.taskArn, images: command.repository ? [`${command.repository}@${command.imageDigest}`] : [] },
    indicators: { domains: [], remoteIps: [] },
    decision: { policyRule: `runbook:${command.runbook}`, mode: 'enforce' },
    containment: { state: 'released' },
    actions: outcomes,
    requestedBy,
    reason: command.reason,
    ticket: command.ticket,
    links: [],
    notes: outcomes.some((o) => o.mechanism === 'stop-task') ? ['A stopped task cannot be restarted.'] : [],
  };
}

/**
 * Runs a runbook command through the same pipeline as automation. `requestedBy` is who the entry point could
 * establish (the CLI: the caller's STS identity); it is recorded on every ledger row and notification.
 */
export async function runRunbook(payload: unknown, deps: PipelineDeps, requestedBy?: string): Promise<RunbookResult> {
  let command: RunbookCommand;
  try {
    command = parseRunbookCommand(payload, deploymentHome(deps.config));
  } catch (error) {
    if (error instanceof InvalidEventError) return { finding: null, decision: null, actions: [], notifications: 0, error: error.message };
    throw error;
  }
  const who = requestedBy ?? statedRequester(command);
  try {
    switch (command.runbook) {
      case 'isolate':
      case 'stop':
        return await containTask(command, deps, who);
      case 'release':
        return await release(command, deps, who);
      case 'quarantine-image':
        return await quarantineImageByHand(command, deps, who);
      case 'release-image': {
        // Organization-wide: a member's image is released through the member's runbook role, in the responder's region.
        const { region, account: home } = deploymentHome(deps.config);
        const account = command.account ?? home;
        const acting = await actingIn(deps, { account, region, id: `release-image-${randomUUID()}` });
        if (!acting.ok) return { finding: null, decision: null, actions: [], notifications: 0, error: acting.why };
        return await releaseImage({ repository: command.repository!, digest: command.imageDigest!, by: who, reason: command.reason!, ticket: command.ticket, account }, acting.deps);
      }
      case 'status': {
        // Earlier episodes (acted on, released, acted on again) are part of what happened.
        const home = deploymentHome(deps.config);
        const earlier = command.findingId ? await deps.ledger.earlierEpisodes(command.findingId) : await deps.ledger.recordsForTarget(`history:${commandTarget(command, home)}`);
        const records = inAccount([...earlier, ...(await recordsFor(command, deps))], command.account, home).sort((a, b) => a.at.localeCompare(b.at));
        if (records.length === 0) return await nothingMatched(command, deps);
        return { finding: null, decision: null, actions: [], notifications: 0, records };
      }
      case 'history': {
        const since = command.since ?? new Date(Date.now() - 7 * 24 * 3600 * 1000).toISOString();
        return { finding: null, decision: null, actions: [], notifications: 0, records: inAccount(await deps.ledger.recordsSince(since), command.account, deploymentHome(deps.config)) };
      }
    }
  } catch (error) {
    if (error instanceof InvalidEventError) return { finding: null, decision: null, actions: [], notifications: 0, error: error.message };
    throw error;
  }
}
