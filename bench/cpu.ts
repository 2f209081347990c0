import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isMutatingAction } from '../shared/actions/registry';
import { deploymentHome, type ResponderConfig } from '../shared/config';
import { normaliseGuardDutyFinding } from '../shared/events/guardduty';
import { decide } from '../shared/policy/decide';
import { loadPolicyFile } from '../shared/policy/policy';

export interface CpuFigures {
  iterations: number;
  /** Median µs of one event from its text: JSON.parse, validate and normalise (normaliseGuardDutyFinding), decide and plan (decide). */
  pipelineMicros: number;
  /** Median µs of JSON.parse of the same event's text. */
  jsonParseMicros: number;
  ratio: number;
}

const config: ResponderConfig = {
  stage: 'bench',
  tableName: 'ledger',
  evidenceBucket: 'evidence',
  evidenceKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/bench',
  topicArn: 'arn:aws:sns:us-east-1:111122223333:notifications',
  quarantineSecurityGroups: {},
  protectedClusters: [],
  defaultMode: 'enforce',
  forceObserve: false,
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * The pure CPU of one event against JSON.parse of its text, interleaved (each iteration times a batch of each, so a
 * busy moment of the machine falls on both), as the median over the iterations.
 */
export function measureCpu(iterations = Number(process.env.BENCH_CPU_ITERATIONS ?? 200), batch = 50): CpuFigures {
  const text = readFileSync('events/guardduty/gd-ecs-fargate-reverse-shell-critical.json', 'utf8');
  const policy = loadPolicyFile('policy.yml');
  const home = deploymentHome(config);
  const pipeline = () => {
    const decided = decide(normaliseGuardDutyFinding(JSON.parse(text), home), policy, config, isMutatingAction);
    if (!decided.act) throw new Error(`the critical sample was not acted on: ${decided.reason}`);
  };
  const parse = () => JSON.parse(text) as unknown;
  const time = (fn: () => unknown) => {
    const start = performance.now();
    for (let i = 0; i < batch; i++) fn();
    return ((performance.now() - start) * 1000) / batch;
  };
  for (let i = 0; i < 20; i++) {
    // warm-up: the JIT
    time(pipeline);
    time(parse);
  }
  const pipelineSamples: number[] = [];
  const parseSamples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    pipelineSamples.push(time(pipeline));
    parseSamples.push(time(parse));
  }
  const pipelineMicros = median(pipelineSamples);
  const jsonParseMicros = median(parseSamples);
  return { iterations, pipelineMicros: round(pipelineMicros), jsonParseMicros: round(jsonParseMicros), ratio: round(pipelineMicros / jsonParseMicros) };
}

const round = (x: number) => Math.round(x * 100) / 100;
