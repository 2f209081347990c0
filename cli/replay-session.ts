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
import { startSimulatedDeployment, type FunctionName, type RegionalDeployment, type SimulatedDeployment } from '../sim/deployment';
import { loadEventRoutes, routeEvent, type EventRoute } from './event-routes';
import { readEventFile } from './replay-input';

export { expandEventPaths } from './replay-input';

/** The simulated account before any event names another (the account of the samples in events/). */
const DEFAULT_ACCOUNT = '111122223333';

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
  ) {}

  static async start(options: ReplayOptions = {}): Promise<ReplaySession> {
    const policy = loadPolicyFile(options.policyFile ?? 'policy.yml');
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
    return [...this.deployments.values()].flatMap((d) => d.accounts());
  }

  /** The simulated deployment of an account id, started on first use. */
  private async deploymentFor(accountId?: string, region?: string): Promise<SimulatedDeployment> {
    const id = accountId ?? this.simulated?.account.accountId ?? DEFAULT_ACCOUNT;
    let deployment = this.deployments.get(id);
    if (!deployment) {
      const config = { ...configFromParams(this.options.params ?? {}), ...modeConfig(this.options.mode) };
      deployment = await startSimulatedDeployment({ policy: this.policy, config, params: this.options.params, account: new SimulatedAccount({ accountId: id, region }) });
      this.deployments.set(id, deployment);
    }
    return deployment;
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
    const account = this.liveDeps || !lines[0]!.rule ? undefined : (await this.target(event))?.account;
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
      // The simulated account starts empty: create what the event names (cluster, task, interface, image) first.
      if (seed) target?.account.seedFromEvent(event);
      const clients = target ? target.depsFor(rule as FunctionName).clients : this.liveDeps!.clients;
      // A runbook payload is a person's: the local caller identity is who asks (as the runbook CLI records it).
      const requestedBy = rule === 'runbook' ? (await clients.sts.send(new GetCallerIdentityCommand({}))).Arn : undefined;
      const result = target ? await target.invoke(rule as FunctionName, event, requestedBy) : await entry(event, this.liveDeps!, requestedBy);
      return { event: label, rule, ...result };
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
    const deployment = await this.deploymentFor();
    const identity = await deployment.depsFor('runbook').clients.sts.send(new GetCallerIdentityCommand({}));
    return deployment.invoke('runbook', payload, identity.Arn);
  }

  async close(): Promise<void> {
    for (const deployment of this.deployments.values()) await deployment.close();
  }
}

function modeConfig(mode: Mode | undefined): Partial<ResponderConfig> {
  if (mode === 'observe') return { forceObserve: true, observeReason: 'Replayed with --mode observe: nothing was changed.' };
  return mode ? { defaultMode: mode, forceObserve: false } : {};
}
