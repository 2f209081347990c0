import { writeFileSync } from 'node:fs';
import { LATENCY_MS, SCENARIOS, measureContainment, type ContainmentFigures } from './containment';
import { measureCpu } from './cpu';
import { measureRatios } from './ratios';
import { measureColdStart, type ColdStartFigures } from './cold-start';
import { runStorm, type StormFigures } from './storm';

/**
 * `npm run bench`: time to containment (round trips at a fixed latency, against the floor), the storm (shipped and
 * raised limits), CPU per event, cold start (bench/cold-start.ts, when present) and the pipeline's speed ratios.
 * `--json`: one JSON object with the same figures. Progress goes to stderr.
 */
const json = process.argv.includes('--json');
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const skip = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));
const progress = (text: string) => process.stderr.write(`${text}\n`);

/** The cold-start figures, or why they could not be measured (a build error, say): the rest of the bench still runs. */
async function coldStart(): Promise<ColdStartFigures | { available: false; why: string }> {
  try {
    return await measureColdStart(process.env.BENCH_COLD_START_PAIRS ? { pairs: Number(process.env.BENCH_COLD_START_PAIRS) } : undefined);
  } catch (error) {
    return { available: false, why: `bench/cold-start.ts failed: ${(error as Error).message.split('\n')[0]}` };
  }
}

async function main() {
  const storm = { deliveries: env('BENCH_STORM_DELIVERIES', 10_000), tasks: env('BENCH_STORM_TASKS', 100), concurrency: env('BENCH_STORM_CONCURRENCY', 20), latencyMs: env('BENCH_STORM_LATENCY_MS', 0) };
  const figures: Record<string, unknown> = { latencyMsPerCall: LATENCY_MS };
  // First, on a small heap: garbage collections of what the others leave would fall on the CPU figure.
  if (!skip.has('cpu')) {
    progress('cpu per event');
    figures.cpu = measureCpu();
  }
  if (!skip.has('containment')) {
    const containment: ContainmentFigures[] = [];
    for (const scenario of SCENARIOS) {
      progress(`containment: ${scenario.name}`);
      containment.push(await measureContainment(scenario));
    }
    figures.containment = containment;
  }
  if (!skip.has('cold-start')) {
    progress('cold start');
    figures.coldStart = await coldStart();
  }
  if (!skip.has('ratios')) {
    progress('pipeline ratios');
    figures.ratios = await measureRatios();
  }
  // Last: it leaves the largest heap.
  if (!skip.has('storm')) {
    const storms: StormFigures[] = [];
    for (const limits of ['shipped', 'raised'] as const) {
      progress(`storm: ${storm.deliveries} deliveries, ${storm.tasks} tasks, concurrency ${storm.concurrency}, ${limits} limits`);
      storms.push(await runStorm({ ...storm, limits }));
    }
    figures.storm = storms;
  }
  if (process.env.BENCH_SAVE) writeFileSync(process.env.BENCH_SAVE, `${JSON.stringify(figures, null, 2)}\n`);
  console.log(json ? JSON.stringify(figures, null, 2) : report(figures));
}

function table(rows: (string | number)[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => String(cell ?? '').padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** The cold-start figures as a table, or what bench/cold-start.ts said when it could not measure. */
function coldStartReport(figures: unknown): string {
  const cold = figures as Partial<ColdStartFigures> & { available?: false; why?: string };
  if (!cold.initMs || !cold.ratios || !cold.bytes) return `\nCOLD START: not available (${cold.why ?? 'no figures'})`;
  const kb = (bytes: number | undefined) => (bytes === undefined ? '' : `${Math.round(bytes / 1024)} KB`);
  const rows: (string | number)[][] = [
    ['bundle', 'size', 'init ms', 'x bare node', 'x minimal handler (target 1.2)'],
    ['bare node -e ""', '', cold.initMs.bareNode, '1.00', ''],
    ['minimal handler (ECS, EC2, DynamoDB)', '', cold.initMs.minimalHandler, cold.minimalHandlerVsBareNode ?? '', '1.00'],
    ...Object.entries(cold.ratios).map(([name, r]) => [name, kb(cold.bytes![name as keyof typeof cold.bytes]), cold.initMs![name as keyof typeof cold.initMs], r.vsBareNode, r.vsMinimalHandler]),
    ['deferred bundle (loaded on first use)', kb(cold.bytes.deferredSdk), cold.deferredLoadMs ?? '', '', ''],
  ];
  const first = cold.firstInvocation;
  return [`\nCOLD START (${cold.pairs} interleaved pairs, medians)`, table(rows), first ? `first invocation: ${first.firstMs} ms, second ${first.secondMs} ms, overhead ${first.overheadMs} ms` : ''].join('\n');
}

function report(figures: Record<string, unknown>): string {
  const out: string[] = [];
  const containment = figures.containment as ContainmentFigures[] | undefined;
  if (containment) {
    out.push(`TIME TO CONTAINMENT (critical Fargate finding, invoke('runtimeFinding'), ${LATENCY_MS} ms per AWS call incl. DynamoDB)`);
    out.push(
      table([
        ['scenario', 'first cut', 'round trips', 'ms', 'floor', 'target', 'met', 'StopTask RT', 'StopTask ms', 'calls before cut (DynamoDB)'],
        ...containment.map((c) => [
          c.scenario,
          c.cut?.call ?? 'none',
          c.cut?.roundTrips ?? '-',
          c.cut?.ms ?? '-',
          c.floor,
          c.target,
          c.cut && c.cut.roundTrips <= c.target ? 'yes' : 'NO',
          c.stop?.roundTrips ?? '-',
          c.stop?.ms ?? '-',
          `${c.callsBeforeCut} (${c.dynamoBeforeCut})`,
        ]),
      ]),
    );
    for (const c of containment) {
      out.push(`\n  ${c.scenario}: ${c.totalCalls} calls, ${c.totalRoundTrips} round trips in all; the path to the cut:`);
      out.push(c.chainToCut.map((calls, i) => `    ${String(i + 1).padStart(2)}  ${calls.join(' + ')}`).join('\n'));
      out.push(`  in parallel: ${c.parallel.length ? c.parallel.map((g) => g.join(' | ')).join('; ') : 'nothing'}`);
    }
  }
  const storms = figures.storm as StormFigures[] | undefined;
  if (storms) {
    out.push(`\nSTORM (${storms[0]!.layout})`);
    const row = (label: string, value: (s: StormFigures) => unknown) => [label, ...storms.map((s) => String(value(s)))];
    out.push(
      table([
        row('limits', (s) => s.limits),
        row('deliveries / findings / tasks / concurrency', (s) => `${s.deliveries} / ${s.findings} / ${s.tasks} / ${s.concurrency}`),
        row('invocations (retries)', (s) => `${s.invocations} (${s.retried})`),
        row('sent to the failure queue', (s) => s.failureQueue.length),
        row('findings handled / claims never finished', (s) => `${s.findingsHandled} / ${s.claimsNotFinished.length}`),
        row('tasks disrupted (max per cluster)', (s) => `${s.tasksDisrupted} (${s.maxTasksDisruptedPerCluster})`),
        row('tasks stopped / stopped 2+ times', (s) => `${s.tasksStopped} / ${s.tasksStoppedTwiceOrMore}`),
        row('tasks with a deny pair / 2+ pairs', (s) => `${s.tasksWithDenyPair} / ${s.tasksWithTwoOrMoreDenyPairs}`),
        row('tasks isolated, never stopped', (s) => s.tasksIsolatedNotStopped),
        row('StopTask calls / NACL deny pairs in place', (s) => `${s.stopTaskCalls} / ${s.denyPairs}`),
        row('deny entries refused (rule number taken), re-planned', (s) => `${s.replannedDenies}`),
        row('notifications / "contained" records', (s) => `${s.notifications} / ${s.containedRecords}`),
        row('safety slots used (account)', (s) => s.slotsUsed),
      ]),
    );
    for (const s of storms) out.push(`  invocations, ${s.limits} limits: ${Object.entries(s.results).map(([k, v]) => `${k}: ${v}`).join('; ')}`);
  }
  const cpu = figures.cpu as ReturnType<typeof measureCpu> | undefined;
  if (cpu) out.push(`\nCPU PER EVENT: JSON.parse + normalise + decide/plan ${cpu.pipelineMicros} µs vs JSON.parse ${cpu.jsonParseMicros} µs = ${cpu.ratio}x (median of ${cpu.iterations} interleaved batches)`);
  if ('coldStart' in figures) out.push(coldStartReport(figures.coldStart));
  const ratios = figures.ratios as Awaited<ReturnType<typeof measureRatios>> | undefined;
  if (ratios) {
    out.push(`\nPIPELINE RATIOS (no latency, n=${ratios.iterations} each, interleaved)`);
    out.push(table(ratios.paths.map((p) => [p.name, `median ${p.medianMs} ms`, `p90 ${p.p90Ms} ms`])));
    out.push(`observe / baseline = ${ratios.observeOverBaseline}x   enforce / baseline = ${ratios.enforceOverBaseline}x`);
  }
  return out.join('\n');
}

void main();
