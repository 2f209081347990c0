import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  paginateQuery,
  paginateScan,
  PutCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';
import type { Audit, Mode } from './actions/response-action';
import { EVENT_ID } from './events/aws-formats';
import { eventJson } from './events/event-json';
import type { ActionOutcome, ActionStatus } from './notification';

/** The table serverless.yml deploys; the simulated account creates the same one in dynalite. */
export function ledgerTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
      { AttributeName: 'target', AttributeType: 'S' },
      { AttributeName: 'at', AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: 'byTarget',
        KeySchema: [
          { AttributeName: 'target', KeyType: 'HASH' },
          { AttributeName: 'at', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}

/** `intent`: the before-state is stored and the change may or may not have happened (a crash in between). */
export type RecordStatus = ActionStatus | 'intent' | 'released';

export interface ActionRecord {
  ledgerId: string;
  step: string;
  action: string;
  mechanism?: string;
  status: RecordStatus;
  /** What to release: `task:<arn>`, `eni:<id>`, `image:<repo>@<digest>`. */
  target?: string;
  beforeState?: Record<string, unknown>;
  at: string;
  updatedAt: string;
  policyRule: string;
  mode: Mode;
  requestedBy: string;
  reason: string;
  ticket?: string;
  detail?: string;
  errorCode?: string;
  releasedBy?: string;
  releaseReason?: string;
  releasedAt?: string;
}

export type ClaimResult =
  /**
   * `attempt`: how many invocations have taken this claim since it was last finished (Lambda's retries count).
   * `previous`: the claim as it stood before (absent on the first), so the caller can tell why it was taken again.
   */
  | { claimed: true; reason: 'first' | 're-evaluate'; attempt: number; previous?: { state: string; mode: string; severity: number; containment?: string } }
  | { claimed: false; deliveries: number; severity: number; state: string };

const CLAIM = '#CLAIM';
const EPISODE = '#EPISODE';
const episodeKey = (target: string) => `EPISODE#${target}`;

/** What earlier findings hold on a target, when this one opens (or takes over) its episode. */
export interface Episode {
  /** The finding that opened the episode (this one, for a new episode). */
  openedBy: string;
  /** Steps that hold on the target already, as `action/mechanism` (`isolate-task/network-acl`, `stop-task/stop-task`). */
  held: string[];
  /** The target already took its slot of the blast-radius limit. */
  counted: boolean;
}

/** Another invocation is handling the same finding right now; this delivery must be retried, not dropped. */
export class ClaimBusyError extends Error {
  override readonly name = 'ClaimBusyError';
  constructor(
    readonly ledgerId: string,
    readonly leaseUntil: string,
    why = `${ledgerId} is being handled by another invocation`,
  ) {
    super(`${why} (lease until ${leaseUntil}): retry later`);
  }
}
const findingKey = (ledgerId: string) => `FINDING#${ledgerId}`;

export interface ClaimRequest {
  ledgerId: string;
  severity: number;
  count: number;
  mode: Mode;
}

/**
 * One DynamoDB table: an idempotency claim per finding, a write-ahead before-state and audit record per action step,
 * and rejected events kept for inspection.
 */
export class Ledger {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
    /**
     * A claim still `running` after this long belongs to a crashed invocation and may be taken over. Longer than the
     * functions' 60 s timeout, shorter than Lambda's first retry of a failed invocation (about a minute after it).
     */
    private readonly leaseSeconds = 90,
  ) {}

  /**
   * Act once per finding. A later delivery re-evaluates only when severity rises, when it moves from observe to
   * enforce, or when the previous invocation crashed (its lease expired).
   */
  async claim(request: ClaimRequest): Promise<ClaimResult> {
    const now = this.now();
    // One conditional write, no read first: it runs beside DescribeTasks, on the way to the network cut.
    try {
      const taken = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: findingKey(request.ledgerId), sk: CLAIM },
          ReturnValues: 'ALL_OLD',
          UpdateExpression:
            'SET #state = :running, leaseUntil = :lease, severity = :severity, #count = :count, #mode = :mode, lastSeenAt = :now, firstSeenAt = if_not_exists(firstSeenAt, :now) ADD deliveries :one, attempts :one',
          // A live claim (running, lease not expired) is never taken, not even by a rise in severity: two
          // invocations would then share it. The later one fails and is retried once the first is done.
          ConditionExpression:
            'attribute_not_exists(pk) OR ((#state <> :running OR leaseUntil < :now) AND (severity < :severity OR (#mode = :observe AND :mode = :enforce) OR #state <> :done))',
          ExpressionAttributeNames: { '#state': 'state', '#count': 'count', '#mode': 'mode' },
          ExpressionAttributeValues: {
            ':running': 'running',
            ':done': 'done',
            ':observe': 'observe',
            ':enforce': 'enforce',
            ':lease': new Date(now.getTime() + this.leaseSeconds * 1000).toISOString(),
            ':severity': request.severity,
            ':count': request.count,
            ':mode': request.mode,
            ':now': now.toISOString(),
            ':one': 1,
          },
        }),
      );
      const old = taken.Attributes;
      if (!old) return { claimed: true, reason: 'first', attempt: 1 };
      const previous = { state: String(old.state), mode: String(old.mode), severity: Number(old.severity), ...(old.containment ? { containment: String(old.containment) } : {}) };
      return { claimed: true, reason: 're-evaluate', attempt: Number(old.attempts ?? 0) + 1, previous };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const seen = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: findingKey(request.ledgerId), sk: CLAIM },
          UpdateExpression: 'SET lastSeenAt = :now, #count = :count ADD deliveries :one',
          ExpressionAttributeNames: { '#count': 'count' },
          ExpressionAttributeValues: { ':now': now.toISOString(), ':count': request.count, ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const item = seen.Attributes ?? {};
      // Still being handled: acknowledging this delivery would drop it if that invocation then fails. Fail it so the
      // platform retries it later, when the first has finished (then a duplicate) or its lease has run out.
      if (item.state === 'running' && String(item.leaseUntil) >= now.toISOString()) throw new ClaimBusyError(request.ledgerId, String(item.leaseUntil));
      return { claimed: false, deliveries: Number(item.deliveries), severity: Number(item.severity), state: String(item.state) };
    }
  }

  /**
   * `mode`: the mode the response ran in, when the live observe switch (read beside the claim) turned an enforce
   * decision into observe: stored, so a delivery after the switch is turned off re-evaluates and acts.
   */
  async finishClaim(ledgerId: string, containment: string, mode?: Mode): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: findingKey(ledgerId), sk: CLAIM },
        // A later re-evaluation (severity rises) counts its attempts afresh.
        UpdateExpression: `SET #state = :done, containment = :containment, finishedAt = :now${mode ? ', #mode = :mode' : ''} REMOVE attempts`,
        ExpressionAttributeNames: { '#state': 'state', ...(mode ? { '#mode': 'mode' } : {}) },
        ExpressionAttributeValues: { ':done': 'done', ':containment': containment, ':now': this.now().toISOString(), ...(mode ? { ':mode': mode } : {}) },
      }),
    );
  }

  /**
   * A step failed transiently: the claim stays open (`retry`), so Lambda's next delivery of the event takes it at
   * once and re-runs what did not finish.
   */
  async retryClaim(ledgerId: string, containment: string, mode?: Mode): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: findingKey(ledgerId), sk: CLAIM },
        UpdateExpression: `SET #state = :retry, containment = :containment, leaseUntil = :past${mode ? ', #mode = :mode' : ''}`,
        ExpressionAttributeNames: { '#state': 'state', ...(mode ? { '#mode': 'mode' } : {}) },
        ExpressionAttributeValues: { ':retry': 'retry', ':containment': containment, ':past': new Date(0).toISOString(), ...(mode ? { ':mode': mode } : {}) },
      }),
    );
  }

  /**
   * One containment per task: the first finding about a target opens its episode; a later one takes it over once it is
   * no longer running (or its lease ran out) and acts only on what is not held yet (an escalation, such as a stop after
   * an isolation). While another finding runs it, this throws `ClaimBusyError`: the platform retries the delivery once
   * that response is done. One conditional write; `ALL_OLD` says what earlier findings hold.
   */
  async openEpisode(target: string, ledgerId: string): Promise<Episode> {
    const now = this.now();
    const key = { pk: episodeKey(target), sk: EPISODE };
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'SET #state = :running, leaseUntil = :lease, ownerId = :me, openedBy = if_not_exists(openedBy, :me), openedAt = if_not_exists(openedAt, :now) ADD findings :meSet',
          ConditionExpression: 'attribute_not_exists(pk) OR #state <> :running OR leaseUntil < :now OR ownerId = :me',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':running': 'running',
            ':lease': new Date(now.getTime() + this.leaseSeconds * 1000).toISOString(),
            ':me': ledgerId,
            ':meSet': new Set([ledgerId]),
            ':now': now.toISOString(),
          },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const old = out.Attributes ?? {};
      return { openedBy: typeof old.openedBy === 'string' ? old.openedBy : ledgerId, held: [...((old.held as Set<string> | undefined) ?? [])], counted: old.counted === true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const live = (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }))).Item ?? {};
      throw new ClaimBusyError(ledgerId, String(live.leaseUntil), `${target} is being contained by ${String(live.ownerId)}`);
    }
  }

  /**
   * The episode's owner is done (`done`) or will be retried (`retry`: the lease is given up so the retry, or another
   * finding, takes it at once). `held`: the steps that now hold on the target; `counted`: the target took its slot
   * of the blast-radius limit. A takeover after a lost lease makes this a no-op.
   */
  async closeEpisode(target: string, ledgerId: string, close: { held: string[]; counted: boolean; retry: boolean }): Promise<void> {
    const now = this.now().toISOString();
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: episodeKey(target), sk: EPISODE },
          UpdateExpression: `SET #state = :state, leaseUntil = :until, closedAt = :now${close.counted ? ', counted = :true' : ''}${close.held.length ? ' ADD held :held' : ''}`,
          ConditionExpression: 'ownerId = :me',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':state': close.retry ? 'retry' : 'done',
            ':until': close.retry ? new Date(0).toISOString() : now,
            ':now': now,
            ':me': ledgerId,
            ...(close.counted ? { ':true': true } : {}),
            ...(close.held.length ? { ':held': new Set(close.held) } : {}),
          },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /**
   * A release ends the target's episode: what it held is forgotten, so a later finding contains the target afresh. An
   * episode another invocation runs right now keeps its owner and lease (only what it held goes); none is created.
   */
  private async endEpisode(target: string): Promise<void> {
    const key = { pk: episodeKey(target), sk: EPISODE };
    const now = this.now().toISOString();
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'SET #state = :released, releasedAt = :now REMOVE held, counted, openedBy, openedAt',
          ConditionExpression: 'attribute_exists(pk) AND (#state <> :running OR leaseUntil < :now)',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':released': 'released', ':running': 'running', ':now': now },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      await this.doc
        .send(new UpdateCommand({ TableName: this.tableName, Key: key, UpdateExpression: 'SET releasedAt = :now REMOVE held, counted', ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeValues: { ':now': now } }))
        .catch((again: unknown) => {
          if (!(again instanceof ConditionalCheckFailedException)) throw again;
        });
    }
  }

  /** The episode of a target, as it stands (tests and people reading the ledger). */
  async episode(target: string): Promise<Record<string, unknown> | undefined> {
    return (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { pk: episodeKey(target), sk: EPISODE }, ConsistentRead: true }))).Item;
  }

  /** After an unexpected error: let the platform's retry take the claim at once. */
  async abandonClaim(ledgerId: string): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: findingKey(ledgerId), sk: CLAIM },
        UpdateExpression: 'SET leaseUntil = :past',
        ExpressionAttributeValues: { ':past': new Date(0).toISOString() },
      }),
    );
  }

  async getClaim(ledgerId: string): Promise<Record<string, unknown> | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { pk: findingKey(ledgerId), sk: CLAIM } }));
    return out.Item;
  }

  /**
   * Write-ahead: store the before-state of a step before the change. The first before-state wins, so a retry after
   * a crash never mistakes the quarantine state for the original. Returns the stored record.
   */
  async writeAhead(
    audit: Audit,
    step: { step: string; action: string; mechanism?: string; target: string; beforeState: Record<string, unknown> },
  ): Promise<ActionRecord> {
    const now = this.now().toISOString();
    const names = { '#status': 'status', '#action': 'action', '#at': 'at', '#mode': 'mode' };
    const values = {
      ':before': step.beforeState,
      ':intent': 'intent',
      ':action': step.action,
      ':mechanism': step.mechanism ?? null,
      ':target': step.target,
      ':now': now,
      ':ledgerId': audit.ledgerId,
      ':step': step.step,
      ':rule': audit.policyRule,
      ':mode': audit.mode,
      ':by': audit.requestedBy,
      ':reason': audit.reason,
    };
    const common = '#status = :intent, #action = :action, mechanism = :mechanism, target = :target, updatedAt = :now, ledgerId = :ledgerId, step = :step, policyRule = :rule, #mode = :mode, requestedBy = :by, reason = :reason';
    const key = { pk: findingKey(audit.ledgerId), sk: `ACTION#${step.step}` };
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: `SET beforeState = if_not_exists(beforeState, :before), #at = if_not_exists(#at, :now), ${common}`,
          ConditionExpression: 'attribute_not_exists(#status) OR #status <> :released',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ...values, ':released': 'released' },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes as ActionRecord;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // The step was released: this is a new episode, with a before-state of its own. The finished episode is kept
      // beside it (its own sort key, outside the ACTION# prefix), so the audit trail loses nothing.
      await this.keepEpisode(key, step.step, now);
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: `SET beforeState = :before, #at = :now, ${common} REMOVE releasedBy, releaseReason, releaseDetail, releasedAt`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes as ActionRecord;
    }
  }

  /** Copies a released step to its own sort key (outside ACTION#, target `history:…`) before a new episode reuses it. */
  private async keepEpisode(key: { pk: string; sk: string }, step: string, now: string): Promise<void> {
    const previous = (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }))).Item;
    if (!previous) return;
    await this.doc.send(
      new PutCommand({ TableName: this.tableName, Item: { ...previous, sk: `EPISODE#${step}#${String(previous.releasedAt ?? now)}`, target: `history:${String(previous.target)}` } }),
    );
  }

  /** Re-planned before-state (the planned NACL numbers were taken by a concurrent writer; nothing of ours was changed). */
  async replaceBeforeState(ledgerId: string, step: string, beforeState: Record<string, unknown>): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: findingKey(ledgerId), sk: `ACTION#${step}` },
        UpdateExpression: 'SET beforeState = :before, updatedAt = :now',
        ExpressionAttributeValues: { ':before': beforeState, ':now': this.now().toISOString() },
      }),
    );
  }

  /** The audit record of a step: what, when, why, mode, who, result, error. */
  async recordOutcome(audit: Audit, step: string, outcome: ActionOutcome, target?: string): Promise<void> {
    const now = this.now().toISOString();
    const key = { pk: findingKey(audit.ledgerId), sk: `ACTION#${step}` };
    const set =
      'SET #status = :status, #action = :action, mechanism = :mechanism, detail = :detail, errorCode = :errorCode, updatedAt = :now, ledgerId = :ledgerId, step = :step, policyRule = :rule, #mode = :mode, requestedBy = :by, reason = :reason';
    const names = { '#status': 'status', '#action': 'action', '#at': 'at', '#mode': 'mode' };
    const values = {
      ':status': outcome.status,
      ':action': outcome.action,
      ':mechanism': outcome.mechanism ?? null,
      ':detail': outcome.detail ?? null,
      ':errorCode': outcome.errorCode ?? null,
      ':now': now,
      ':ledgerId': audit.ledgerId,
      ':step': step,
      ':rule': audit.policyRule,
      ':mode': audit.mode,
      ':by': audit.requestedBy,
      ':reason': audit.reason,
      ':target': target ?? outcome.target ?? 'none',
    };
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: `${set}, #at = if_not_exists(#at, :now), target = if_not_exists(target, :target)`,
          ConditionExpression: 'attribute_not_exists(#status) OR #status <> :released',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ...values, ':released': 'released' },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // A released step acted on again without a write-ahead (it changed nothing): keep the old episode, start anew.
      await this.keepEpisode(key, step, now);
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: `${set}, #at = :now, target = :target REMOVE beforeState, releasedBy, releaseReason, releaseDetail, releasedAt`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    }
  }


  /**
   * A step undone (by a person's release, or automatically when its task stopped): who, why, when. Its target's episode
   * ends with it: a later finding about the target contains it afresh.
   */
  async markReleased(record: ActionRecord, release: { by: string; reason: string; detail: string }): Promise<void> {
    if (record.target?.startsWith('task:')) await this.endEpisode(record.target);
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: findingKey(record.ledgerId), sk: `ACTION#${record.step}` },
        UpdateExpression: 'SET #status = :released, releasedBy = :by, releaseReason = :reason, releaseDetail = :detail, releasedAt = :now, updatedAt = :now',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':released': 'released', ':by': release.by, ':reason': release.reason, ':detail': release.detail, ':now': this.now().toISOString() },
      }),
    );
  }

  /**
   * Atomically takes one slot of a fixed-window counter (the blast-radius limit). Returns false when the window is
   * full. Counter items expire by TTL (`expiresAt`) a day after their window.
   */
  async takeSlot(scope: string, windowStart: Date, limit: number, windowMinutes: number): Promise<boolean> {
    if (limit <= 0) return false;
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `BLAST#${scope}`, sk: windowStart.toISOString() },
          UpdateExpression: 'ADD used :one SET expiresAt = :expires',
          ConditionExpression: 'attribute_not_exists(used) OR used < :limit',
          ExpressionAttributeValues: { ':one': 1, ':limit': limit, ':expires': Math.floor(windowStart.getTime() / 1000) + windowMinutes * 60 + 86_400 },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Gives a slot back (the other scope was full, or the action it was taken for changed nothing). */
  async returnSlot(scope: string, windowStart: Date): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: `BLAST#${scope}`, sk: windowStart.toISOString() },
        UpdateExpression: 'ADD used :minusOne',
        ExpressionAttributeValues: { ':minusOne': -1 },
      }),
    );
  }

  async actionRecord(ledgerId: string, step: string): Promise<ActionRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { pk: findingKey(ledgerId), sk: `ACTION#${step}` }, ConsistentRead: true }));
    return out.Item as ActionRecord | undefined;
  }

  /** Every item of a query, page after page (the SDK's own paginator). */
  private async queryAll(input: Omit<QueryCommandInput, 'TableName'>): Promise<ActionRecord[]> {
    const items: ActionRecord[] = [];
    for await (const page of paginateQuery({ client: this.doc }, { TableName: this.tableName, ...input })) items.push(...((page.Items ?? []) as ActionRecord[]));
    return items;
  }

  /** Consistent: a retry right after a crash must see every step its previous attempt recorded. */
  private rowsOfFinding(ledgerId: string, prefix: 'ACTION#' | 'EPISODE#'): Promise<ActionRecord[]> {
    return this.queryAll({ ConsistentRead: true, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)', ExpressionAttributeValues: { ':pk': findingKey(ledgerId), ':prefix': prefix } });
  }

  /** Earlier, released episodes of a finding's steps (a step acted on again after a release). */
  earlierEpisodes(ledgerId: string): Promise<ActionRecord[]> {
    return this.rowsOfFinding(ledgerId, 'EPISODE#');
  }

  actionRecords(ledgerId: string): Promise<ActionRecord[]> {
    return this.rowsOfFinding(ledgerId, 'ACTION#');
  }

  /** Every record about a target, across findings. The index is eventually consistent: fine for status and release. */
  recordsForTarget(target: string): Promise<ActionRecord[]> {
    return this.queryAll({ IndexName: 'byTarget', KeyConditionExpression: 'target = :target', ExpressionAttributeValues: { ':target': target } });
  }

  /** Every action record since a time, newest first. A scan: fine for an on-call question, not for a hot path. */
  async recordsSince(since: string, limit = 200): Promise<ActionRecord[]> {
    const items: ActionRecord[] = [];
    const pages = paginateScan(
      { client: this.doc },
      {
        TableName: this.tableName,
        FilterExpression: '(begins_with(sk, :prefix) OR begins_with(sk, :episode)) AND #at >= :since',
        ExpressionAttributeNames: { '#at': 'at' },
        ExpressionAttributeValues: { ':prefix': 'ACTION#', ':episode': 'EPISODE#', ':since': since },
      },
    );
    for await (const page of pages) items.push(...((page.Items ?? []) as ActionRecord[]));
    return items.sort((a, b) => b.at.localeCompare(a.at)).slice(0, limit);
  }

  /**
   * Keeps a refused event for inspection, whatever its size and depth: the key from a well-formed id (or a hash of the
   * event), the event's JSON cut at 300,000 bytes and the error at 2,000 characters, so the item stays under DynamoDB's
   * 400 KB (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html).
   */
  async rejectEvent(eventId: string, error: string, raw: unknown): Promise<void> {
    const json = eventJson(raw, 300_000);
    // No usable id: the event's digest (as a decimal number), so the same event is kept once.
    const key = EVENT_ID.test(eventId) ? eventId : `unidentified-${BigInt(`0x${createHash('sha256').update(json.text).digest('hex').slice(0, 16)}`)}`;
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: `REJECTED#${key}`, sk: '#EVENT', at: this.now().toISOString(), error: error.slice(0, 2000), raw: json.text, ...(json.truncated ? { truncated: true } : {}) },
      }),
    );
  }
}

