import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Mode } from '../shared/actions/response-action';
import { createAwsClients } from '../shared/aws/clients';
import { configFromEnvironment, type ResponderConfig } from '../shared/config';
import { ENTRY_POINTS } from '../shared/entry-points';
import { Ledger } from '../shared/ledger';
import { withObserveSwitch } from '../shared/observe-switch';
import { isRunbookPayload, type RunbookResult } from '../shared/runbook';
import type { EventResult, PipelineDeps } from '../shared/pipeline';
import { loadPolicyFile, type Policy } from '../shared/policy/policy';
import { SimulatedAccount } from '../sim/account';
import { SIMULATED_EXTERNAL_ID, startSimulatedDeployment, type FunctionName, type RegionalDeployment, type SimulatedDeployment } from '../sim/deployment';
import { loadEventRoutes, routeEvent, type EventRoute } from './event-routes';
import { UsageError } from './cli-run';
import { readEventFile } from './replay-input';

export { expandEventPaths } from './replay-input';

/** The simulated account before any event names another (the account of the samples in events/). */
export const DEFAULT_ACCOUNT = '111122223333';

/** One line of `replay --json`: the shape is part of the CLI's contract (README, "Replay"). */
export interface ReplayLine extends Omit<EventResult, 'finding' | 'decision'> {
  event: string;
  rule: string | null;
  finding: EventResult['finding'];
  decision: EventResult['decision'];
  /** Set for events the simulated account emitted in reaction (a stopped task's state change). */
  emittedBy?: string;
  /** How the input was read, when it was not an EventBridge event as delivered (a finding the AWS CLI printed, wrapped). */
  input?: string;
}

export interface LiveTarget {
  config: ResponderConfig;
  region: string;
}

export interface ReplayOptions {
  mode?: Mode;
  /** A real account, with the stack's settings read from its outputs (cli/live-stack.ts). */
  live?: LiveTarget;
  policyFile?: string;
  /** Stage parameters, as `osls deploy --param name=value` takes them: the simulated stage is packaged with them. */
  params?: Record<string, string>;
  /** Organization-wide (memberAccounts or organizationId): members of the simulated organization without the member role. */
  withoutMemberRole?: string[];
}

/** The simulated organization stage parameters describe (memberAccounts, organizationId), if any. */
export interface ReplayOrganization {
  /** Listed members (memberAccounts), and members made without the role (--without-member-role). */
  members: string[];
  withoutMemberRole: string[];
  /** organizationId: the responder asks Organizations; accounts the events come from join the organization as seen. */
  organizationId?: string;
  /** memberRoleName and memberExternalId: the members' roles are made with them, as the StackSet would be given them. */
  roleName?: string;
  externalId?: string;
}

export function organizationFromParams(params: Record<string, string>, withoutMemberRole: string[] = []): ReplayOrganization | undefined {
  const listed = (params.memberAccounts ?? '').split(',').map((a) => a.trim()).filter(Boolean);
  const organizationId = params.organizationId?.trim() || undefined;
  if (!listed.length && !organizationId) {
    if (withoutMemberRole.length) throw new UsageError('--without-member-role needs an organization: --param memberAccounts=<ids> or --param organizationId=<o-...>');
    return undefined;
  }
  return {
    members: [...new Set([...listed, ...withoutMemberRole])],
    withoutMemberRole,
    organizationId,
    roleName: params.memberRoleName?.trim() || undefined,
    externalId: params.memberExternalId?.trim() || undefined,
  };
}

/** The account an event's resources live in (a finding's detail.accountId, an Inspector finding's awsAccountId, the envelope's, a runbook payload's). */
export function accountOfEvent(event: unknown): string | undefined {
  const envelope = (event ?? {}) as { account?: unknown; taskArn?: unknown; detail?: { accountId?: unknown; awsAccountId?: unknown } };
  const fromTask = typeof envelope.taskArn === 'string' ? envelope.taskArn.split(':')[4] : undefined;
  const candidates = [envelope.detail?.accountId, envelope.detail?.awsAccountId, envelope.account, fromTask];
  return candidates.find((c): c is string => typeof c === 'string' && /^\d{12}$/.test(c));
}

/** Evidence and notifications are written in the responder's own account; every other step acts on the resource's. */
const ACTS_AT_HOME = new Set(['capture-evidence', 'notify']);

/** Each action of a result with the account it acted in. */
export function withActionAccounts<T extends { actions: EventResult['actions'] }>(result: T, home: string, resourceAccount: string | undefined): T {
  return { ...result, actions: result.actions.map((a) => ({ ...a, account: ACTS_AT_HOME.has(a.action) ? home : (resourceAccount ?? home) })) };
}

/** The responder's settings a stage's parameters give (as the functions read them from their environment). */
export function configFromParams(params: Record<string, string>): Partial<ResponderConfig> {
  const env = {
    RESPONDER_TABLE: '-',
    EVIDENCE_BUCKET: '-',
    EVIDENCE_KEY_ARN: '-',
    NOTIFY_TOPIC_ARN: '-',
    RESPONDER_DEFAULT_MODE: params.defaultMode,
    RESPONDER_FORCE_OBSERVE: params.forceObserve,
    QUARANTINE_SECURITY_GROUPS: params.quarantineSecurityGroups,
    PROTECTED_CLUSTERS: params.protectedClusters,
    IMAGE_TASK_CLUSTERS: params.imageTaskClusters,
  };
  const { defaultMode, forceObserve, quarantineSecurityGroups, protectedClusters, imageTaskClusters } = configFromEnvironment(env);
  return { defaultMode, forceObserve, quarantineSecurityGroups, protectedClusters, imageTaskClusters };
}

/**
 * One replay run: a simulated account by default (it adopts the account id of the events it is given, as the stack of
 * that account would receive them; each region its own deployment), or a real one; events handled in order by the
 * Lambda's own code.
 */
export class ReplaySession {
  /** Simulated deployments by account id, the first one adopted first. */
  private readonly deployments = new Map<string, SimulatedDeployment>();
  /** The deployment the last event went to: a runbook command after a replay acts where the events were. */
  private current: SimulatedDeployment | undefined;

  private constructor(
    /** With --live: the dependencies for the real account (your credentials). */
    private readonly liveDeps: PipelineDeps | undefined,
    private readonly routes: EventRoute[],
    private readonly policy: Policy,
    private readonly options: ReplayOptions,
  ) {
    this.organization = options.live ? undefined : organizationFromParams(options.params ?? {}, options.withoutMemberRole);
  }

  /** Organization-wide: one deployment, in the security account, acting in members through their roles. */
  private readonly organization: ReplayOrganization | undefined;

  static async start(options: ReplayOptions = {}): Promise<ReplaySession> {
    const policy = loadPolicyFile(options.policyFile ?? 'policy.yml');
    const organization = options.live ? undefined : organizationFromParams(options.params ?? {}, options.withoutMemberRole);
    // The simulated member roles trust the simulated external id: a stage needs one with either parameter.
    if (organization && !options.params?.memberExternalId) options = { ...options, params: { ...options.params, memberExternalId: SIMULATED_EXTERNAL_ID } };
    const routes = loadEventRoutes({ params: options.params });
    if (!options.live) {
      const session = new ReplaySession(undefined, routes, policy, options);
      await session.deploymentFor(DEFAULT_ACCOUNT);
      return session;
    }
    const { region } = options.live;
    const config = { ...options.live.config, ...modeConfig(options.mode) };
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region }), { marshallOptions: { removeUndefinedValues: true } });
    const base: PipelineDeps = { clients: createAwsClients({ region }), ledger: new Ledger(doc, config.tableName), policy, config };
    // The live observe switch applies to a person's replay as it does to the functions.
    const name = config.switchParameter;
    const deps = name ? await withObserveSwitch(base, async () => (await new SSMClient({ region }).send(new GetParameterCommand({ Name: name }))).Parameter?.Value) : base;
    return new ReplaySession(deps, routes, policy, options);
  }

  /** The simulated deployment of the account the last event came from (the default account before any event). */
  get simulated(): SimulatedDeployment | undefined {
    return this.current ?? this.deployments.values().next().value;
  }

  /** The home-region simulated account of that deployment. */
  get account(): SimulatedAccount | undefined {
    return this.simulated?.account;
  }

  /** The ledger of the account the session acts on. */
  get ledger(): Ledger {
    const ledger = this.liveDeps?.ledger ?? this.simulated?.ledger;
    if (!ledger) throw new Error('no account yet: replay an event or run a command first');
    return ledger;
  }

  /** Every simulated regional account, of every adopted account id. */
  accounts(): SimulatedAccount[] {
    return [...new Set([...this.deployments.values()].flatMap((d) => [...d.accounts(), ...(d.organization?.allAccounts() ?? [])]))];
  }

  /** The simulated deployment of an account id, started on first use. */
  private async deploymentFor(accountId?: string, region?: string): Promise<SimulatedDeployment> {
    // Organization-wide, every event reaches the security account's stack (the delegated administrator's bus).
    const id = this.organization ? DEFAULT_ACCOUNT : (accountId ?? this.simulated?.account.accountId ?? DEFAULT_ACCOUNT);
    let deployment = this.deployments.get(id);
    if (!deployment) {
      const config = { ...configFromParams(this.options.params ?? {}), ...modeConfig(this.options.mode) };
      const org = this.organization;
      const organization = org && {
        members: org.members,
        withoutMemberRole: org.withoutMemberRole,
        byOrganizationId: !!org.organizationId,
        organizationId: org.organizationId,
        roleName: org.roleName,
        externalId: org.externalId,
      };
      deployment = await startSimulatedDeployment({ policy: this.policy, config, params: this.options.params, account: new SimulatedAccount({ accountId: id, region }), organization });
      this.deployments.set(id, deployment);
    }
    return deployment;
  }

  /**
   * Where an event's resources are: the deployment's own account, or (organization-wide) the member's simulated
   * account in the event's region. With organizationId and no list, an account the events come from joins the
   * organization when first seen, as a member account would be.
   */
  private resourceAccount(target: RegionalDeployment, event: unknown): SimulatedAccount {
    const deployment = this.current;
    const accountId = accountOfEvent(event);
    if (!deployment?.organization || !accountId || accountId === deployment.account.accountId) return target.account;
    const org = this.organization!;
    if (org.organizationId && !org.members.length && !deployment.organization.isMember(accountId)) deployment.addMember(accountId);
    return deployment.organization.account(accountId, target.account.region);
  }

  /** The regional deployment an event goes to: an event is handled by the stack of its own account and region. */
  private async target(event: unknown): Promise<RegionalDeployment | undefined> {
    if (this.liveDeps) return undefined;
    const envelope = (event ?? {}) as { account?: unknown; region?: unknown };
    const accountId = typeof envelope.account === 'string' && /^\d{12}$/.test(envelope.account) ? envelope.account : undefined;
    const region = typeof envelope.region === 'string' && /^[a-z]{2}(-[a-z]+)+-\d$/.test(envelope.region) ? envelope.region : undefined;
    const deployment = await this.deploymentFor(accountId, region);
    this.current = deployment;
    return !region || region === deployment.account.region ? deployment : deployment.inRegion(region);
  }

  /** Handles one event; on the simulated account, then whatever the account emitted in reaction that a rule routes. */
  async replay(label: string, event: unknown, input?: string): Promise<ReplayLine[]> {
    const lines = [{ ...(await this.handle(label, event, true)), ...(input ? { input } : {}) }];
    // An event no rule routes reaches no deployment, so it adopts no account either.
    const target = this.liveDeps || !lines[0]!.rule ? undefined : await this.target(event);
    const account = target && this.resourceAccount(target, event);
    // Time passes before the next event: a task asked to stop goes through its lifecycle to STOPPED (and its service
    // starts a replacement), as it would in the minute after a response; its state changes are then replayed too.
    account?.ecs.settle();
    for (const emitted of account?.drainEvents() ?? []) {
      if (!routeEvent(emitted, this.routes)) continue;
      const subject = typeof emitted.detail.taskArn === 'string' ? emitted.detail.taskArn : (emitted.resources[0] ?? '');
      const name = `${emitted['detail-type']} ${subject}`.trim();
      lines.push({ ...(await this.handle(name, emitted)), emittedBy: label });
    }
    return lines;
  }

  /** Every event a file holds (see replay-input.ts); a file that cannot be read fails on its own line. */
  async replayFile(path: string): Promise<ReplayLine[]> {
    const lines: ReplayLine[] = [];
    for (const input of readEventFile(path)) {
      if (input.error !== undefined) lines.push({ event: input.label, rule: null, finding: null, decision: null, actions: [], notifications: 0, error: input.error });
      else lines.push(...(await this.replay(input.label, input.event, input.note)));
    }
    return lines;
  }

  private async handle(label: string, event: unknown, seed = false): Promise<ReplayLine> {
    // A runbook payload is not an EventBridge event: it goes to the runbook function, as `osls invoke -f runbook` would.
    const rule = isRunbookPayload(event) ? 'runbook' : routeEvent(event, this.routes);
    if (!rule) return { event: label, rule: null, finding: null, decision: null, actions: [], notifications: 0, ignored: 'no EventBridge rule in serverless.yml matches this event' };
    const entry = ENTRY_POINTS[rule];
    if (!entry) throw new Error(`serverless.yml routes to ${rule}, which has no entry point`);
    try {
      const target = await this.target(event);
      // The simulated account starts empty: create what the event names (cluster, task, interface, image) first, in
      // the account it names (organization-wide, a member's).
      if (seed && target) this.resourceAccount(target, event).seedFromEvent(event);
      const clients = target ? target.depsFor(rule as FunctionName).clients : this.liveDeps!.clients;
      // A runbook payload is a person's: the local caller identity is who asks (as the runbook CLI records it).
      const requestedBy = rule === 'runbook' ? (await clients.sts.send(new GetCallerIdentityCommand({}))).Arn : undefined;
      const result = target ? await target.invoke(rule as FunctionName, event, requestedBy) : await entry(event, this.liveDeps!, requestedBy);
      // The responder's own account: its topic's.
      const home = (target?.config ?? this.liveDeps!.config).topicArn.split(':')[4] ?? '';
      return { event: label, rule, ...withActionAccounts(result, home, accountOfEvent(event)) };
    } catch (error) {
      return { event: label, rule, finding: null, decision: null, actions: [], notifications: 0, error: (error as Error).message };
    }
  }

  /** A person's runbook command, as the runbook function (its role) on the session's account; who asks is the caller. */
  async runbook(payload: unknown): Promise<RunbookResult> {
    if (this.liveDeps) {
      const identity = await this.liveDeps.clients.sts.send(new GetCallerIdentityCommand({}));
      return ENTRY_POINTS.runbook!(payload, this.liveDeps, identity.Arn);
    }
    // A command acts where its target is: the account its task ARN or `account` names (adopted as an event's would be).
    const deployment = await this.deploymentFor(accountOfEvent(payload));
    const identity = await deployment.depsFor('runbook').clients.sts.send(new GetCallerIdentityCommand({}));
    return withActionAccounts(await deployment.invoke('runbook', payload, identity.Arn), deployment.account.accountId, accountOfEvent(payload));
  }

  async close(): Promise<void> {
    for (const deployment of this.deployments.values()) await deployment.close();
  }
}

function modeConfig(mode: Mode | undefined): Partial<ResponderConfig> {
  if (mode === 'observe') return { forceObserve: true, observeReason: 'Replayed with --mode observe: nothing was changed.' };
  return mode ? { defaultMode: mode, forceObserve: false } : {};
}
