import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { guardLaunchOrPush } from '../shared/launch-guard';
import { respondToRuntimeFinding } from '../shared/pipeline';
import { runRunbook } from '../shared/runbook';
import { QUARANTINE_TAG, quarantineGroupName } from '../shared/aws/quarantine-security-group';
import type { SimulatedDeployment } from '../sim/deployment';
import { denyEntriesFor, loadEvent, policyFrom, rejectedItems, startDeployment, type Json } from './helpers/deployment';

/**
 * The less travelled paths of the automatic responder, each through its function's own role (IAM evaluated on every
 * call): what AWS refuses or a concurrent writer changes mid-response. Each asserts the account state it ends in; the
 * IAM coverage check then knows the role's grant for that path is used.
 */

const CRYPTO = loadEvent('gd-ecs-fargate-cryptocurrency-bitcointool-dns.json');
const REVERSE_SHELL = loadEvent('gd-ecs-fargate-reverse-shell.json');
const EC2_BRIDGE = loadEvent('gd-ecs-ec2-bridge-reverse-shell.json');
const taskArnOf = (event: Json): string => event.detail.resource.ecsClusterDetails.taskDetails.arn;
const readEvent = (path: string): Json => JSON.parse(readFileSync(path, 'utf8'));
const PUSH = readEvent('events/ecr/07-ecr-image-action-push-quarantined-digest.json');
const PUSHED_REPOSITORY: string = PUSH.detail['repository-name'];
const PUSHED_DIGEST: string = PUSH.detail['image-digest'];

const HOST_ISOLATION = policyFrom(`
version: 1
rules:
  - name: host
    match: { severity: [HIGH, CRITICAL] }
    actions:
      - isolate-task: { hostIsolation: true, fallback: [network-acl] }
      - notify
`);

/** Runs a task from the digest in a cluster of its own: what the image paths find with ListClusters and ListTasks. */
function runTaskFrom(deployment: SimulatedDeployment, repository: string, digest: string, cluster = 'batch') {
  const { account } = deployment;
  const image = `${account.accountId}.dkr.ecr.${account.region}.amazonaws.com/${repository}@${digest}`;
  const definition = account.registerTaskDefinition({ family: `${cluster}-job`, networkMode: 'awsvpc', containers: [{ name: 'job', image }] });
  return account.runTask({ cluster, taskDefinitionArn: definition.taskDefinitionArn, launchType: 'FARGATE', containers: [{ name: 'job', image, imageDigest: digest }] });
}

/** The host interface of an EC2 launch-type task and a quarantine group in its VPC that someone opened (port 22). */
function openedQuarantineGroup(deployment: SimulatedDeployment, taskArn: string) {
  const { account } = deployment;
  const task = account.ecs.tasks.get(taskArn)!;
  const instance = account.ec2.instances.get(account.ecs.containerInstances.get(task.containerInstanceArn!)!.ec2InstanceId)!;
  const hostEni = account.ec2.networkInterfaces.get(instance.primaryNetworkInterfaceId)!;
  const opened = account.addSecurityGroup({
    name: quarantineGroupName(hostEni.vpcId),
    vpcId: hostEni.vpcId,
    tags: { [QUARANTINE_TAG]: 'true' },
    ingress: [{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, cidrIp: '0.0.0.0/0' }],
    egress: [{ ipProtocol: '-1', cidrIp: '0.0.0.0/0' }],
  });
  return { hostEni, group: account.ec2.securityGroups.get(opened.groupId)! };
}

let deployment: SimulatedDeployment;
afterEach(() => deployment?.close());

describe('the runtime responder when AWS refuses or another writer interferes', () => {
  it('archive refused for the repository: the image keeps only its quarantine tag, and the task is still contained', async () => {
    deployment = await startDeployment();
    const { account } = deployment;
    account.seedFromEvent(CRYPTO);
    const container = account.ecs.tasks.get(taskArnOf(CRYPTO))!.containers[0]!;
    const repository = container.image.split('/').slice(1).join('/').split(/[:@]/)[0]!;
    account.ecr.setArchiveRefused(repository);

    const result = await respondToRuntimeFinding(CRYPTO, deployment.depsFor('runtimeFinding'));

    expect(result.containment).toBe('contained (network-acl)');
    const quarantine = result.actions.filter((a) => a.action === 'quarantine-image');
    expect(quarantine.map((a) => [a.mechanism, a.status])).toEqual([
      ['archive', 'unsupported'],
      ['image-tags', 'applied'],
    ]);
    const image = account.ecr.image(repository, container.imageDigest!)!;
    expect(image.imageStatus).toBe('ACTIVE');
    expect(image.imageTags).toHaveLength(1);
    expect(image.imageTags[0]).toMatch(/^quarantined-/);
  });

  it('a network ACL rule number taken between the plan and the write: that direction is re-planned, the entry made in the other and the other writer\'s left alone', async () => {
    deployment = await startDeployment();
    const { account } = deployment;
    account.seedFromEvent(REVERSE_SHELL);
    const task = account.ecs.tasks.get(taskArnOf(REVERSE_SHELL))!;
    const eni = account.ec2.networkInterfaces.get(task.eni!.networkInterfaceId)!;
    // Another writer takes the egress rule number right after the responder's ingress entry went in.
    const handle = account.ec2.handle.bind(account.ec2);
    let taken: number | undefined;
    account.ec2.handle = (operation, input) => {
      if (operation === 'CreateNetworkAclEntry' && input.Egress === true && taken === undefined) {
        taken = input.RuleNumber as number;
        handle(operation, { ...input, CidrBlock: '198.51.100.9/32', RuleAction: 'allow' });
      }
      return handle(operation, input);
    };

    const result = await respondToRuntimeFinding(REVERSE_SHELL, deployment.depsFor('runtimeFinding'));

    expect(result.containment).toBe('contained (network-acl)');
    const ours = denyEntriesFor(account, eni.subnetId, `${eni.privateIpAddress}/32`);
    expect(ours.map((e) => e.egress).sort()).toEqual([false, true]);
    expect(ours.find((e) => e.egress)!.ruleNumber).not.toBe(taken);
    const acl = [...account.ec2.networkAcls.values()].find((a) => a.subnetIds.includes(eni.subnetId))!;
    expect(acl.entries.find((e) => e.egress && e.ruleNumber === taken)).toMatchObject({ cidrBlock: '198.51.100.9/32', ruleAction: 'allow' });
    // Only the taken direction moved: the ingress entry made on the first try stayed (made once), exactly one pair is
    // ours, and the ledger's before-state names the numbers in place (what release and the task's stop remove).
    expect(ours).toHaveLength(2);
    const ingress = account.callsTo('ec2', 'CreateNetworkAclEntry').filter((c) => c.ok && c.input.Egress === false && c.input.CidrBlock === `${eni.privateIpAddress}/32`);
    expect(ingress).toHaveLength(1);
    const record = (await deployment.ledger.actionRecords(`guardduty:${REVERSE_SHELL.detail.id}`)).find((r) => r.step === 'isolate-task:network-acl')!;
    expect(record.beforeState).toMatchObject({ ingressRule: ours.find((e) => !e.egress)!.ruleNumber, egressRule: ours.find((e) => e.egress)!.ruleNumber });
  });

  it('host isolation into a tagged quarantine group that someone opened: its rules are revoked before the swap', async () => {
    deployment = await startDeployment({ policy: HOST_ISOLATION });
    deployment.account.seedFromEvent(EC2_BRIDGE);
    const { hostEni, group } = openedQuarantineGroup(deployment, taskArnOf(EC2_BRIDGE));

    const result = await respondToRuntimeFinding(EC2_BRIDGE, deployment.depsFor('runtimeFinding'));

    expect(result.containment).toBe('contained (security-group)');
    expect(hostEni.groupIds).toEqual([group.groupId]);
    expect({ ingress: group.ingress, egress: group.egress }).toEqual({ ingress: [], egress: [] });
    expect(result.actions.find((a) => a.mechanism === 'security-group')!.detail).toMatch(/ingress tcp 22-22 0\.0\.0\.0\/0/);
  });
});

describe("people's commands, through the runbook role", () => {
  it('stop: the service keeps its minimum, so the task is asked to stop with the reason, and who asked is recorded', async () => {
    deployment = await startDeployment();
    deployment.account.seedFromEvent(REVERSE_SHELL);
    const taskArn = taskArnOf(REVERSE_SHELL);

    // The service keeps enough running tasks (read with DescribeServices), so the minimum-healthy rail lets it stop.
    const result = await runRunbook({ runbook: 'stop', taskArn, reason: 'miner confirmed by SRE' }, deployment.depsFor('runbook'), 'arn:aws:iam::111122223333:user/erin');
    expect(result.actions.find((a) => a.action === 'stop-task')).toMatchObject({ status: 'applied' });
    const task = deployment.account.ecs.tasks.get(taskArn)!;
    expect(task.desiredStatus).toBe('STOPPED');
    expect(task.stoppedReason).toMatch(/miner confirmed by SRE/);
    const [record] = (await deployment.ledger.recordsForTarget(`task:${taskArn}`)).filter((r) => r.action === 'stop-task');
    expect(record).toMatchObject({ status: 'applied', requestedBy: 'arn:aws:iam::111122223333:user/erin' });
  });

  it('isolate, release, isolate again: the second isolation is a new episode and the first is kept', async () => {
    deployment = await startDeployment();
    deployment.account.seedFromEvent(REVERSE_SHELL);
    const taskArn = taskArnOf(REVERSE_SHELL);
    const runbook = deployment.depsFor('runbook');

    const eni = deployment.account.ec2.networkInterfaces.get(deployment.account.ecs.tasks.get(taskArn)!.eni!.networkInterfaceId)!;
    const denyPair = () => denyEntriesFor(deployment.account, eni.subnetId, `${eni.privateIpAddress}/32`);
    expect((await runRunbook({ runbook: 'isolate', taskArn, reason: 'first look' }, runbook, 'alice')).containment).toBe('contained (network-acl)');
    expect(denyPair()).toHaveLength(2);
    const released = await runRunbook({ runbook: 'release', taskArn, reason: 'looked benign' }, runbook, 'bob');
    expect(released.actions.filter((a) => a.status === 'failed')).toEqual([]);
    expect(denyPair()).toEqual([]);
    expect((await runRunbook({ runbook: 'isolate', taskArn, reason: 'it is back' }, runbook, 'alice')).containment).toBe('contained (network-acl)');
    expect(denyPair()).toHaveLength(2);

    const status = await runRunbook({ runbook: 'status', taskArn }, runbook, 'carol');
    const denies = status.records!.filter((r) => r.mechanism === 'network-acl').map((r) => r.status);
    expect(denies.sort()).toEqual(['applied', 'released']);
  });

  it('quarantine-image with stopRunningTasks: the digest is archived and every task running it is stopped', async () => {
    deployment = await startDeployment();
    deployment.account.putImage({ repository: PUSHED_REPOSITORY, digest: PUSHED_DIGEST, tags: ['2.7.0'] });
    const running = runTaskFrom(deployment, PUSHED_REPOSITORY, PUSHED_DIGEST);

    const result = await runRunbook(
      { runbook: 'quarantine-image', repository: PUSHED_REPOSITORY, imageDigest: PUSHED_DIGEST, reason: 'backdoored build', stopRunningTasks: true },
      deployment.depsFor('runbook'),
      'dana',
    );

    expect(result.containment).toBe('contained (archive)');
    expect(deployment.account.ecr.image(PUSHED_REPOSITORY, PUSHED_DIGEST)!.imageStatus).toBe('ARCHIVED');
    expect(deployment.account.ecs.tasks.get(running.taskArn)!.desiredStatus).toBe('STOPPED');
  });

  it('host isolation into an opened quarantine group: the group is emptied first', async () => {
    deployment = await startDeployment();
    deployment.account.seedFromEvent(EC2_BRIDGE);
    const { hostEni, group } = openedQuarantineGroup(deployment, taskArnOf(EC2_BRIDGE));

    const result = await runRunbook({ runbook: 'isolate', taskArn: taskArnOf(EC2_BRIDGE), reason: 'reverse shell', hostIsolation: true }, deployment.depsFor('runbook'), 'alice');

    expect(result.containment).toBe('contained (security-group)');
    expect(hostEni.groupIds).toEqual([group.groupId]);
    expect({ ingress: group.ingress, egress: group.egress }).toEqual({ ingress: [], egress: [] });
  });
});

describe('the launch guard', () => {
  it('a malformed push is refused naming the field, acts on nothing, and is kept in the ledger', async () => {
    deployment = await startDeployment();
    const malformed = structuredClone(PUSH);
    delete malformed.detail['image-digest'];
    const before = deployment.account.calls.length;

    const result = await guardLaunchOrPush(malformed, deployment.depsFor('taskLaunchGuard'));

    expect(result.error).toMatch(/detail\.image-digest/);
    expect(deployment.account.calls.slice(before)).toEqual([]);
    expect((await rejectedItems(deployment)).map((item) => item.pk)).toEqual([`REJECTED#${PUSH.id}`]);
  });

  it('a push restores a quarantined digest while archiving is refused: only the quarantine tag is left, and the running task is listed', async () => {
    deployment = await startDeployment();
    const { account } = deployment;
    account.putImage({ repository: PUSHED_REPOSITORY, digest: PUSHED_DIGEST, tags: ['2.7.0'] });
    const quarantined = await runRunbook({ runbook: 'quarantine-image', repository: PUSHED_REPOSITORY, imageDigest: PUSHED_DIGEST, reason: 'malware' }, deployment.depsFor('runbook'), 'dana');
    expect(quarantined.containment).toBe('contained (archive)');
    const running = runTaskFrom(deployment, PUSHED_REPOSITORY, PUSHED_DIGEST);
    // CI pushes the same digest again: ECR restores it at once (restore-image.html); the repository now refuses archiving.
    account.seedFromEvent(PUSH);
    expect(account.ecr.image(PUSHED_REPOSITORY, PUSHED_DIGEST)!.imageStatus).toBe('ACTIVE');
    account.ecr.setArchiveRefused(PUSHED_REPOSITORY);

    const result = await guardLaunchOrPush(PUSH, deployment.depsFor('taskLaunchGuard'));

    expect(result.actions.filter((a) => a.action === 'quarantine-image').map((a) => [a.mechanism, a.status])).toEqual([
      ['archive', 'unsupported'],
      ['image-tags', 'applied'],
    ]);
    expect(account.ecr.image(PUSHED_REPOSITORY, PUSHED_DIGEST)!.imageTags).toEqual([expect.stringMatching(/^quarantined-/)]);
    const message = JSON.parse(account.sns.published.at(-1)!.message);
    expect(message.image.tasksUsingImage).toEqual([running.taskArn]);
  });
});
