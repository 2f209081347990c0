import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { respondToRuntimeFinding } from '../shared/pipeline';
import { loadPolicyFile } from '../shared/policy/policy';
import { startSimulatedDeployment, type SimulatedDeployment } from '../sim/deployment';

/**
 * Pipeline speed on the simulated account, as ratios against a baseline measured in the same run (absolute times
 * depend on the machine). Baseline: a repeated delivery (parse, decide, one ledger round trip to dynalite).
 * The three paths run interleaved, one event each in turn, so a busy moment of the machine falls on all of them.
 */
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 40);
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

async function path(name: string, prefix: string, forceObserve: boolean, deliveredBefore: boolean): Promise<Path> {
  const deployment = await startSimulatedDeployment({ policy: loadPolicyFile('policy.yml'), config: { forceObserve } });
  const events = Array.from({ length: ITERATIONS + WARM_UP }, (_, i) => variant(i, prefix));
  for (const event of events) deployment.account.seedFromEvent(event);
  if (deliveredBefore) for (const event of events) await respondToRuntimeFinding(event, deployment.depsFor('runtimeFinding'));
  deployment.account.drainEvents();
  return { name, deployment, events, samples: [] };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;

async function main() {
  const paths = [
    await path('baseline: repeated delivery (claim refused)', 'd', false, true),
    await path('observe mode: new finding, describe + notify', 'o', true, false),
    await path('enforce: new finding, full containment ladder', 'e', false, false),
  ];
  try {
    for (let i = 0; i < ITERATIONS + WARM_UP; i++) {
      for (const p of paths) {
        const start = performance.now();
        await respondToRuntimeFinding(p.events[i]!, p.deployment.depsFor('runtimeFinding'));
        if (i >= WARM_UP) p.samples.push(performance.now() - start); // the first few warm up the JIT and connections
      }
    }
  } finally {
    for (const p of paths) await p.deployment.close();
  }
  for (const p of paths) console.log(`${p.name.padEnd(48)} median ${median(p.samples).toFixed(2)} ms  p90 ${p90(p.samples).toFixed(2)} ms  (n=${p.samples.length})`);
  const [baseline, observe, enforce] = paths.map((p) => median(p.samples)) as [number, number, number];
  console.log(`\nobserve / baseline = ${(observe / baseline).toFixed(1)}x   enforce / baseline = ${(enforce / baseline).toFixed(1)}x`);
}

void main();
