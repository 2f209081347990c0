import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { build } from 'esbuild';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedDeployment } from '../sim/deployment';
import { ROOT, loadEvent, startDeployment } from './helpers/deployment';

/**
 * The deployed artefact, not the source: runtimeFinding bundled by esbuild with serverless.yml's options, policy.yml
 * beside it as `package.patterns` puts it, run by plain node with a Lambda-like environment. DynamoDB is dynalite
 * (through the SDK's AWS_ENDPOINT_URL_DYNAMODB); no other AWS endpoint is reachable, so only paths that must not
 * touch ECS/EC2 are run here: a malformed event and a finding no rule acts on.
 */
let dir: string;
let deployment: SimulatedDeployment;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bundle-'));
  await build({
    entryPoints: [join(ROOT, 'functions/runtimeFinding.ts')],
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    mainFields: ['module', 'main'],
    outfile: join(dir, 'functions/runtimeFinding.js'),
    logLevel: 'silent',
  });
  copyFileSync(join(ROOT, 'policy.yml'), join(dir, 'policy.yml'));
  deployment = await startDeployment();
});

afterAll(async () => {
  await deployment?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Asynchronous: the child calls dynalite, which runs in this process and must keep serving meanwhile. */
async function invoke(event: unknown): Promise<Record<string, unknown>> {
  const script = `require('./functions/runtimeFinding.js').handler(${JSON.stringify(event)}).then((r) => process.stdout.write('RESULT' + JSON.stringify(r)), (e) => { console.error(e); process.exit(1); })`;
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
  it('is small enough to cold-start quickly and carries no source of the simulator', () => {
    const bundle = readFileSync(join(dir, 'functions/runtimeFinding.js'), 'utf8');
    expect(bundle.length).toBeLessThan(3_000_000);
    expect(bundle).not.toContain('SimulatedAccount');
  });

  it('rejects a malformed event naming the field, acts on nothing, and keeps it in the ledger (real DynamoDB API)', async () => {
    const event = loadEvent('gd-ecs-malformed-missing-task-arn.json');
    const result = await invoke(event);
    expect(result).toMatchObject({ finding: null, actions: [], error: 'detail.resource.ecsClusterDetails.taskDetails.arn: is required' });
    const kept = await deployment.dynamo.send(new GetItemCommand({ TableName: deployment.config.tableName, Key: { pk: { S: `REJECTED#${event.id}` }, sk: { S: '#EVENT' } } }));
    expect(kept.Item?.error?.S).toBe('detail.resource.ecsClusterDetails.taskDetails.arn: is required');
    expect(JSON.parse(kept.Item!.raw!.S!)).toEqual(event);
  });

  it('reads policy.yml from beside the bundle: a sample finding is ignored by the shipped policy', async () => {
    expect(await invoke(loadEvent('gd-ecs-fargate-sample-finding.json'))).toMatchObject({
      decision: null,
      actions: [],
      ignored: 'GuardDuty sample finding: no rule opts in to samples',
    });
  });
});
