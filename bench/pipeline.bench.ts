import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { respondToRuntimeFinding } from '../shared/pipeline';
import { loadPolicyFile } from '../shared/policy/policy';
import { startSimulatedDeployment } from '../sim/deployment';

/**
 * Pipeline speed on the simulated account, as ratios against a baseline measured in the same run (absolute times
 * depend on the machine). Baseline: a repeated delivery (parse, decide, one ledger round trip to dynalite).
 */
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 40);
const template = JSON.parse(readFileSync('events/guardduty/gd-ecs-fargate-reverse-shell.json', 'utf8')) as {
  detail: { id: string; resource: { ecsClusterDetails: { taskDetails: { arn: string } } } };
};

function variant(i: number, prefix: string) {
  const event = structuredClone(template);
  event.detail.id = `${prefix}${i.toString(16).padStart(8, '0')}`;
  event.detail.resource.ecsClusterDetails.taskDetails.arn = event.detail.resource.ecsClusterDetails.taskDetails.arn.replace(/\w+$/, `${prefix}${i.toString(16).padStart(28, '0')}`);
  return event;
}

async function measure(name: string, mode: 'enforce' | 'observe' | 'duplicate'): Promise<number> {
  const deployment = await startSimulatedDeployment({ policy: loadPolicyFile('policy.yml'), config: { forceObserve: mode === 'observe' } });
  const samples: number[] = [];
  try {
    const events = Array.from({ length: ITERATIONS + 5 }, (_, i) => variant(i, mode[0]!));
    for (const event of events) deployment.account.seedFromEvent(event);
    if (mode === 'duplicate') for (const event of events) await respondToRuntimeFinding(event, deployment.deps);
    deployment.account.drainEvents();
    for (const [i, event] of events.entries()) {
      const start = performance.now();
      await respondToRuntimeFinding(event, deployment.deps);
      if (i >= 5) samples.push(performance.now() - start); // the first few warm up the JIT and connections
    }
  } finally {
    await deployment.close();
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)]!;
  console.log(`${name.padEnd(48)} median ${median.toFixed(2)} ms  p90 ${samples[Math.floor(samples.length * 0.9)]!.toFixed(2)} ms  (n=${samples.length})`);
  return median;
}

async function main() {
  const baseline = await measure('baseline: repeated delivery (claim refused)', 'duplicate');
  const observe = await measure('observe mode: new finding, describe + notify', 'observe');
  const enforce = await measure('enforce: new finding, full containment ladder', 'enforce');
  console.log(`\nobserve / baseline = ${(observe / baseline).toFixed(1)}x   enforce / baseline = ${(enforce / baseline).toFixed(1)}x`);
}

void main();
