import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { respondToImageFinding } from '../shared/image-pipeline';
import { guardLaunchOrPush } from '../shared/launch-guard';
import { respondToRuntimeFinding } from '../shared/pipeline';
import { runRunbook } from '../shared/runbook';
import { cleanUpStoppedTask } from '../shared/task-stopped';
import type { SimulatedDeployment } from '../sim/deployment';
import { ROOT, rejectedItems, startDeployment, variant, type Json } from './helpers/deployment';

const event = (path: string): Json => JSON.parse(readFileSync(join(ROOT, 'events', path), 'utf8'));
const TASK = 'detail.resource.ecsClusterDetails.taskDetails.arn';
const CLUSTER = 'detail.resource.ecsClusterDetails.arn';
const gd = (change: (e: Json) => void) => variant(event('guardduty/gd-ecs-fargate-reverse-shell.json'), change);
const scan = (change: (e: Json) => void) => variant(event('ecr/01-ecr-image-scan-complete-critical.json'), change);
const inspector = (change: (e: Json) => void) => variant(event('inspector/inspector2-finding-ecr-critical-active.json'), change);
const inspectorScan = (change: (e: Json) => void) => variant(event('inspector/inspector2-scan-ecr-critical-repository-arn.json'), change);
const push = (change: (e: Json) => void) => variant(event('ecr/07-ecr-image-action-push-quarantined-digest.json'), change);
const launch = (change: (e: Json) => void) => variant(event('ecs/ecs-task-state-change-running-fargate.json'), change);
const foreignTask = (arn: string) => gd((e) => (e.detail.resource.ecsClusterDetails.taskDetails.arn = arn));

let deployment: SimulatedDeployment | undefined;
afterEach(async () => {
  await deployment?.close();
  deployment = undefined;
});

/** Each case: the entry, the event, and the field the refusal must name. */
const CASES: [string, 'runtimeFinding' | 'imageFinding' | 'taskLaunchGuard', Json, string][] = [
  ['GuardDuty: another account', 'runtimeFinding', gd((e) => (e.detail.accountId = e.account = '444455556666')), TASK],
  ['GuardDuty: another account everywhere', 'runtimeFinding', JSON.parse(JSON.stringify(event('guardduty/gd-ecs-fargate-reverse-shell.json')).replaceAll('111122223333', '444455556666')), 'detail.accountId'],
  ['GuardDuty: another region everywhere', 'runtimeFinding', JSON.parse(JSON.stringify(event('guardduty/gd-ecs-fargate-reverse-shell.json')).replaceAll('us-east-1', 'us-west-2')), 'detail.region'],
  ['GuardDuty: another partition', 'runtimeFinding', JSON.parse(JSON.stringify(event('guardduty/gd-ecs-fargate-reverse-shell.json')).replaceAll('arn:aws:', 'arn:aws-cn:')), 'detail.accountId'],
  ['GuardDuty: task in another account', 'runtimeFinding', foreignTask('arn:aws:ecs:us-east-1:444455556666:task/prod-cluster/8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a'), TASK],
  ['GuardDuty: task in another region', 'runtimeFinding', foreignTask('arn:aws:ecs:eu-west-1:111122223333:task/prod-cluster/8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a'), TASK],
  ['GuardDuty: path traversal in the task ARN', 'runtimeFinding', foreignTask('arn:aws:ecs:us-east-1:111122223333:task/prod-cluster/../../x'), TASK],
  ['GuardDuty: task and cluster disagree', 'runtimeFinding', foreignTask('arn:aws:ecs:us-east-1:111122223333:task/other-cluster/8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a'), TASK],
  ['GuardDuty: cluster ARN in another account', 'runtimeFinding', gd((e) => (e.detail.resource.ecsClusterDetails.arn = 'arn:aws:ecs:us-east-1:444455556666:cluster/prod-cluster')), TASK],
  ['GuardDuty: cluster ARN malformed', 'runtimeFinding', gd((e) => (e.detail.resource.ecsClusterDetails.arn = 'arn:aws:ecs:us-east-1:111122223333:cluster/prod cluster')), CLUSTER],
  ['GuardDuty: finding type not of GuardDuty form', 'runtimeFinding', gd((e) => (e.detail.type = 'Execution:Runtime/<!channel>')), 'detail.type'],
  ['GuardDuty: severity below the range', 'runtimeFinding', gd((e) => (e.detail.severity = 0.5)), 'detail.severity'],
  ['GuardDuty: count not an integer', 'runtimeFinding', gd((e) => (e.detail.service.count = 1e300)), 'detail.service.count'],
  ['GuardDuty: id over the key limit', 'runtimeFinding', gd((e) => (e.detail.id = 'a'.repeat(3000))), 'detail.id'],
  ['GuardDuty: region not a region', 'runtimeFinding', gd((e) => (e.detail.region = 'evil.example?')), 'detail.region'],
  ['ECR scan: another account', 'imageFinding', scan((e) => (e.account = '444455556666')), 'account'],
  ['ECR scan: another region', 'imageFinding', scan((e) => (e.region = 'eu-west-1')), 'region'],
  ['ECR scan: a short digest', 'imageFinding', scan((e) => (e.detail['image-digest'] = 'sha256:abc')), 'detail.image-digest'],
  ['ECR scan: an upper-case digest', 'imageFinding', scan((e) => (e.detail['image-digest'] = e.detail['image-digest'].toUpperCase().replace('SHA256', 'sha256'))), 'detail.image-digest'],
  ['ECR scan: a repository name of no ECR form', 'imageFinding', scan((e) => (e.detail['repository-name'] = '../Payments')), 'detail.repository-name'],
  ['ECR scan: a status not ECR\'s', 'imageFinding', scan((e) => (e.detail['scan-status'] = 'complete')), 'detail.scan-status'],
  ['ECR scan: a count beyond safe integers', 'imageFinding', scan((e) => (e.detail['finding-severity-counts'].CRITICAL = 2 ** 60)), 'detail.finding-severity-counts.CRITICAL'],
  ['Inspector: exploit flag out of its enum', 'imageFinding', inspector((e) => (e.detail.exploitAvailable = 'MAYBE')), 'detail.exploitAvailable'],
  ['Inspector: fix flag out of its enum', 'imageFinding', inspector((e) => (e.detail.fixAvailable = 'yes')), 'detail.fixAvailable'],
  ['Inspector: EPSS over 1', 'imageFinding', inspector((e) => (e.detail.epss = { score: 7 })), 'detail.epss.score'],
  ['Inspector: status out of its enum', 'imageFinding', inspector((e) => (e.detail.status = 'active')), 'detail.status'],
  ['Inspector: finding ARN of another account', 'imageFinding', inspector((e) => (e.detail.findingArn = e.detail.findingArn.replace('111122223333', '444455556666'))), 'detail.findingArn'],
  ['Inspector scan: repository ARN of another account', 'imageFinding', inspectorScan((e) => (e.detail['repository-name'] = e.detail['repository-name'].replace('111122223333', '444455556666'))), 'detail.repository-name'],
  ['ECR push: another account', 'taskLaunchGuard', push((e) => (e.account = '444455556666')), 'account'],
  ['ECR push: a digest of 63 hex', 'taskLaunchGuard', push((e) => (e.detail['image-digest'] = e.detail['image-digest'].slice(0, -1))), 'detail.image-digest'],
  ['ECS: desiredStatus in the wrong case', 'taskLaunchGuard', launch((e) => (e.detail.desiredStatus = 'running')), 'detail.desiredStatus'],
  ['ECS: task of another account', 'taskLaunchGuard', launch((e) => (e.detail.taskArn = e.detail.taskArn.replace('111122223333', '444455556666'))), 'detail.taskArn'],
  ['ECS: envelope of another region', 'taskLaunchGuard', launch((e) => (e.region = 'eu-west-1')), 'detail.taskArn'],
];

const ENTRY = { runtimeFinding: respondToRuntimeFinding, imageFinding: respondToImageFinding, taskLaunchGuard: guardLaunchOrPush };

describe('every intake refuses what is not ours or not well formed, naming the field, with no AWS call', () => {
  it.each(CASES)('%s', async (_name, fn, bad, field) => {
    deployment = await startDeployment();
    deployment.account.seedFromEvent(event('guardduty/gd-ecs-fargate-reverse-shell.json'));
    const result = await ENTRY[fn](bad, deployment.depsFor(fn));
    expect(result.error).toMatch(new RegExp(`^${field.replaceAll('.', '\\.')}: `));
    expect(result.actions).toEqual([]);
    expect(deployment.account.calls).toEqual([]);
    expect((await rejectedItems(deployment)).map((item) => item.error)).toEqual([result.error]);
  });

  it('the samples from the deployment account and region are still taken', async () => {
    deployment = await startDeployment();
    deployment.account.seedFromEvent(event('guardduty/gd-ecs-fargate-reverse-shell.json'));
    expect((await respondToRuntimeFinding(event('guardduty/gd-ecs-fargate-reverse-shell.json'), deployment.depsFor('runtimeFinding'))).error).toBeUndefined();
  });

  it('a stopped-task event of another account or region is refused before any call', async () => {
    deployment = await startDeployment();
    const stopped = (change: (e: Json) => void) => launch((e) => {
      e.detail.lastStatus = e.detail.desiredStatus = 'STOPPED';
      change(e);
    });
    for (const bad of [stopped((e) => (e.account = '444455556666')), stopped((e) => (e.detail.taskArn = e.detail.taskArn.replace('us-east-1', 'eu-west-1')))]) {
      expect((await cleanUpStoppedTask(bad, deployment.depsFor('taskStopped'))).error).toMatch(/^(account|detail\.taskArn): /);
    }
    const elsewhere = JSON.parse(JSON.stringify(stopped(() => undefined)).replaceAll('111122223333', '444455556666'));
    expect((await cleanUpStoppedTask(elsewhere, deployment.depsFor('taskStopped'))).error).toMatch(/^account: .*own account 111122223333/);
    expect(deployment.account.calls).toEqual([]);
  });

  it('a runbook command for another account or region is refused before any call', async () => {
    deployment = await startDeployment();
    for (const taskArn of ['arn:aws:ecs:us-east-1:444455556666:task/prod-cluster/8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a', 'arn:aws:ecs:eu-west-1:111122223333:task/prod-cluster/8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a']) {
      const result = await runRunbook({ runbook: 'isolate', taskArn, reason: 'test' }, deployment.depsFor('runbook'), 'tester');
      expect(result.error).toMatch(/^taskArn: .*this deployment acts only in its own/);
    }
    expect((await runRunbook({ runbook: 'quarantine-image', repository: 'Bad/../x', imageDigest: `sha256:${'a'.repeat(64)}`, reason: 'x' }, deployment.depsFor('runbook'), 'tester')).error).toMatch(/^repository: /);
    expect(deployment.account.calls).toEqual([]);
  });
});

describe('a rejected event is stored safely whatever its size and depth', () => {
  it('a value nested 5,000 deep and a 1 MB string: refused, kept (cut at 300,000 bytes), never thrown', async () => {
    deployment = await startDeployment();
    let deep: Json = 'bottom';
    for (let i = 0; i < 5000; i++) deep = { n: deep };
    const bad = gd((e) => {
      e.detail.severity = 'high';
      e.detail.service.additionalInfo = deep;
      e.detail.title = 'x'.repeat(1_000_000);
      e.id = 'i'.repeat(5000);
    });
    const result = await respondToRuntimeFinding(bad, deployment.depsFor('runtimeFinding'));
    expect(result.error).toMatch(/^detail\.severity: /);
    const [item] = await rejectedItems(deployment);
    expect(String(item!.pk)).toMatch(/^REJECTED#unidentified-\d+$/);
    expect(Buffer.byteLength(String(item!.raw))).toBeLessThanOrEqual(300_000);
    expect(item!.truncated).toBe(true);
    expect(deployment.account.calls).toEqual([]);
  });
});
