import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Mode } from '../shared/actions/response-action';
import { createAwsClients } from '../shared/aws/clients';
import { configFromEnvironment } from '../shared/config';
import { ENTRY_POINTS } from '../shared/entry-points';
import { Ledger } from '../shared/ledger';
import { isRunbookPayload, runRunbook, type RunbookResult } from '../shared/runbook';
import type { EventResult, PipelineDeps } from '../shared/pipeline';
import { loadPolicyFile } from '../shared/policy/policy';
import type { SimulatedAccount } from '../sim/account';
import { startSimulatedDeployment, type FunctionName, type RegionalDeployment, type SimulatedDeployment } from '../sim/deployment';
import { loadEventRoutes, routeEvent, type EventRoute } from './event-routes';

/** One line of `replay --json`: the shape is part of the CLI's contract (README, "Replay"). */
export interface ReplayLine extends Omit<EventResult, 'finding' | 'decision'> {
  event: string;
  rule: string | null;
  finding: EventResult['finding'];
  decision: EventResult['decision'];
  /** Set for events the simulated account emitted in reaction (a stopped task's state change). */
  emittedBy?: string;
}

export interface ReplayOptions {
  mode?: Mode;
  live?: boolean;
  policyFile?: string;
}

/** Event files in the order given; a folder contributes its *.json files in name order. */
export function expandEventPaths(paths: string[]): string[] {
  return paths.flatMap((path) =>
    statSync(path).isDirectory()
      ? expandEventPaths(readdirSync(path).sort().filter((name) => name.endsWith('.json') || statSync(join(path, name)).isDirectory()).map((name) => join(path, name)))
      : [path],
  );
}

/** One replay run: one account (simulated by default), one ledger, events handled in order by the Lambda's own code. */
export class ReplaySession {
  private constructor(
    /** The ledger of the account the session acts on (read with full access on the simulated one). */
    readonly ledger: Ledger,
    /** With --live: the dependencies for the real account (your credentials). */
    private readonly liveDeps: PipelineDeps | undefined,
    private readonly routes: EventRoute[],
    /** Absent with --live. */
    readonly simulated: SimulatedDeployment | undefined,
    private readonly onClose: () => Promise<void>,
  ) {}

  /** The simulated account of the home region. */
  get account(): SimulatedAccount | undefined {
    return this.simulated?.account;
  }

  /** The regional deployment an event goes to: an event is handled by the stack in its own region. */
  private target(event: unknown): RegionalDeployment | undefined {
    const region = (event as { region?: unknown } | null)?.region;
    if (!this.simulated || typeof region !== 'string' || region === this.simulated.account.region) return this.simulated;
    return this.simulated.inRegion(region);
  }

  static async start(options: ReplayOptions = {}): Promise<ReplaySession> {
    const policy = loadPolicyFile(options.policyFile ?? 'policy.yml');
    const routes = loadEventRoutes();
    const modeConfig = options.mode ? { defaultMode: options.mode, forceObserve: options.mode === 'observe' } : {};
    if (options.live) {
      if (!options.mode) throw new Error('--live needs an explicit --mode observe|enforce');
      const config = { ...configFromEnvironment(), ...modeConfig };
      const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });
      const deps = { clients: createAwsClients(), ledger: new Ledger(doc, config.tableName), policy, config };
      return new ReplaySession(deps.ledger, deps, routes, undefined, async () => {});
    }
    const deployment = await startSimulatedDeployment({ policy, config: modeConfig });
    return new ReplaySession(deployment.ledger, undefined, routes, deployment, () => deployment.close());
  }

  /** Handles one event; on the simulated account, then whatever the account emitted in reaction that a rule routes. */
  async replay(label: string, event: unknown): Promise<ReplayLine[]> {
    const lines = [await this.handle(label, event, true)];
    const account = this.target(event)?.account;
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

  async replayFile(path: string): Promise<ReplayLine[]> {
    let event: unknown;
    try {
      event = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      return [{ event: path, rule: null, finding: null, decision: null, actions: [], notifications: 0, error: `not valid JSON: ${(error as Error).message}` }];
    }
    return this.replay(path, event);
  }

  private async handle(label: string, event: unknown, seed = false): Promise<ReplayLine> {
    // A runbook payload is not an EventBridge event: it goes to the runbook function, as `osls invoke -f runbook` would.
    const rule = isRunbookPayload(event) ? 'runbook' : routeEvent(event, this.routes);
    if (!rule) return { event: label, rule: null, finding: null, decision: null, actions: [], notifications: 0, ignored: 'no EventBridge rule in serverless.yml matches this event' };
    const entry = ENTRY_POINTS[rule];
    if (!entry) throw new Error(`serverless.yml routes to ${rule}, which has no entry point`);
    try {
      const target = this.target(event);
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
    const clients = this.simulated ? this.simulated.depsFor('runbook').clients : this.liveDeps!.clients;
    const identity = await clients.sts.send(new GetCallerIdentityCommand({}));
    if (this.simulated) return (await this.simulated.invoke('runbook', payload, identity.Arn));
    return runRunbook(payload, this.liveDeps!, identity.Arn);
  }

  close(): Promise<void> {
    return this.onClose();
  }
}
