import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { respondToRuntimeFinding } from '../shared/pipeline';
import { loadPolicyFile } from '../shared/policy/policy';
import { startSimulatedDeployment, type SimulatedDeployment } from '../sim/deployment';

/**
 * Pipeline speed on the simulated account (no latency), as ratios against a baseline measured in the same run (absolute
 * times depend on the machine). Baseline: a repeated delivery (parse, decide, one ledger round trip to dynalite).
 * The three paths run interleaved, one event each in turn, so a busy moment of the machine falls on all of them.
 */
const WARM_UP = 5;
const template = JSON.parse(readFileSync('events/guardduty/gd-ecs-fargate-reverse-shell.json', 'utf8')) as {
  detail: { id: string; resource: { ecsClusterDetails: { taskDetails: { arn: string } } } };
};

function variant(i: number, prefix: string) {
  const event = structuredClone(template);
  event.detail.id = `${prefix}${i.toString(16).padStart(8, '0')}`;
  event.detail.resource.ecsClusterDetails.taskDetails.arn = event.detail.resource.ecsClusterDetails.taskDetails.arn.replace(/\w+$/, `${prefix}${i.toString(16).padStart(28, '0')}`);
  return event;
}

interface Path {
  name: string;
  deployment: SimulatedDeployment;
  events: ReturnType<typeof variant>[];
  samples: number[];
}

async function path(name: string, prefix: string, forceObserve: boolean, deliveredBefore: boolean, iterations: number): Promise<Path> {
  const deployment = await startSimulatedDeployment({ policy: loadPolicyFile('policy.yml'), config: { forceObserve } });
  const events = Array.from({ length: iterations + WARM_UP }, (_, i) => variant(i, prefix));
  for (const event of events) deployment.account.seedFromEvent(event);
  if (deliveredBefore) for (const event of events) await respondToRuntimeFinding(event, deployment.depsFor('runtimeFinding'));
  deployment.account.drainEvents();
  return { name, deployment, events, samples: [] };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;
const round = (x: number) => Math.round(x * 100) / 100;

export interface RatioFigures {
  iterations: number;
  paths: { name: string; medianMs: number; p90Ms: number }[];
  observeOverBaseline: number;
  enforceOverBaseline: number;
}

export async function measureRatios(iterations = Number(process.env.BENCH_ITERATIONS ?? 40)): Promise<RatioFigures> {
  const paths = [
    await path('baseline: repeated delivery (claim refused)', 'd', false, true, iterations),
    await path('observe mode: new finding, describe + notify', 'o', true, false, iterations),
    await path('enforce: new finding, full containment ladder', 'e', false, false, iterations),
  ];
  try {
    for (let i = 0; i < iterations + WARM_UP; i++) {
      for (const p of paths) {
        const start = performance.now();
        await respondToRuntimeFinding(p.events[i]!, p.deployment.depsFor('runtimeFinding'));
        if (i >= WARM_UP) p.samples.push(performance.now() - start); // the first few warm up the JIT and connections
      }
    }
  } finally {
    for (const p of paths) await p.deployment.close();
  }
  const [baseline, observe, enforce] = paths.map((p) => median(p.samples)) as [number, number, number];
  return {
    iterations,
    paths: paths.map((p) => ({ name: p.name, medianMs: round(median(p.samples)), p90Ms: round(p90(p.samples)) })),
    observeOverBaseline: round(observe / baseline),
    enforceOverBaseline: round(enforce / baseline),
  };
}
