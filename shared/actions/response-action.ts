import { failedTransiently } from '../aws/errors';
import type { AwsClients } from '../aws/clients';
import type { ResponderConfig } from '../config';
import type { Finding, ImageFinding } from '../finding';
import type { TaskUsingImage } from '../image/tasks-using-image';
import type { Ledger, ActionRecord } from '../ledger';
import type { ActionOutcome } from '../notification';
import type { ProtectionTarget } from '../policy/decide';
import type { Safety } from '../policy/policy-schema';
import type { TaskState } from '../task-state';

export type Mode = 'observe' | 'enforce';

export type FindingKind = 'runtime' | 'image';

/** Why and by whom an action runs; stored with every ledger record. */
export interface Audit {
  ledgerId: string;
  policyRule: string;
  mode: Mode;
  requestedBy: string;
  reason: string;
  ticket?: string;
}

/** What an image action sees: the scan finding and the running tasks that use its digest. */
export interface ImageActionTarget {
  finding: ImageFinding;
  /** Tasks running the digest, found before acting (ListTasks/DescribeTasks). */
  tasksUsingImage: TaskUsingImage[];
  rawEvent: unknown;
}

/** What an action sees: the finding and the read-only state gathered before planning. */
export interface ActionTarget {
  finding: Finding;
  task: TaskState;
  /** The event as delivered, kept as evidence. */
  rawEvent: unknown;
}

export interface ActionRuntime {
  clients: AwsClients;
  ledger: Ledger;
  config: ResponderConfig;
  audit: Audit;
  /** The policy's safety rails (defaults when absent). */
  safety?: Safety;
  /** The ledger target for audit rows an action writes about the whole response (e.g. `notify`). */
  recordTarget?: string;
  /** Why a task must not be touched (policy protection), for actions that reach tasks beyond the finding's own. */
  protectionOf?: (target: ProtectionTarget) => string | undefined;
  /** Builds the notification from the outcomes so far and publishes it to SNS. */
  publishNotification: () => Promise<ActionOutcome>;
  /** This finding's records from earlier deliveries (none on its first claim, when the ledger is not asked). */
  earlier?: ActionRecord[];
  /**
   * Before a disruptive change, beside its write-ahead: the task's slot of the blast-radius limit (one per response).
   * Undefined when admitted; otherwise the outcome to record in place of the change.
   */
  admit?: (action: string) => Promise<ActionOutcome | undefined>;
  /** The step is far enough for a stop to follow (evidence stored, tags set, the cut made), before it finishes. */
  ready?: () => void;
  /** Resolves when every step listed before this one is ready: a stop destroys evidence, so it waits for it. */
  beforeStop?: Promise<void>;
}

/** An IAM grant an action needs; `scope` says how serverless.yml narrows its Resource/Condition. */
export interface IamGrant {
  actions: string[];
  scope: 'ecs-task-in-cluster' | 'network-interface' | 'security-group' | 'network-acl' | 'evidence-bucket' | 'topic' | 'ecr-repository' | 'read-only';
}

/**
 * A self-describing response action (DESIGN.md): its metadata drives policy validation, the CLI, the docs table and
 * the IAM test; its parameters' schema is in ./params.ts (`ACTION_PARAMS`), out of the Lambdas that run the compiled
 * policy. `describe` says what `apply` would do (observe mode); `apply` mutates, write-ahead first.
 */
export interface ResponseAction<P = unknown, T = ActionTarget> {
  name: string;
  summary: string;
  permissions: IamGrant[];
  /** Changes the workload or its resources (tags included). Protected resources get no mutating action. */
  mutating: boolean;
  /** Disrupts the workload: counted by the blast-radius limit, and never run on a guess. */
  destructive: boolean;
  reversible: boolean;
  /** Runs for real in observe mode too (only `notify`: observe mode still tells people what would have happened). */
  runsInObserveMode?: boolean;
  /** The finding kinds whose rules may use the action (default: runtime only; `notify` serves both). */
  kinds?: readonly FindingKind[];
  describe(params: P, target: T, config: ResponderConfig): ActionOutcome[];
  apply(params: P, target: T, runtime: ActionRuntime): Promise<ActionOutcome[]>;
  undo?(record: ActionRecord, runtime: ActionRuntime): Promise<ActionOutcome>;
}

/** Lets a registry hold actions of different parameter types. */
export function defineAction<P, T = ActionTarget>(action: ResponseAction<P, T>): ResponseAction<P, T> {
  return action;
}

/** An outcome that holds: applied now, or by an earlier delivery or response. */
export function holds(outcome: ActionOutcome): boolean {
  return outcome.status === 'applied' || (outcome.status === 'skipped' && /already applied/.test(outcome.detail ?? ''));
}

const CONTAINING = new Set(['isolate-task', 'stop-task']);

/**
 * The steps a re-delivery must finish: a transient failure with nothing holding in its place (a containing step that
 * failed is moot once another containing step or rung held).
 */
export function stepsToRetry(outcomes: ActionOutcome[]): ActionOutcome[] {
  const replaces = (o: ActionOutcome, other: ActionOutcome) => other.action === o.action || (CONTAINING.has(o.action) && CONTAINING.has(other.action));
  return outcomes.filter((o) => failedTransiently(o) && !outcomes.some((other) => replaces(o, other) && holds(other)));
}
