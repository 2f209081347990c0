import { paginateScan } from '@aws-sdk/lib-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { loadPolicyFile, type Policy } from '../shared/policy/policy';
import type { CallRecord } from '../sim/account';
import { startSimulatedDeployment } from '../sim/deployment';
import { criticalFinding, hex, runningTask, type BenchTask, type GuardDutyEvent } from './events';

/**
 * A storm of GuardDuty deliveries about a few Fargate tasks, as EventBridge and Lambda would deliver them: several
 * finding ids per task, each delivered several times (exact duplicates and updates with a rising count), shuffled,
 * `concurrency` at a time through `invoke('runtimeFinding')`. An invocation that throws is delivered again later, at
 * most twice (Lambda's asynchronous retries), then goes to the failure queue.
 */
export interface StormOptions {
  deliveries: number;
  tasks: number;
  concurrency: number;
  findingsPerTask?: number;
  /** The cluster of the i-th task (default: round-robin over 4 clusters). */
  clusterOf?: (index: number) => string;
  /** Tasks per subnet, each subnet in a VPC (and default network ACL) of its own: the ACL quota is 20 rules a direction. */
  tasksPerSubnet?: number;
  /** `raised`: blast-radius limits high enough to admit every task. */
  limits?: 'shipped' | 'raised';
  seed?: number;
  /** A fixed delay per simulated call, the ledger's included (default none): more invocations overlap. */
  latencyMs?: number;
}

export interface TaskOutcome {
  task: string;
  cluster: string;
  stopTasks: number;
  /**
   * Deny entries for the task's address in its network ACL at the end, ingress and egress: a pair is one of each.
   */
  denyIngress: number;
  denyEgress: number;
  /** Successful CreateNetworkAclEntry calls for the address (a re-planned direction is made once, at its new number). */
  denyCreates: number;
}

export interface StormFigures {
  limits: 'shipped' | 'raised';
  deliveries: number;
  tasks: number;
  findings: number;
  concurrency: number;
  layout: string;
  /** Invocations made, retries included, and how they ended. */
  invocations: number;
  results: Record<string, number>;
  retried: number;
  failureQueue: { finding: string; error: string }[];
  tasksStopped: number;
  tasksStoppedTwiceOrMore: number;
  tasksWithDenyPair: number;
  tasksWithTwoOrMoreDenyPairs: number;
  tasksDisrupted: number;
  /** Tasks isolated (a deny pair) and never stopped. */
  tasksIsolatedNotStopped: number;
  maxTasksDisruptedPerCluster: number;
  stopTaskCalls: number;
  denyPairs: number;
  /** Deny entries refused because a concurrent isolation in the same subnet took the rule number (that direction re-planned). */
  replannedDenies: number;
  notifications: number;
  containedRecords: number;
  slotsUsed: number;
  findingsHandled: number;
  /** Finding ids delivered whose claim is not finished (running or retry), or never written. */
  claimsNotFinished: string[];
  perTask: TaskOutcome[];
}

/** mulberry32: a small seeded PRNG, so a storm is the same storm every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], next: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

interface Delivery {
  finding: string;
  event: GuardDutyEvent;
  attempts: number;
}

/** The tasks, spread round-robin over clusters and filling subnets in turn. */
export function stormTasks(count: number, clusterOf: (index: number) => string, tasksPerSubnet: number): BenchTask[] {
  return Array.from({ length: count }, (_, i) => {
    const subnet = Math.floor(i / tasksPerSubnet);
    return { cluster: clusterOf(i), id: hex(0x5707 * 0x10000 + i, 32), subnetId: `subnet-0${hex(subnet + 1, 16)}`, ip: `10.${subnet + 1}.0.${10 + (i % tasksPerSubnet)}` };
  });
}

/** Every finding delivered at least once, the rest picked at random; a pick repeats the last delivery (same event) or updates it (count + 1). */
export function stormDeliveries(tasks: BenchTask[], options: Required<Pick<StormOptions, 'deliveries' | 'findingsPerTask' | 'seed'>>): Delivery[] {
  const next = random(options.seed);
  const findings = tasks.flatMap((task, t) => Array.from({ length: options.findingsPerTask }, (_, k) => ({ task, id: `storm${hex(t, 4)}f${k}${hex(options.seed, 8)}` })));
  const picks = [...findings, ...Array.from({ length: Math.max(0, options.deliveries - findings.length) }, () => findings[Math.floor(next() * findings.length)]!)];
  const last = new Map<string, { count: number; eventId: string }>();
  return shuffle(picks, next).map(({ task, id }) => {
    const previous = last.get(id);
    const duplicate = previous && next() < 0.3;
    const count = duplicate ? previous.count : (previous?.count ?? 0) + 1;
    const eventId = duplicate ? previous.eventId : `${hex(Math.floor(next() * 2 ** 32), 8)}-0000-4000-8000-${hex(last.size * 1000 + count, 12)}`;
    last.set(id, { count, eventId });
    return { finding: id, event: criticalFinding(task, id, count, eventId), attempts: 0 };
  });
}

function withLimits(policy: Policy, limits: 'shipped' | 'raised'): Policy {
  if (limits === 'shipped') return policy;
  return { ...policy, safety: { ...policy.safety, maxDestructivePerAccount: 1_000_000, maxDestructivePerCluster: 1_000_000 } };
}

/** Runs `queue` `concurrency` at a time; returns the deliveries whose invocation threw. */
async function deliver(queue: Delivery[], concurrency: number, invoke: (d: Delivery) => Promise<string>, results: Record<string, number>): Promise<{ delivery: Delivery; error: string }[]> {
  const failed: { delivery: Delivery; error: string }[] = [];
  let nextIndex = 0;
  const worker = async () => {
    while (nextIndex < queue.length) {
      const delivery = queue[nextIndex++]!;
      delivery.attempts++;
      try {
        const outcome = await invoke(delivery);
        results[outcome] = (results[outcome] ?? 0) + 1;
      } catch (error) {
        const name = (error as Error).name;
        results[`threw ${name}`] = (results[`threw ${name}`] ?? 0) + 1;
        failed.push({ delivery, error: name });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failed;
}

const isDeny = (c: CallRecord, ip: string) => c.ok && c.operation === 'CreateNetworkAclEntry' && c.input.CidrBlock === `${ip}/32` && c.input.RuleAction === 'deny';

export async function runStorm(options: StormOptions): Promise<StormFigures> {
  const o = { findingsPerTask: 4, clusterOf: (i: number) => `storm-${i % 4}`, tasksPerSubnet: 8, limits: 'shipped' as const, seed: 10, latencyMs: 0, ...options };
  const deployment = await startSimulatedDeployment({ policy: withLimits(loadPolicyFile('policy.yml'), o.limits), timeLedgerCalls: o.latencyMs > 0 });
  try {
    const { account } = deployment;
    account.latency.set(o.latencyMs);
    const tasks = stormTasks(o.tasks, o.clusterOf, o.tasksPerSubnet);
    for (const [i, task] of tasks.entries()) {
      const subnet = Number.parseInt(task.subnetId!.slice('subnet-'.length), 16);
      const vpcId = `vpc-0${hex(subnet, 16)}`;
      account.addVpc({ vpcId, cidrBlock: `10.${subnet}.0.0/16` });
      account.addSubnet({ vpcId, subnetId: task.subnetId, cidrBlock: `10.${subnet}.0.0/24` });
      account.seedFromEvent(runningTask(task, `eni-0${hex(i + 1, 16)}`));
    }
    account.drainEvents();
    const deliveries = stormDeliveries(tasks, o);
    const results: Record<string, number> = {};
    const invoke = async (d: Delivery) => {
      const result = await deployment.invoke('runtimeFinding', d.event);
      if (result.error) return `error: ${result.error.slice(0, 60)}`;
      if (result.ignored) return result.ignored.startsWith('duplicate') ? 'duplicate' : `ignored: ${result.ignored.slice(0, 60)}`;
      return `responded: ${result.containment ?? 'none'}`;
    };
    // Lambda retries a failed asynchronous invocation about a minute, then two, later: after everything in flight now.
    let failed = await deliver(deliveries, o.concurrency, invoke, results);
    let retried = 0;
    for (let retry = 0; retry < 2 && failed.length; retry++) {
      retried += failed.length;
      failed = await deliver(
        failed.map((f) => f.delivery),
        o.concurrency,
        invoke,
        results,
      );
    }

    const items: Record<string, unknown>[] = [];
    for await (const page of paginateScan({ client: DynamoDBDocumentClient.from(deployment.dynamo) }, { TableName: deployment.config.tableName })) items.push(...(page.Items ?? []));
    const claims = new Map(items.filter((i) => String(i.pk).startsWith('FINDING#') && i.sk === '#CLAIM').map((i) => [String(i.pk).slice('FINDING#guardduty:'.length), i]));
    const findingIds = [...new Set(deliveries.map((d) => d.finding))];

    const calls = account.calls;
    const entries = [...account.ec2.networkAcls.values()].flatMap((acl) => acl.entries).filter((e) => e.ruleAction === 'deny');
    const inPlace = (ip: string, egress: boolean) => entries.filter((e) => e.cidrBlock === `${ip}/32` && e.egress === egress).length;
    const perTask = tasks.map((task) => ({
      task: task.id,
      cluster: task.cluster,
      stopTasks: calls.filter((c) => c.ok && c.operation === 'StopTask' && String(c.input.task).endsWith(task.id)).length,
      denyIngress: inPlace(task.ip!, false),
      denyEgress: inPlace(task.ip!, true),
      denyCreates: calls.filter((c) => isDeny(c, task.ip!)).length,
    }));
    const pairs = (t: TaskOutcome) => Math.min(t.denyIngress, t.denyEgress);
    const disrupted = perTask.filter((t) => t.stopTasks > 0 || t.denyIngress + t.denyEgress > 0);
    const perCluster = new Map<string, number>();
    for (const t of disrupted) perCluster.set(t.cluster, (perCluster.get(t.cluster) ?? 0) + 1);
    return {
      limits: o.limits,
      deliveries: deliveries.length,
      tasks: o.tasks,
      findings: findingIds.length,
      concurrency: o.concurrency,
      layout: `${o.tasks} Fargate tasks in clusters ${[...new Set(tasks.map((t) => t.cluster))].map((c) => `${c} (${tasks.filter((t) => t.cluster === c).length})`).join(', ')}; ${Math.ceil(o.tasks / o.tasksPerSubnet)} subnets of ${o.tasksPerSubnet} tasks, each in its own VPC (own network ACL); ${o.findingsPerTask} finding ids per task; seed ${o.seed}; ${o.latencyMs} ms per call`,
      invocations: Object.values(results).reduce((a, b) => a + b, 0),
      results,
      retried,
      failureQueue: failed.map((f) => ({ finding: f.delivery.finding, error: f.error })),
      tasksStopped: perTask.filter((t) => t.stopTasks > 0).length,
      tasksStoppedTwiceOrMore: perTask.filter((t) => t.stopTasks > 1).length,
      tasksWithDenyPair: perTask.filter((t) => pairs(t) > 0).length,
      tasksWithTwoOrMoreDenyPairs: perTask.filter((t) => pairs(t) > 1).length,
      tasksDisrupted: disrupted.length,
      tasksIsolatedNotStopped: perTask.filter((t) => pairs(t) > 0 && t.stopTasks === 0).length,
      maxTasksDisruptedPerCluster: Math.max(0, ...perCluster.values()),
      stopTaskCalls: perTask.reduce((n, t) => n + t.stopTasks, 0),
      denyPairs: perTask.reduce((n, t) => n + pairs(t), 0),
      replannedDenies: calls.filter((c) => !c.ok && c.operation === 'CreateNetworkAclEntry' && c.errorCode === 'NetworkAclEntryAlreadyExists').length,
      notifications: account.sns.published.length,
      containedRecords: items.filter((i) => i.containment === 'contained').length,
      slotsUsed: items.filter((i) => String(i.pk).startsWith('BLAST#account#')).reduce((n, i) => n + Number(i.used ?? 0), 0),
      findingsHandled: findingIds.filter((id) => claims.get(id)?.state === 'done').length,
      claimsNotFinished: findingIds.filter((id) => claims.get(id)?.state !== 'done'),
      perTask,
    };
  } finally {
    await deployment.close();
  }
}
