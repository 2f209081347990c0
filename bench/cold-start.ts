import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compilePolicy } from '../shared/policy/compiled-policy';
import { loadPolicyFile } from '../shared/policy/policy';

/**
 * Cold start of the Lambda bundles (issue 10, part 4): each function built exactly as `npm run package` builds it
 * (deploy/esbuild.cjs), its size, its initialisation (node requiring the bundle, then exiting) against a bare
 * `node -e ''` and against a minimal handler importing only the clients runtimeFinding's critical path needs (ECS, EC2,
 * DynamoDB document client), in interleaved runs, median of N; and the first invocation against the second.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const FUNCTIONS = ['runtimeFinding', 'taskStopped', 'imageFinding', 'taskLaunchGuard', 'runbook', 'slackNotifier'] as const;
type FunctionName = (typeof FUNCTIONS)[number];

const { lambdaBuildOptions, DEFERRED_REQUIRE } = createRequire(import.meta.url)('../deploy/esbuild.cjs') as { lambdaBuildOptions: (policy: string) => object; DEFERRED_REQUIRE: string };

/** The minimal handler: the critical path's clients, built as a Lambda would at init, and nothing else. */
const MINIMAL_HANDLER = `
import { ECSClient } from '@aws-sdk/client-ecs';
import { EC2Client, DescribeNetworkAclsCommand, CreateNetworkAclEntryCommand } from '@aws-sdk/client-ec2';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
const ecs = new ECSClient({}), ec2 = new EC2Client({}), ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
export const handler = async () => [ecs, ec2, ddb, DescribeNetworkAclsCommand, CreateNetworkAclEntryCommand, PutCommand];
`;

export interface ColdStartFigures {
  pairs: number;
  bytes: Record<FunctionName | 'deferredSdk', number>;
  /** Median milliseconds to start node, load the bundle and exit. */
  initMs: { bareNode: number; minimalHandler: number } & Record<FunctionName, number>;
  /** Each function's init against bare node and against the minimal handler (the target: within 1.2). */
  ratios: Record<FunctionName, { vsBareNode: number; vsMinimalHandler: number }>;
  minimalHandlerVsBareNode: number;
  /** runtimeFinding: the first handler call's milliseconds, the second's, and the first's extra (median of runs). */
  firstInvocation: { firstMs: number; secondMs: number; overheadMs: number };
  /**
   * The deferred SDK (deploy/esbuild.cjs): median milliseconds to load deferred/sdk.js once runtimeFinding is loaded and
   * build its S3, SNS, ECR, STS and Secrets Manager clients. Not at initialisation: on first use, after the first round trip.
   */
  deferredLoadMs: number;
}

/**
 * Builds every bundle (and the minimal handler) into dir with the packaged options, which write the deferred SDK beside
 * them (deferred/sdk.js, as in each zip); returns their paths.
 */
export async function buildBundles(dir: string): Promise<Record<FunctionName | 'minimalHandler' | 'deferredSdk', string>> {
  const options = lambdaBuildOptions(compilePolicy(loadPolicyFile(join(ROOT, 'policy.yml'))));
  const out = { deferredSdk: join(dir, DEFERRED_REQUIRE) } as Record<FunctionName | 'minimalHandler' | 'deferredSdk', string>;
  for (const name of FUNCTIONS) {
    out[name] = join(dir, `${name}.js`);
    await build({ ...options, entryPoints: [join(ROOT, `functions/${name}.ts`)], outfile: out[name], logLevel: 'error' });
  }
  out.minimalHandler = join(dir, 'minimalHandler.js');
  await build({ ...options, stdin: { contents: MINIMAL_HANDLER, resolveDir: ROOT, loader: 'ts' }, outfile: out.minimalHandler, logLevel: 'error' });
  return out;
}

const ENV = { PATH: process.env.PATH, AWS_REGION: 'us-east-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

function timed(args: string[]): number {
  const start = process.hrtime.bigint();
  const run = spawnSync(process.execPath, args, { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  if (run.status !== 0) throw new Error(`node ${args.join(' ')}: ${run.stderr.toString()}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Loads the deferred SDK after runtimeFinding, in a fresh node each run, and builds the clients it holds. */
function deferredLoad(bundle: string, deferred: string, runs: number): number {
  const script = `require(${JSON.stringify(bundle)}); const t = process.hrtime.bigint(); const sdk = require(${JSON.stringify(deferred)});
for (const Client of [sdk.S3Client, sdk.SNSClient, sdk.ECRClient, sdk.STSClient, sdk.SecretsManagerClient]) new Client({});
process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6));`;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const run = spawnSync(process.execPath, ['-e', script], { env: ENV, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`deferred SDK: ${run.stderr}`);
    times.push(Number(run.stdout));
  }
  return round(median(times));
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const round = (n: number, digits = 2) => Number(n.toFixed(digits));

/**
 * First invocation against the second, in a fresh node each run: runtimeFinding's bundle handles a GuardDuty sample
 * finding, which the shipped policy ignores after parsing the event and deciding, so no AWS endpoint is needed (the
 * Lambda's region and dummy credentials; DynamoDB is never called on that path). What it measures is the handler's own
 * first-call set-up (policy, clients, configuration), not AWS latency; test/lambda-bundle.test.ts runs the same path.
 */
function firstInvocation(bundle: string, runs: number): ColdStartFigures['firstInvocation'] {
  const event = readFileSync(join(ROOT, 'events/guardduty/gd-ecs-fargate-sample-finding.json'), 'utf8');
  const script = `const { handler } = require(${JSON.stringify(bundle)}); const e = ${event};
const t = () => Number(process.hrtime.bigint()) / 1e6;
(async () => { const a = t(); await handler(e); const b = t(); await handler({ ...e, id: e.id + '-2' }); const c = t();
process.stdout.write(JSON.stringify([b - a, c - b])); })();`;
  const env = { ...ENV, AWS_ACCESS_KEY_ID: 'cold-start', AWS_SECRET_ACCESS_KEY: 'cold-start', RESPONDER_TABLE: 'ledger', EVIDENCE_BUCKET: 'evidence', NOTIFY_TOPIC_ARN: 'arn:aws:sns:us-east-1:111122223333:notifications', EVIDENCE_KEY_ARN: 'arn:aws:kms:us-east-1:111122223333:key/cold-start', POWERTOOLS_LOG_LEVEL: 'ERROR', POWERTOOLS_METRICS_DISABLED: 'true' };
  const first: number[] = [];
  const second: number[] = [];
  for (let i = 0; i < runs; i++) {
    const run = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`first invocation: ${run.stderr}`);
    const [a, b] = JSON.parse(run.stdout) as [number, number];
    first.push(a);
    second.push(b);
  }
  return { firstMs: round(median(first)), secondMs: round(median(second)), overheadMs: round(median(first) - median(second)) };
}

export async function measureColdStart(options: { pairs?: number } = {}): Promise<ColdStartFigures> {
  const pairs = options.pairs ?? 40;
  const dir = mkdtempSync(join(tmpdir(), 'cold-start-'));
  try {
    const bundles = await buildBundles(dir);
    const { deferredSdk, ...handlers } = bundles;
    const bytes = Object.fromEntries([...FUNCTIONS, 'deferredSdk' as const].map((name) => [name, statSync(bundles[name]).size])) as ColdStartFigures['bytes'];
    // Interleaved: each round runs bare node, the minimal handler and every bundle once, so drift in the machine's
    // load falls on all of them alike.
    const runs = { bareNode: ['-e', ''], ...Object.fromEntries(Object.entries(handlers).map(([name, path]) => [name, ['-e', `require(${JSON.stringify(path)})`]])) };
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((name) => [name, []]));
    for (let i = 0; i < pairs; i++) for (const [name, args] of Object.entries(runs)) times[name]!.push(timed(args));
    const initMs = Object.fromEntries(Object.entries(times).map(([name, values]) => [name, round(median(values))])) as ColdStartFigures['initMs'];
    const ratios = Object.fromEntries(
      FUNCTIONS.map((name) => [name, { vsBareNode: round(initMs[name] / initMs.bareNode), vsMinimalHandler: round(initMs[name] / initMs.minimalHandler) }]),
    ) as ColdStartFigures['ratios'];
    const invocationRuns = Math.max(5, Math.round(pairs / 4));
    return {
      pairs,
      bytes,
      initMs,
      ratios,
      minimalHandlerVsBareNode: round(initMs.minimalHandler / initMs.bareNode),
      firstInvocation: firstInvocation(bundles.runtimeFinding, invocationRuns),
      deferredLoadMs: deferredLoad(bundles.runtimeFinding, deferredSdk, invocationRuns),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Alone: `npx tsx bench/cold-start.ts [pairs]` prints the figures as JSON.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  void measureColdStart({ pairs: Number(process.argv[2] ?? 40) }).then((figures) => writeFileSync(1, `${JSON.stringify(figures, null, 2)}\n`));
}
