import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedDeployment } from '../sim/deployment';
import { buildBundles, FUNCTIONS } from '../bench/cold-start';
import * as deferredSdk from '../shared/aws/deferred/sdk';
import { loadEvent, startDeployment } from './helpers/deployment';

/**
 * The deployed artefact, not the source: every function bundled by esbuild with the options `npm run package` uses
 * (deploy/esbuild.cjs, the validated policy compiled in), runtimeFinding run by plain node with a Lambda-like environment. DynamoDB is dynalite
 * (through the SDK's AWS_ENDPOINT_URL_DYNAMODB); no other AWS endpoint is reachable, so only paths that must not
 * touch ECS/EC2 are run here: a malformed event and a finding no rule acts on.
 */
let dir: string;
let deployment: SimulatedDeployment;

let bundles: Awaited<ReturnType<typeof buildBundles>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bundle-'));
  bundles = await buildBundles(dir);
  deployment = await startDeployment();
});

afterAll(async () => {
  await deployment?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Asynchronous: the child calls dynalite, which runs in this process and must keep serving meanwhile. */
async function invoke(event: unknown): Promise<Record<string, unknown>> {
  const script = `require('./runtimeFinding.js').handler(${JSON.stringify(event)}).then((r) => process.stdout.write('RESULT' + JSON.stringify(r)), (e) => { console.error(e); process.exit(1); })`;
  const { stdout: out } = await promisify(execFile)(process.execPath, ['-e', script], {
    cwd: dir,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      LAMBDA_TASK_ROOT: dir,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'bundle-test',
      AWS_SECRET_ACCESS_KEY: 'bundle-test',
      AWS_ENDPOINT_URL_DYNAMODB: deployment.dynamoEndpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      RESPONDER_TABLE: deployment.config.tableName,
      EVIDENCE_KEY_ARN: deployment.config.evidenceKeyArn,
      EVIDENCE_BUCKET: 'evidence',
      NOTIFY_TOPIC_ARN: 'arn:aws:sns:us-east-1:111122223333:notifications',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    },
  });
  return JSON.parse(out.slice(out.indexOf('RESULT') + 'RESULT'.length)) as Record<string, unknown>;
}

describe('the bundled runtimeFinding function', () => {
  it('carries no source of the simulator', () => {
    expect(readFileSync(bundles.runtimeFinding, 'utf8')).not.toContain('SimulatedAccount');
  });

  it('reads the policy compiled into the bundle: no policy file beside it', () => {
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => statSync(join(dir, name)).isFile());
    expect(files.filter((name) => !name.endsWith('.js'))).toEqual([]);
  });

  it('rejects a malformed event naming the field, acts on nothing, and keeps it in the ledger (real DynamoDB API)', async () => {
    const event = loadEvent('gd-ecs-malformed-missing-task-arn.json');
    const result = await invoke(event);
    expect(result).toMatchObject({ finding: null, actions: [], error: 'detail.resource.ecsClusterDetails.taskDetails.arn: is required' });
    const kept = await deployment.dynamo.send(new GetItemCommand({ TableName: deployment.config.tableName, Key: { pk: { S: `REJECTED#${event.id}` }, sk: { S: '#EVENT' } } }));
    expect(kept.Item?.error?.S).toBe('detail.resource.ecsClusterDetails.taskDetails.arn: is required');
    expect(JSON.parse(kept.Item!.raw!.S!)).toEqual(event);
  });

  it('decides with the compiled-in shipped policy: a sample finding is ignored by the shipped policy', async () => {
    expect(await invoke(loadEvent('gd-ecs-fargate-sample-finding.json'))).toMatchObject({
      decision: null,
      actions: [],
      ignored: 'GuardDuty sample finding: no rule opts in to samples',
    });
  });
});

/**
 * Sizes are facts of the build, so they are tested; init time is measured in bench/cold-start.ts, never here. The
 * markers are strings only that code holds, minified or not.
 */
describe('every Lambda bundle (issue 10: cold start)', () => {
  const markers = {
    yaml: 'YAMLParseError',
    'the policy schema': 'rule names are lower-case words joined by hyphens',
    "EC2's unused schemas": 'AcceptReservedInstancesExchangeQuote',
    // The name classic zod gives its schemas' constructor; zod/mini's are ZodMini*, core's $Zod*.
    'classic zod': '"ZodType"',
  };

  it.each(FUNCTIONS)('%s carries no classic zod: its schemas are zod/mini, the action parameters and policy schema stay out', (name) => {
    expect(readFileSync(bundles[name], 'utf8')).not.toContain(markers['classic zod']);
  });

  it.each(FUNCTIONS)('%s requires only the deferred SDK beside it, holding every export of shared/aws/deferred/sdk.ts', (name) => {
    const requires = [...readFileSync(bundles[name], 'utf8').matchAll(/require\("(\.{1,2}\/[^"]*)"\)/g)].map((m) => m[1]);
    // The Slack notifier needs only Secrets Manager and its logger, at once: it defers nothing.
    expect([...new Set(requires)]).toEqual(name === 'slackNotifier' ? [] : ['./deferred/sdk.js']);
    expect(statSync(bundles.deferredSdk).isFile()).toBe(true);
  });

  it('the deferred SDK loads after a handler, from beside it, with what the unbundled module exports', async () => {
    const script = `require('./runtimeFinding.js'); const sdk = require('./deferred/sdk.js'); new sdk.S3Client({}); process.stdout.write(JSON.stringify(Object.keys(sdk).sort()))`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1' } });
    expect(JSON.parse(stdout)).toEqual(Object.keys(deferredSdk).sort());
  });

  it.each(FUNCTIONS)('%s loads no S3, SNS, ECR or Organizations client code at initialisation (deferred/sdk.js holds it)', (name) => {
    const text = readFileSync(bundles[name], 'utf8');
    const deferred = readFileSync(bundles.deferredSdk, 'utf8');
    for (const marker of ['s3-object-lambda', 'AmazonSimpleNotificationService', 'AmazonEC2ContainerRegistry_V20150921', 'AWSOrganizationsV20161128']) {
      expect(deferred).toContain(marker);
      expect(text).not.toContain(marker);
    }
    if (name !== 'slackNotifier') expect(text).not.toContain('secretsmanager');
  });

  it.each(FUNCTIONS)('%s carries no YAML parser, no policy schema, no unused EC2 schemas', (name) => {
    const text = readFileSync(bundles[name], 'utf8');
    expect(text).not.toContain(markers.yaml);
    expect(text).not.toContain(markers['the policy schema']);
    expect(text).not.toContain(markers["EC2's unused schemas"]);
  });

  it.each(FUNCTIONS)('%s is under 1 MB', (name) => {
    expect(statSync(bundles[name]).size).toBeLessThan(1_000_000);
  });
});
