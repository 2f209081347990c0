import { performance } from 'node:perf_hooks';
import { loadPolicyFile, parsePolicy, type Policy } from '../shared/policy/policy';
import type { CallRecord } from '../sim/account';
import { startSimulatedDeployment } from '../sim/deployment';
import { criticalFinding, criticalSample, hex } from './events';

/** The fixed simulated latency of every AWS call, the ledger's DynamoDB calls included. */
export const LATENCY_MS = 50;

export interface Scenario {
  name: string;
  policy: () => Policy;
  /** Another finding was handled first (the quarantine security group exists, connections are open). */
  warm: boolean;
  /** The fewest sequential round trips to the first containing call (issue 10) and the target, floor + 1. */
  floor: number;
}

/** A call on the time line of one invocation: its depth in the chain of calls that ended before it started. */
export interface TimedCall extends Pick<CallRecord, 'service' | 'operation' | 'ok'> {
  /** `service:Operation`, with the error code when it failed, for people. */
  call: string;
  depth: number;
  startMs: number;
  endMs: number;
}

export interface ContainmentFigures {
  scenario: string;
  floor: number;
  target: number;
  /** The first containing call: sequential round trips up to and including it, and ms from the invocation's start. */
  cut?: { call: string; roundTrips: number; ms: number };
  stop?: { roundTrips: number; ms: number };
  callsBeforeCut: number;
  dynamoBeforeCut: number;
  totalCalls: number;
  totalRoundTrips: number;
  /** Round trip by round trip up to the cut: the calls made at that depth (more than one: in parallel). */
  chainToCut: string[][];
  /** Calls that overlapped in time, anywhere in the invocation. */
  parallel: string[][];
}

const stopOnly = (actions: string) => () =>
  parsePolicy(`version: 1\nrules:\n  - name: critical-stop\n    match:\n      severity: [CRITICAL]\n    mode: enforce\n    actions:\n${actions}`, 'bench-stop-only.yml');

export const SCENARIOS: Scenario[] = [
  { name: 'network-acl rung, fresh account', policy: () => loadPolicyFile('policy.yml'), warm: false, floor: 4 },
  { name: 'network-acl rung, warm account', policy: () => loadPolicyFile('policy.yml'), warm: true, floor: 4 },
  { name: 'stop-only [stop-task, notify], warm', policy: stopOnly('      - stop-task:\n          ignoreMinHealthy: true\n      - notify\n'), warm: true, floor: 3 },
  {
    name: 'stop-only [capture-evidence, stop-task, notify], warm',
    policy: stopOnly('      - capture-evidence\n      - stop-task:\n          ignoreMinHealthy: true\n      - notify\n'),
    warm: true,
    // The issue's floor of 3 has no evidence; evidence before a stop adds one round trip (the uploads in parallel).
    floor: 4,
  },
];

/** A network cut or a stop that took effect. */
export function isContaining(c: Pick<CallRecord, 'service' | 'operation' | 'ok'>): boolean {
  if (!c.ok) return false;
  return (c.service === 'ec2' && (c.operation === 'CreateNetworkAclEntry' || c.operation === 'ModifyNetworkInterfaceAttribute')) || (c.service === 'ecs' && c.operation === 'StopTask');
}

/** depth(c) = 1 + the greatest depth of the calls that ended before c started: robust to CPU time between calls. */
export function timeline(calls: CallRecord[], t0: number): TimedCall[] {
  const sorted = calls.filter((c) => c.startedAt !== undefined && c.endedAt !== undefined).sort((a, b) => a.startedAt! - b.startedAt!);
  const timed: TimedCall[] = [];
  for (const record of sorted) {
    const before = timed.filter((t) => t.endMs <= record.startedAt! - t0);
    timed.push({
      service: record.service,
      operation: record.operation,
      call: `${record.service}:${record.operation}${record.ok ? '' : ` (${record.errorCode})`}`,
      ok: record.ok,
      depth: 1 + Math.max(0, ...before.map((t) => t.depth)),
      startMs: record.startedAt! - t0,
      endMs: record.endedAt! - t0,
    });
  }
  return timed;
}

/** Groups of calls that overlapped in time (each group: calls whose intervals chain together). */
function overlapping(timed: TimedCall[]): string[][] {
  const groups: TimedCall[][] = [];
  for (const t of timed) {
    const last = groups.at(-1);
    if (last && t.startMs < Math.max(...last.map((c) => c.endMs))) last.push(t);
    else groups.push([t]);
  }
  return groups.filter((g) => g.length > 1).map((g) => g.map((c) => c.call));
}

export function analyse(scenario: Scenario, calls: CallRecord[], t0: number): ContainmentFigures {
  const timed = timeline(calls, t0);
  const cut = timed.find(isContaining);
  const stop = timed.find((t) => t.ok && t.call === 'ecs:StopTask');
  const before = cut ? timed.filter((t) => t.startMs < cut.startMs) : timed;
  const maxDepth = cut?.depth ?? Math.max(0, ...timed.map((t) => t.depth));
  return {
    scenario: scenario.name,
    floor: scenario.floor,
    target: scenario.floor + 1,
    cut: cut && { call: cut.call, roundTrips: cut.depth, ms: Math.round(cut.endMs) },
    stop: stop && { roundTrips: stop.depth, ms: Math.round(stop.endMs) },
    callsBeforeCut: before.length,
    dynamoBeforeCut: before.filter((t) => t.call.startsWith('dynamodb:')).length,
    totalCalls: timed.length,
    totalRoundTrips: Math.max(0, ...timed.map((t) => t.depth)),
    chainToCut: Array.from({ length: maxDepth }, (_, i) => [...before, ...(cut ? [cut] : [])].filter((t) => t.depth === i + 1).map((t) => t.call)),
    parallel: overlapping(timed),
  };
}

/** One critical Fargate finding through `invoke('runtimeFinding')` on a fresh simulated deployment, every call at LATENCY_MS. */
export async function measureContainment(scenario: Scenario): Promise<ContainmentFigures> {
  const deployment = await startSimulatedDeployment({ policy: scenario.policy(), timeLedgerCalls: true });
  try {
    deployment.account.latency.set(LATENCY_MS);
    if (scenario.warm) {
      const earlier = criticalFinding({ cluster: 'prod-cluster', id: hex(0xfeed, 32) }, `warmup${hex(1, 26)}`);
      deployment.account.seedFromEvent(earlier);
      await deployment.invoke('runtimeFinding', earlier);
    }
    const event = criticalSample();
    deployment.account.seedFromEvent(event);
    const from = deployment.account.calls.length;
    const t0 = performance.now();
    await deployment.invoke('runtimeFinding', event);
    return analyse(scenario, deployment.account.calls.slice(from), t0);
  } finally {
    await deployment.close();
  }
}
