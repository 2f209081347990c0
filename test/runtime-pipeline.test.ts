import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ORIGINAL_GROUPS_TAG } from '../shared/actions/isolate-task';
import { ClaimBusyError } from '../shared/ledger';
import { TAG_FINDING, TAG_RULE, TAG_STATE } from '../shared/actions/tag-resources';
import type { Ledger } from '../shared/ledger';
import { respondToRuntimeFinding } from '../shared/pipeline';
import { cleanUpStoppedTask } from '../shared/task-stopped';
import { ReplaySession, type ReplayLine } from '../cli/replay-session';
import { SimulatedAccount } from '../sim/account';
import { NETWORK_ACL_RULES_PER_DIRECTION } from '../sim/ec2';
import type { SimulatedDeployment } from '../sim/deployment';
import {
  aclOfSubnet,
  denyEntriesFor,
  EVENTS_DIR,
  eventFiles,
  loadEvent,
  mutatingCalls,
  mutatingOperations,
  notifications,
  policyFrom,
  rawLedgerItem,
  rejectedItems,
  seedAndRespond,
  startDeployment,
  variant,
  workloadMutations,
  type DeploymentOptions,
  type Json,
} from './helpers/deployment';

const REVERSE_SHELL = loadEvent('gd-ecs-fargate-reverse-shell.json');
const REVERSE_SHELL_ID = 'c4e6a8b0d2f44a6c8e0a2c4e6f8a0b1c';
const REVERSE_SHELL_TASK = 'arn:aws:ecs:us-east-1:111122223333:task/prod-cluster/8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a';
const EC2_BRIDGE = loadEvent('gd-ecs-ec2-bridge-reverse-shell.json');
const HIGH_ISOLATE = loadEvent('gd-ecs-fargate-process-injection-high.json');

const taskArnOf = (event: Json): string => event.detail.resource.ecsClusterDetails.taskDetails.arn;
const ledgerIdOf = (event: Json): string => `guardduty:${event.detail.id}`;

/** The shipped rule set with the containment ladder changed: used where the test needs a variant of the policy. */
function containPolicy(isolate: string, extra = '  - stop-task\n') {
  return policyFrom(`
version: 1
rules:
  - name: contain
    match: { severity: [HIGH, CRITICAL] }
    actions:
      - capture-evidence
      - tag
      - isolate-task: ${isolate}
${extra.replace(/^ {2}/gm, '      ')}      - notify
`);
}

let deployment: SimulatedDeployment;
async function start(options: DeploymentOptions = {}) {
  deployment = await startDeployment(options);
  return deployment;
}
afterEach(async () => {
  await deployment?.close();
});

/** The state of a seeded awsvpc task before anything happens: its ENI, subnet, IP and groups. */
function taskNetwork(account: SimulatedAccount, taskArn: string) {
  const task = account.ecs.tasks.get(taskArn);
  if (!task?.eni) throw new Error(`no awsvpc task ${taskArn}`);
  const eni = account.ec2.networkInterfaces.get(task.eni.networkInterfaceId)!;
  return { task, eniId: eni.networkInterfaceId, subnetId: eni.subnetId, ip: eni.privateIpAddress, groups: [...eni.groupIds] };
}

/** The container instance interface of an EC2 launch-type task. */
function hostInterface(account: SimulatedAccount, taskArn: string) {
  const task = account.ecs.tasks.get(taskArn)!;
  const ci = account.ecs.containerInstances.get(task.containerInstanceArn!)!;
  const instance = account.ec2.instances.get(ci.ec2InstanceId)!;
  return account.ec2.networkInterfaces.get(instance.primaryNetworkInterfaceId)!;
}

async function ledgerRecord(ledger: Ledger, ledgerId: string, step: string) {
  return (await ledger.actionRecords(ledgerId)).find((r) => r.step === step);
}

describe('shipped events: the Fargate reverse shell (High, rule unmistakable-threats)', () => {
  let result: Awaited<ReturnType<typeof respondToRuntimeFinding>>;
  let before: ReturnType<typeof taskNetwork>;

  beforeEach(async () => {
    await start();
    deployment.account.seedFromEvent(REVERSE_SHELL);
    before = taskNetwork(deployment.account, REVERSE_SHELL_TASK);
    result = await respondToRuntimeFinding(REVERSE_SHELL, deployment.depsFor('runtimeFinding'));
    // Time passes: the stopped task finishes its lifecycle and the service starts its replacement.
    deployment.account.ecs.settle();
  });

  it('decides, and reports every step with its outcome', () => {
    expect(result.error).toBeUndefined();
    expect(result.finding).toEqual({ id: REVERSE_SHELL_ID, type: 'Execution:Runtime/ReverseShell', severity: 8 });
    expect(result.decision).toEqual({ policyRule: 'unmistakable-threats', mode: 'enforce' });
    expect(result.actions.map((a) => [a.action, a.mechanism, a.status])).toEqual([
      ['capture-evidence', 's3', 'applied'],
      ['tag', 'tags', 'applied'],
      ['isolate-task', 'security-group', 'unsupported'],
      ['isolate-task', 'network-acl', 'applied'],
      ['stop-task', 'stop-task', 'applied'],
      ['notify', 'sns', 'applied'],
    ]);
    expect(result.containment).toBe('contained (network-acl)');
    expect(result.notifications).toBe(1);
  });

  it('stores the evidence in S3 under the finding id, before anything destructive', () => {
    const evidence = deployment.account.s3.objects(deployment.config.evidenceBucket);
    const prefix = `findings/${REVERSE_SHELL_ID}/`;
    expect(evidence.map((o) => o.key)).toEqual(['describe-tasks.json', 'event.json', 'network.json', 'task-definition.json'].map((n) => prefix + n));
    expect(JSON.parse(deployment.account.s3.object(deployment.config.evidenceBucket, `${prefix}event.json`)!.body)).toEqual(REVERSE_SHELL);
    const described = JSON.parse(deployment.account.s3.object(deployment.config.evidenceBucket, `${prefix}describe-tasks.json`)!.body);
    expect(described.taskArn).toBe(REVERSE_SHELL_TASK);
    expect(described.lastStatus).toBe('RUNNING');
    const network = JSON.parse(deployment.account.s3.object(deployment.config.evidenceBucket, `${prefix}network.json`)!.body);
    expect(network.taskInterface).toMatchObject({ id: before.eniId, privateIp: before.ip, requesterManaged: true });
    // Every evidence write happened before the stop, which destroys evidence (the network cut may come first: it
    // destroys none).
    const puts = deployment.account.calls.filter((c) => c.operation === 'PutObject');
    const stop = deployment.account.calls.findIndex((c) => c.operation === 'StopTask');
    expect(puts).toHaveLength(4);
    expect(stop).toBeGreaterThan(0);
    expect(puts.every((c) => deployment.account.calls.indexOf(c) < stop)).toBe(true);
  });

  it('tags the task and its interface with the finding, state and rule', () => {
    // StopTask deletes the task's tags (API_StopTask): what was set is read from the TagResource call.
    expect(deployment.account.ecs.tasks.get(REVERSE_SHELL_TASK)!.tags).toEqual({});
    const [tagged] = deployment.account.callsTo('ecs', 'TagResource').filter((c) => c.ok && c.input.resourceArn === REVERSE_SHELL_TASK);
    const taskTags = Object.fromEntries((tagged!.input.tags as { key: string; value: string }[]).map((t) => [t.key, t.value]));
    expect(taskTags).toMatchObject({ [TAG_FINDING]: REVERSE_SHELL_ID, [TAG_STATE]: 'responding', [TAG_RULE]: 'unmistakable-threats' });
    // ECS deletes a Fargate task's interface when the task stops, so the interface's tags are read from the
    // successful CreateTags calls that targeted it while it existed.
    expect(deployment.account.ec2.networkInterfaces.has(before.eniId)).toBe(false);
    const interfaceTags = Object.assign(
      {},
      ...deployment.account
        .callsTo('ec2', 'CreateTags')
        .filter((c) => c.ok && (c.input.Resources as string[]).includes(before.eniId))
        .flatMap((c) => (c.input.Tags as { Key: string; Value: string }[]).map((t) => ({ [t.Key]: t.Value }))),
    );
    expect(interfaceTags).toMatchObject({ [TAG_FINDING]: REVERSE_SHELL_ID, [TAG_STATE]: 'responding', [TAG_RULE]: 'unmistakable-threats' });
  });

  it('records the refused security-group swap as unsupported with its error code, and leaves the groups alone', async () => {
    const swap = result.actions.find((a) => a.mechanism === 'security-group')!;
    expect(swap).toMatchObject({ status: 'unsupported', errorCode: 'OperationNotPermitted' });
    expect(swap.detail).toMatch(/ECS-managed interface/);
    const record = await ledgerRecord(deployment.ledger, ledgerIdOf(REVERSE_SHELL), 'isolate-task:security-group');
    expect(record).toMatchObject({ status: 'unsupported', errorCode: 'OperationNotPermitted', mechanism: 'security-group' });
    expect((record!.beforeState as { groups: string[] }).groups).toEqual(before.groups);
    const modify = deployment.account.callsTo('ec2', 'ModifyNetworkInterfaceAttribute');
    expect(modify.map((c) => [c.ok, c.errorCode])).toEqual([[false, 'OperationNotPermitted']]);
  });

  it('denies the task /32 both ways in the subnet network ACL, below the allow rules', async () => {
    const entries = denyEntriesFor(deployment.account, before.subnetId, `${before.ip}/32`);
    expect(entries.map((e) => ({ egress: e.egress, rule: e.ruleNumber, protocol: e.protocol }))).toEqual([
      { egress: false, rule: 1, protocol: '-1' },
      { egress: true, rule: 1, protocol: '-1' },
    ]);
    const record = await ledgerRecord(deployment.ledger, ledgerIdOf(REVERSE_SHELL), 'isolate-task:network-acl');
    expect(record).toMatchObject({ status: 'applied', target: `task:${REVERSE_SHELL_TASK}` });
    expect(record!.beforeState).toEqual({ networkAclId: aclOfSubnet(deployment.account, before.subnetId).networkAclId, cidr: `${before.ip}/32`, ingressRule: 1, egressRule: 1 });
  });

  it('stops the task with a reason naming the finding; ECS starts a replacement for the service', () => {
    const task = deployment.account.ecs.tasks.get(REVERSE_SHELL_TASK)!;
    expect(task.desiredStatus).toBe('STOPPED');
    expect(task.stopCode).toBe('UserInitiated');
    expect(task.stoppedReason).toContain(`guardduty:${REVERSE_SHELL_ID}`);
    expect(task.stoppedReason).toContain('Execution:Runtime/ReverseShell');
    expect(task.stoppedReason!.length).toBeLessThanOrEqual(255);
    const running = [...deployment.account.ecs.tasks.values()].filter((t) => t.group === 'service:orders-web' && t.lastStatus === 'RUNNING');
    expect(running).toHaveLength(2);
    expect(deployment.account.callsTo('ecs', 'StopTask').filter((c) => c.ok)).toHaveLength(1);
  });

  it('publishes one notification: contained by network-acl, with every action', () => {
    const [message] = notifications(deployment.account);
    expect(deployment.account.sns.published).toHaveLength(1);
    expect(deployment.account.sns.published[0]!.topicArn).toBe(deployment.config.topicArn);
    expect(deployment.account.sns.published[0]!.messageAttributes.containment?.StringValue).toBe('contained');
    expect(message).toMatchObject({
      kind: 'finding-response',
      ledgerId: `guardduty:${REVERSE_SHELL_ID}`,
      containment: { state: 'contained', mechanism: 'network-acl' },
      decision: { policyRule: 'unmistakable-threats', mode: 'enforce' },
      finding: { id: REVERSE_SHELL_ID, severityLabel: 'HIGH', sample: false },
      resource: { cluster: 'prod-cluster', service: 'orders-web', taskArn: REVERSE_SHELL_TASK },
    });
    expect(message!.headline).toMatch(/^Contained: network ACL, then stopped: HIGH Execution:Runtime\/ReverseShell in prod-cluster\/orders-web/);
    expect(message!.actions.map((a) => `${a.action}/${a.mechanism}/${a.status}`)).toEqual([
      'capture-evidence/s3/applied',
      'tag/tags/applied',
      'isolate-task/security-group/unsupported',
      'isolate-task/network-acl/applied',
      'stop-task/stop-task/applied',
    ]);
    // DescribeTasks gives the digest GuardDuty does not.
    expect(message!.resource.images[0]).toMatch(/orders-web@sha256:3b0f7e5c/);
    expect(message!.releaseCommand).toContain(`guardduty:${REVERSE_SHELL_ID}`);
  });

  it('finishes the claim in the ledger with the containment state', async () => {
    const claim = await deployment.ledger.getClaim(ledgerIdOf(REVERSE_SHELL));
    expect(claim).toMatchObject({ state: 'done', containment: 'contained', deliveries: 1, severity: 8, mode: 'enforce' });
  });

  it('the -update re-publication (same finding id, same severity) acts no more and counts the delivery', async () => {
    const update = loadEvent('gd-ecs-fargate-reverse-shell-update.json');
    const callsBefore = deployment.account.calls.length;
    const published = deployment.account.sns.published.length;
    deployment.account.seedFromEvent(update);
    const again = await respondToRuntimeFinding(update, deployment.depsFor('runtimeFinding'));
    expect(again.actions).toEqual([]);
    expect(again.ignored).toMatch(/^duplicate delivery 2 of this finding/);
    expect(mutatingCalls(deployment.account, callsBefore)).toEqual([]);
    expect(deployment.account.sns.published).toHaveLength(published);
    const claim = await deployment.ledger.getClaim(ledgerIdOf(REVERSE_SHELL));
    expect(claim).toMatchObject({ deliveries: 2, count: 4, state: 'done' });
  });
});

describe('shipped events: other findings', () => {
  it('crypto-mining (High, BitcoinTool.B!DNS) → crypto-mining: evidence, NACL deny, image archived, stopped, notified', async () => {
    const event = loadEvent('gd-ecs-fargate-cryptocurrency-bitcointool-dns.json');
    await start();
    deployment.account.seedFromEvent(event);
    const net = taskNetwork(deployment.account, taskArnOf(event));
    const result = await respondToRuntimeFinding(event, deployment.depsFor('runtimeFinding'));
    expect(result.decision).toEqual({ policyRule: 'crypto-mining', mode: 'enforce' });
    expect(result.containment).toBe('contained (network-acl)');
    expect(denyEntriesFor(deployment.account, net.subnetId, `${net.ip}/32`)).toHaveLength(2);
    const task = deployment.account.ecs.tasks.get(taskArnOf(event))!;
    expect(task.desiredStatus).toBe('STOPPED');
    // The digest the task ran is archived before the stop, so the service's replacement cannot pull it.
    const container = task.containers[0]!;
    const repository = container.image.split('/').slice(1).join('/').split(/[:@]/)[0]!;
    expect(deployment.account.ecr.image(repository, container.imageDigest!)!.imageStatus).toBe('ARCHIVED');
    expect(result.actions.find((a) => a.action === 'quarantine-image')).toMatchObject({ status: 'applied', mechanism: 'archive' });
    // The service starts its replacement once the task has stopped (StopTask's lifecycle takes simulated time).
    deployment.account.ecs.settle();
    const replacement = [...deployment.account.ecs.tasks.values()].find((t) => t.taskArn !== task.taskArn && t.group === task.group && t.stoppedReason);
    expect(replacement?.stoppedReason).toMatch(/^CannotPullContainerError/);
    expect(deployment.account.s3.objects(deployment.config.evidenceBucket).map((o) => o.key)).toContain(`findings/${event.detail.id}/event.json`);
    expect(notifications(deployment.account)[0]).toMatchObject({ containment: { state: 'contained', mechanism: 'network-acl' }, indicators: { domains: ['pool.supportxmr.com'] } });
  });

  it('backdoor C&C in eu-central-1 → handled by the eu-central-1 stack, contained', async () => {
    const event = loadEvent('gd-ecs-fargate-backdoor-c2-dns.json');
    await start();
    // The responder is deployed per region: the simulated deployment gives the same account in eu-central-1.
    const eu = deployment.inRegion('eu-central-1');
    eu.account.seedFromEvent(event);
    const net = taskNetwork(eu.account, taskArnOf(event));
    const result = await respondToRuntimeFinding(event, eu.depsFor('runtimeFinding'));
    expect(result.decision).toEqual({ policyRule: 'unmistakable-threats', mode: 'enforce' });
    expect(result.containment).toBe('contained (network-acl)');
    expect(denyEntriesFor(eu.account, net.subnetId, `${net.ip}/32`)).toHaveLength(2);
    const task = eu.account.ecs.tasks.get(taskArnOf(event))!;
    expect(task.desiredStatus).toBe('STOPPED');
    expect(task.stoppedReason).toContain(event.detail.id);
    expect(eu.account.s3.objects(eu.config.evidenceBucket).map((o) => o.key)).toContain(`findings/${event.detail.id}/event.json`);
    const [message] = notifications(eu.account);
    expect(message).toMatchObject({ finding: { region: 'eu-central-1' }, containment: { state: 'contained', mechanism: 'network-acl' } });
    expect(message!.resource.images).toHaveLength(2);
    expect(eu.account.sns.published[0]!.topicArn).toMatch(/^arn:aws:sns:eu-central-1:111122223333:/);
    // Nothing happened in the home region; the ledger is shared.
    expect(deployment.account.calls).toEqual([]);
    expect(await deployment.ledger.getClaim(ledgerIdOf(event))).toMatchObject({ state: 'done', containment: 'contained' });
  });

  it('medium (NewBinaryExecuted, 5) → medium-notify: one notification, no change to anything', async () => {
    const event = loadEvent('gd-ecs-fargate-new-binary-executed-medium.json');
    await start();
    const result = await seedAndRespond(deployment, event);
    expect(result.decision).toEqual({ policyRule: 'medium-notify', mode: 'enforce' });
    expect(result.actions.map((a) => `${a.action}/${a.status}`)).toEqual(['notify/applied']);
    expect(result.containment).toBe('none');
    expect(mutatingOperations(deployment.account)).toEqual(['sns:Publish']);
    expect(deployment.account.ecs.tasks.get(taskArnOf(event))!.lastStatus).toBe('RUNNING');
    expect(deployment.account.ecs.tasks.get(taskArnOf(event))!.tags).toEqual({});
    expect(notifications(deployment.account)[0]).toMatchObject({ containment: { state: 'none' }, finding: { severityLabel: 'MEDIUM' } });
    expect(await deployment.ledger.getClaim(ledgerIdOf(event))).toMatchObject({ state: 'done', containment: 'none' });
  });

  it('sample negative (resourceType Instance): not routed by EventBridge; rejected naming the field if it arrives anyway', async () => {
    const event = loadEvent('gd-ec2-instance-blackhole-dns-sample-negative.json');
    const session = await ReplaySession.start();
    try {
      const [line] = await session.replay('negative', event);
      expect(line).toMatchObject({ rule: null, actions: [], ignored: 'no EventBridge rule in serverless.yml matches this event' });
      expect(session.account!.calls).toEqual([]);
    } finally {
      await session.close();
    }
    await start();
    const result = await respondToRuntimeFinding(event, deployment.depsFor('runtimeFinding'));
    expect(result.error).toBe('detail.resource.resourceType: is Instance; only ECSCluster findings are handled');
    expect(deployment.account.calls).toEqual([]);
    expect(await rawLedgerItem(deployment, `REJECTED#${event.id}`, '#EVENT')).toMatchObject({ error: result.error });
  });
});

describe('new events', () => {
  it('Critical (9.2) reverse shell on a Fargate service task → critical, contained', async () => {
    const event = loadEvent('gd-ecs-fargate-reverse-shell-critical.json');
    await start();
    deployment.account.seedFromEvent(event);
    const net = taskNetwork(deployment.account, taskArnOf(event));
    const result = await respondToRuntimeFinding(event, deployment.depsFor('runtimeFinding'));
    expect(result.finding).toMatchObject({ severity: 9.2 });
    expect(result.decision).toEqual({ policyRule: 'critical', mode: 'enforce' });
    expect(result.containment).toBe('contained (network-acl)');
    expect(denyEntriesFor(deployment.account, net.subnetId, `${net.ip}/32`)).toHaveLength(2);
    const task = deployment.account.ecs.tasks.get(taskArnOf(event))!;
    expect(task.desiredStatus).toBe('STOPPED');
    // StopTask deletes the task's tags (API_StopTask): what the tag step set is in its TagResource call.
    const tagged = deployment.account.callsTo('ecs', 'TagResource').find((c) => c.ok && c.input.resourceArn === taskArnOf(event))!;
    expect(tagged.input.tags).toContainEqual({ key: TAG_RULE, value: 'critical' });
    expect(notifications(deployment.account)[0]).toMatchObject({ finding: { severityLabel: 'CRITICAL' }, containment: { state: 'contained', mechanism: 'network-acl' } });
    expect(notifications(deployment.account)[0]!.headline).toMatch(/^Contained: network ACL, then stopped: CRITICAL /);
  });

  it('High process injection (not an unmistakable type) → high-isolate: NACL deny, tagged interface, task left running', async () => {
    await start();
    deployment.account.seedFromEvent(HIGH_ISOLATE);
    const net = taskNetwork(deployment.account, taskArnOf(HIGH_ISOLATE));
    const result = await respondToRuntimeFinding(HIGH_ISOLATE, deployment.depsFor('runtimeFinding'));
    expect(result.decision).toEqual({ policyRule: 'high-isolate', mode: 'enforce' });
    expect(result.containment).toBe('contained (network-acl)');
    expect(deployment.account.ecs.tasks.get(taskArnOf(HIGH_ISOLATE))!.lastStatus).toBe('RUNNING');
    const eni = deployment.account.ec2.networkInterfaces.get(net.eniId)!;
    expect(eni.tags).toMatchObject({ [TAG_FINDING]: HIGH_ISOLATE.detail.id, [TAG_STATE]: 'responding', [TAG_RULE]: 'high-isolate' });
    // The swap is refused, so the interface keeps its groups, and no tag claims they were changed.
    expect(eni.groupIds).toEqual(net.groups);
    expect(eni.tags[ORIGINAL_GROUPS_TAG]).toBeUndefined();
    expect(denyEntriesFor(deployment.account, net.subnetId, `${net.ip}/32`)).toHaveLength(2);
    expect(deployment.account.callsTo('ecs', 'StopTask')).toEqual([]);
  });

  describe('EC2 launch type, bridge mode: the task shares its container instance interface', () => {
    it('with hostIsolation: true, swaps the container instance interface to the quarantine group', async () => {
      await start({ policy: containPolicy('{ fallback: [network-acl], hostIsolation: true }', '') });
      deployment.account.seedFromEvent(EC2_BRIDGE);
      const task = deployment.account.ecs.tasks.get(taskArnOf(EC2_BRIDGE))!;
      expect(task).toMatchObject({ launchType: 'EC2', networkMode: 'bridge' });
      expect(task.eni).toBeUndefined();
      const host = hostInterface(deployment.account, task.taskArn);
      const original = [...host.groupIds];
      expect(host.requesterManaged).toBe(false);

      const result = await respondToRuntimeFinding(EC2_BRIDGE, deployment.depsFor('runtimeFinding'));
      const swap = result.actions.find((a) => a.action === 'isolate-task')!;
      expect(swap).toMatchObject({ status: 'applied', mechanism: 'security-group' });
      expect(result.actions.filter((a) => a.action === 'isolate-task')).toHaveLength(1);
      expect(result.containment).toBe('contained (security-group)');

      const quarantine = [...deployment.account.ec2.securityGroups.values()].find((g) => g.tags['responder:quarantine'] === 'true')!;
      expect(quarantine.vpcId).toBe(host.vpcId);
      expect(quarantine.ingress).toEqual([]);
      expect(quarantine.egress).toEqual([]);
      expect(host.groupIds).toEqual([quarantine.groupId]);
      expect(host.tags[ORIGINAL_GROUPS_TAG]).toBe(original.join(','));
      expect(host.tags[TAG_FINDING]).toBe(EC2_BRIDGE.detail.id);
      const record = await ledgerRecord(deployment.ledger, ledgerIdOf(EC2_BRIDGE), 'isolate-task:security-group');
      expect(record).toMatchObject({ status: 'applied', mechanism: 'security-group' });
      expect(record!.beforeState).toEqual({ networkInterfaceId: host.networkInterfaceId, groups: original, quarantineGroupId: quarantine.groupId });
      expect(notifications(deployment.account)[0]).toMatchObject({ containment: { state: 'contained', mechanism: 'security-group' } });
      // No NACL entry was needed.
      expect(aclOfSubnet(deployment.account, host.subnetId).entries.filter((e) => e.ruleAction === 'deny')).toEqual([]);
    });

    it('with the shipped policy (no hostIsolation), the swap is unsupported with the opt-in explanation and stop-task contains', async () => {
      await start();
      deployment.account.seedFromEvent(EC2_BRIDGE);
      const host = hostInterface(deployment.account, taskArnOf(EC2_BRIDGE));
      const original = [...host.groupIds];
      const result = await respondToRuntimeFinding(EC2_BRIDGE, deployment.depsFor('runtimeFinding'));
      expect(result.decision).toEqual({ policyRule: 'unmistakable-threats', mode: 'enforce' });
      const isolate = result.actions.filter((a) => a.action === 'isolate-task');
      expect(isolate[0]).toMatchObject({ status: 'unsupported', mechanism: 'security-group' });
      expect(isolate[0]!.detail).toMatch(/bridge mode: the task shares instance i-\w+'s interface; host isolation is opt-in \(hostIsolation: true\)/);
      expect(isolate[1]).toMatchObject({ status: 'unsupported', mechanism: 'network-acl' });
      expect(deployment.account.callsTo('ec2', 'ModifyNetworkInterfaceAttribute')).toEqual([]);
      expect(host.groupIds).toEqual(original);
      expect(host.tags[ORIGINAL_GROUPS_TAG]).toBeUndefined();
      expect(deployment.account.ecs.tasks.get(taskArnOf(EC2_BRIDGE))!.desiredStatus).toBe('STOPPED');
      expect(result.containment).toBe('contained (stop-task)');
    });
  });

  describe('GuardDuty sample finding on ECS ("sample":true in additionalInfo.value)', () => {
    const sample = loadEvent('gd-ecs-fargate-sample-finding.json');

    it('is ignored by the shipped policy: nothing changes, nothing published', async () => {
      await start();
      const result = await seedAndRespond(deployment, sample);
      expect(result).toMatchObject({ decision: null, actions: [], ignored: 'GuardDuty sample finding: no rule opts in to samples' });
      expect(deployment.account.calls).toEqual([]);
      expect(await deployment.ledger.getClaim(ledgerIdOf(sample))).toBeUndefined();
    });

    it('is acted on by a rule with samples: true, and the notification says it is a sample', async () => {
      await start({
        policy: policyFrom(`
version: 1
rules:
  - name: rehearse-on-samples
    match: { samples: true, severity: [HIGH] }
    actions: [capture-evidence, tag, notify]
`),
      });
      const result = await seedAndRespond(deployment, sample);
      expect(result.decision).toEqual({ policyRule: 'rehearse-on-samples', mode: 'enforce' });
      expect(result.actions.map((a) => `${a.action}/${a.status}`)).toEqual(['capture-evidence/applied', 'tag/applied', 'notify/applied']);
      expect(deployment.account.ecs.tasks.get(taskArnOf(sample))!.tags[TAG_RULE]).toBe('rehearse-on-samples');
      expect(notifications(deployment.account)[0]).toMatchObject({ finding: { sample: true } });
    });
  });

  it('a protected task (tag responder:protect=true) gets no containment: notification (and evidence) only', async () => {
    const event = loadEvent('gd-ecs-fargate-protected-task.json');
    await start();
    deployment.account.seedFromEvent(event);
    const net = taskNetwork(deployment.account, taskArnOf(event));
    const result = await respondToRuntimeFinding(event, deployment.depsFor('runtimeFinding'));
    expect(result.decision).toEqual({ policyRule: 'unmistakable-threats', mode: 'enforce' });
    // capture-evidence is registered as non-mutating, so protection keeps it (it writes to our bucket, not to the task).
    expect(result.actions.map((a) => `${a.action}/${a.status}`)).toEqual(['capture-evidence/applied', 'notify/applied']);
    expect(workloadMutations(deployment.account)).toEqual([]);
    expect(mutatingOperations(deployment.account).filter((op) => op !== 's3:PutObject')).toEqual(['sns:Publish']);
    const task = deployment.account.ecs.tasks.get(taskArnOf(event))!;
    expect(task.lastStatus).toBe('RUNNING');
    expect(task.tags).toEqual({ 'responder:protect': 'true', team: 'payments' });
    expect(deployment.account.ec2.networkInterfaces.get(net.eniId)!.groupIds).toEqual(net.groups);
    expect(denyEntriesFor(deployment.account, net.subnetId, `${net.ip}/32`)).toEqual([]);
    const [message] = notifications(deployment.account);
    expect(message!.containment).toEqual({ state: 'none' });
    expect(message!.notes.join(' ')).toMatch(/Protected resource \(tag responder:protect=true protects it\): nothing changed on it; evidence and notification only/);
  });

  it('a Low finding is ignored: EventBridge does not route it, and the policy would take no action', async () => {
    const event = loadEvent('gd-ecs-fargate-low-severity.json');
    const session = await ReplaySession.start();
    try {
      const [line] = await session.replay('low', event);
      expect(line).toMatchObject({ rule: null, ignored: 'no EventBridge rule in serverless.yml matches this event' });
    } finally {
      await session.close();
    }
    await start();
    const result = await seedAndRespond(deployment, event);
    expect(result).toMatchObject({ finding: { severity: 2 }, decision: null, actions: [], ignored: 'rule low-ignored takes no action' });
    expect(deployment.account.calls).toEqual([]);
  });
});

describe('every event in events/guardduty through the replay CLI session', () => {
  /** The expected outcome of each file, replayed in a fresh session (the replay CLI's own routing and seeding). */
  const expected: Record<string, (lines: ReplayLine[]) => void> = {
    'gd-ec2-instance-blackhole-dns-sample-negative.json': ([line]) => expect(line).toMatchObject({ rule: null, actions: [] }),
    'gd-ecs-ec2-bridge-reverse-shell.json': (lines) => {
      expect(lines[0]).toMatchObject({ rule: 'runtimeFinding', decision: { policyRule: 'unmistakable-threats' }, containment: 'contained (stop-task)' });
      // The stopped task's state change reaches taskStopped, which holds no NACL entry for a bridge task.
      expect(lines.find((l) => l.rule === 'taskStopped')).toMatchObject({ ignored: 'the responder holds no network-ACL entry for this task' });
    },
    'gd-ecs-fargate-backdoor-c2-dns.json': (lines) => {
      expect(lines[0]).toMatchObject({ rule: 'runtimeFinding', decision: { policyRule: 'unmistakable-threats' }, containment: 'contained (network-acl)' });
      expect(lines.find((l) => l.rule === 'taskStopped')!.actions).toMatchObject([{ action: 'release', status: 'applied', mechanism: 'network-acl' }]);
    },
    'gd-ecs-fargate-cryptocurrency-bitcointool-dns.json': (lines) => {
      expect(lines[0]).toMatchObject({ rule: 'runtimeFinding', decision: { policyRule: 'crypto-mining' }, containment: 'contained (network-acl)' });
      expect(lines.find((l) => l.rule === 'taskStopped')!.actions).toMatchObject([{ action: 'release', status: 'applied', mechanism: 'network-acl' }]);
    },
    'gd-ecs-fargate-low-severity.json': ([line]) => expect(line).toMatchObject({ rule: null }),
    'gd-ecs-malformed-missing-task-arn.json': (lines) => {
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ rule: 'runtimeFinding', finding: null, actions: [], notifications: 0, error: 'detail.resource.ecsClusterDetails.taskDetails.arn: is required' });
    },
    'gd-ecs-fargate-new-binary-executed-medium.json': (lines) => {
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ decision: { policyRule: 'medium-notify' }, notifications: 1, containment: 'none' });
    },
    'gd-ecs-fargate-process-injection-high.json': (lines) => {
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ decision: { policyRule: 'high-isolate' }, containment: 'contained (network-acl)' });
    },
    'gd-ecs-fargate-protected-task.json': (lines) => {
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ decision: { policyRule: 'unmistakable-threats' }, containment: 'none', notifications: 1 });
    },
    'gd-ecs-fargate-reverse-shell-critical.json': (lines) =>
      expect(lines[0]).toMatchObject({ decision: { policyRule: 'critical' }, containment: 'contained (network-acl)' }),
    'gd-ecs-fargate-reverse-shell-update.json': (lines) =>
      // Alone (first delivery of that finding id), the update is handled like the original.
      expect(lines[0]).toMatchObject({ decision: { policyRule: 'unmistakable-threats' }, containment: 'contained (network-acl)' }),
    'gd-ecs-fargate-reverse-shell.json': (lines) => {
      expect(lines[0]).toMatchObject({ rule: 'runtimeFinding', containment: 'contained (network-acl)' });
      expect(lines.find((l) => l.rule === 'taskStopped')).toMatchObject({ emittedBy: 'reverse-shell' });
    },
    'gd-ecs-fargate-sample-finding.json': ([line]) => expect(line).toMatchObject({ rule: 'runtimeFinding', ignored: 'GuardDuty sample finding: no rule opts in to samples' }),
  };

  it('has an expected outcome for every event file', () => {
    expect(Object.keys(expected).sort()).toEqual(eventFiles());
  });

  it.each(eventFiles())('%s', async (name) => {
    const session = await ReplaySession.start();
    try {
      const lines = await session.replayFile(`${EVENTS_DIR}/${name}`);
      expected[name]!(name === 'gd-ecs-fargate-reverse-shell.json' ? lines.map((l) => ({ ...l, emittedBy: l.emittedBy && 'reverse-shell' })) : lines);
    } finally {
      await session.close();
    }
  });

  it('the folder in order: the -update is a duplicate of the reverse shell and changes nothing', async () => {
    const session = await ReplaySession.start();
    try {
      await session.replayFile(`${EVENTS_DIR}/gd-ecs-fargate-reverse-shell.json`);
      const calls = session.account!.calls.length;
      const [line] = await session.replayFile(`${EVENTS_DIR}/gd-ecs-fargate-reverse-shell-update.json`);
      expect(line!.ignored).toMatch(/^duplicate delivery 2/);
      expect(mutatingCalls(session.account!, calls)).toEqual([]);
      expect(await session.ledger.getClaim(`guardduty:${REVERSE_SHELL_ID}`)).toMatchObject({ deliveries: 2 });
    } finally {
      await session.close();
    }
  });
});

describe('malformed input: rejected naming the field, no AWS action, kept in the ledger', () => {
  const cases: [string, unknown, string][] = [
    ['not a JSON object', 'GuardDuty Finding', '(event)'],
    ['wrong source', variant(REVERSE_SHELL, (e) => (e.source = 'aws.inspector2')), 'source'],
    ['wrong detail-type', variant(REVERSE_SHELL, (e) => (e['detail-type'] = 'GuardDuty Malware Scan')), 'detail-type'],
    ['missing detail.id', variant(REVERSE_SHELL, (e) => delete e.detail.id), 'detail.id'],
    ['severity not a number', variant(REVERSE_SHELL, (e) => (e.detail.severity = 'HIGH')), 'detail.severity'],
    ['resourceType not ECSCluster', variant(REVERSE_SHELL, (e) => (e.detail.resource.resourceType = 'EKSCluster')), 'detail.resource.resourceType'],
    ['missing taskDetails.arn', variant(REVERSE_SHELL, (e) => delete e.detail.resource.ecsClusterDetails.taskDetails.arn), 'detail.resource.ecsClusterDetails.taskDetails.arn'],
    [
      'task ARN not an ECS ARN',
      variant(REVERSE_SHELL, (e) => (e.detail.resource.ecsClusterDetails.taskDetails.arn = 'arn:aws:eks:us-east-1:111122223333:cluster/prod')),
      'detail.resource.ecsClusterDetails.taskDetails.arn',
    ],
  ];

  it.each(cases)('%s', async (_label, event, field) => {
    await start();
    // Seed what the valid original names, so an action on it would be visible.
    deployment.account.seedFromEvent(REVERSE_SHELL);
    const calls = deployment.account.calls.length;
    const result = await respondToRuntimeFinding(event, deployment.depsFor('runtimeFinding'));
    expect(result.error).toBeDefined();
    expect(result.error!.startsWith(`${field}: `)).toBe(true);
    expect(result).toMatchObject({ finding: null, decision: null, actions: [], notifications: 0 });
    expect(deployment.account.calls.slice(calls)).toEqual([]);
    expect(deployment.account.ecs.tasks.get(REVERSE_SHELL_TASK)!.lastStatus).toBe('RUNNING');
    const rejected = await rejectedItems(deployment);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ sk: '#EVENT', error: result.error });
    expect(JSON.parse(String(rejected[0]!.raw))).toEqual(event);
    const envelopeId = typeof event === 'object' && event !== null ? (event as { id?: string }).id : undefined;
    if (envelopeId) expect(rejected[0]!.pk).toBe(`REJECTED#${envelopeId}`);
    else expect(String(rejected[0]!.pk)).toMatch(/^REJECTED#unidentified-\d+$/);
    expect(await deployment.ledger.getClaim(ledgerIdOf(REVERSE_SHELL))).toBeUndefined();
  });
});

describe('severity rise re-evaluates', () => {
  it('High isolate (8) then Critical (9.5): claims again, skips what was applied, stops once', async () => {
    await start();
    deployment.account.seedFromEvent(HIGH_ISOLATE);
    const first = await respondToRuntimeFinding(HIGH_ISOLATE, deployment.depsFor('runtimeFinding'));
    expect(first.decision!.policyRule).toBe('high-isolate');
    const rose = variant(HIGH_ISOLATE, (e) => {
      e.id = 'f9e8d7c6-b5a4-4392-8181-706f5e4d3c2b';
      e.detail.severity = 9.5;
      e.detail.service.count = 2;
    });
    const second = await respondToRuntimeFinding(rose, deployment.depsFor('runtimeFinding'));
    expect(second.decision).toEqual({ policyRule: 'critical', mode: 'enforce' });
    const byAction = Object.fromEntries(second.actions.map((a) => [a.action, a]));
    expect(byAction.tag).toMatchObject({ status: 'skipped' });
    expect(byAction.tag!.detail).toMatch(/already applied/);
    expect(byAction['isolate-task']).toMatchObject({ status: 'skipped', mechanism: 'network-acl' });
    expect(byAction['isolate-task']!.detail).toMatch(/already applied/);
    expect(byAction['stop-task']).toMatchObject({ status: 'applied' });
    expect(deployment.account.callsTo('ecs', 'StopTask').filter((c) => c.ok)).toHaveLength(1);
    expect(deployment.account.callsTo('ec2', 'CreateNetworkAclEntry').filter((c) => c.ok)).toHaveLength(2);
    expect(deployment.account.ecs.tasks.get(taskArnOf(HIGH_ISOLATE))!.desiredStatus).toBe('STOPPED');
    expect(await deployment.ledger.getClaim(ledgerIdOf(HIGH_ISOLATE))).toMatchObject({ deliveries: 2, severity: 9.5, state: 'done' });
    expect(deployment.account.sns.published).toHaveLength(2);
    expect(notifications(deployment.account)[1]).toMatchObject({ finding: { severityLabel: 'CRITICAL' }, containment: { state: 'contained' } });
    // A third delivery at the same severity acts no more.
    const calls = deployment.account.calls.length;
    const third = await respondToRuntimeFinding(rose, deployment.depsFor('runtimeFinding'));
    expect(third.ignored).toMatch(/^duplicate delivery 3/);
    expect(mutatingCalls(deployment.account, calls)).toEqual([]);
  });

  it('Fargate reverse shell 8 then 9.5 (task already stopped by the first delivery): re-evaluates without failing', async () => {
    await start();
    deployment.account.seedFromEvent(REVERSE_SHELL);
    await respondToRuntimeFinding(REVERSE_SHELL, deployment.depsFor('runtimeFinding'));
    const rose = variant(REVERSE_SHELL, (e) => {
      e.id = 'aa11bb22-cc33-4d44-8e55-ff6677889900';
      e.detail.severity = 9.5;
    });
    // BUG (shared/task-state.ts, describeInterface): ECS deleted the stopped task's ENI, DescribeNetworkInterfaces answers
    // InvalidNetworkInterfaceID.NotFound, readTaskState throws, and every retry of this delivery fails the same way.
    const second = await respondToRuntimeFinding(rose, deployment.depsFor('runtimeFinding'));
    expect(second.decision).toEqual({ policyRule: 'critical', mode: 'enforce' });
    const byAction = Object.fromEntries(second.actions.map((a) => [a.action, a]));
    expect(byAction.tag).toMatchObject({ status: 'skipped' });
    expect(byAction['isolate-task']).toMatchObject({ status: 'skipped' });
    expect(byAction['stop-task']).toMatchObject({ status: 'skipped' });
    expect(deployment.account.callsTo('ecs', 'StopTask')).toHaveLength(1);
    expect(await deployment.ledger.getClaim(ledgerIdOf(REVERSE_SHELL))).toMatchObject({ deliveries: 2, severity: 9.5, state: 'done' });
  });
});

describe('observe mode: same shape, planned, notified, nothing changed', () => {
  const expectObserved = (result: Awaited<ReturnType<typeof respondToRuntimeFinding>>) => {
    expect(result.decision!.mode).toBe('observe');
    expect(result.containment).toBe('observed');
    const nonNotify = result.actions.filter((a) => a.action !== 'notify');
    expect(nonNotify.map((a) => `${a.action}/${a.mechanism}`)).toEqual([
      'capture-evidence/s3',
      'tag/tags',
      'isolate-task/security-group',
      'isolate-task/network-acl',
      'stop-task/stop-task',
    ]);
    expect(nonNotify.every((a) => a.status === 'planned')).toBe(true);
    expect(result.actions.at(-1)).toMatchObject({ action: 'notify', status: 'applied' });
    expect(mutatingOperations(deployment.account)).toEqual(['sns:Publish']);
    expect(deployment.account.ecs.tasks.get(REVERSE_SHELL_TASK)!.lastStatus).toBe('RUNNING');
    expect(deployment.account.ecs.tasks.get(REVERSE_SHELL_TASK)!.tags).toEqual({});
    expect(deployment.account.s3.objects(deployment.config.evidenceBucket)).toEqual([]);
    const [message] = notifications(deployment.account);
    expect(message).toMatchObject({ containment: { state: 'observed' }, decision: { mode: 'observe' } });
    expect(message!.headline).toMatch(/^Observe mode, nothing changed: /);
  };

  it('forceObserve in the configuration', async () => {
    await start({ config: { forceObserve: true } });
    const result = await seedAndRespond(deployment, REVERSE_SHELL);
    expectObserved(result);
    expect(notifications(deployment.account)[0]!.notes).toContain('The global observe switch is on: nothing was changed.');
    const records = await deployment.ledger.actionRecords(ledgerIdOf(REVERSE_SHELL));
    expect(records.every((r) => r.mode === 'observe')).toBe(true);
    expect(records.filter((r) => r.step.startsWith('observe:')).map((r) => r.status)).toEqual(expect.arrayContaining(['planned']));
    expect(records.some((r) => r.status === 'applied' && r.action !== 'notify')).toBe(false);
    expect(await deployment.ledger.getClaim(ledgerIdOf(REVERSE_SHELL))).toMatchObject({ mode: 'observe', containment: 'observed' });
  });

  it('a rule with mode: observe; a later enforce delivery of the same finding then acts', async () => {
    const observe = policyFrom(`
version: 1
rules:
  - name: rehearse
    match: { severity: [HIGH] }
    mode: observe
    actions: [capture-evidence, tag, { isolate-task: { fallback: [network-acl] } }, stop-task, notify]
`);
    await start({ policy: observe });
    const result = await seedAndRespond(deployment, REVERSE_SHELL);
    expect(result.decision).toEqual({ policyRule: 'rehearse', mode: 'observe' });
    expectObserved(result);
    // Observe → enforce re-evaluates the same finding id.
    deployment.depsFor('runtimeFinding').policy = containPolicy('{ fallback: [network-acl] }');
    const enforced = await respondToRuntimeFinding(REVERSE_SHELL, deployment.depsFor('runtimeFinding'));
    expect(enforced.decision).toEqual({ policyRule: 'contain', mode: 'enforce' });
    expect(enforced.containment).toBe('contained (network-acl)');
    expect(deployment.account.ecs.tasks.get(REVERSE_SHELL_TASK)!.desiredStatus).toBe('STOPPED');
  });
});

describe('fault injection', () => {
  it('a throttled ModifyNetworkInterfaceAttribute is retried by the SDK and the swap succeeds', async () => {
    await start({ policy: containPolicy('{ fallback: [network-acl], hostIsolation: true }', '') });
    deployment.account.seedFromEvent(EC2_BRIDGE);
    deployment.account.faults.inject({ service: 'ec2', operation: 'ModifyNetworkInterfaceAttribute', error: 'throttle', times: 2 });
    const result = await respondToRuntimeFinding(EC2_BRIDGE, deployment.depsFor('runtimeFinding'));
    expect(result.actions.find((a) => a.action === 'isolate-task')).toMatchObject({ status: 'applied', mechanism: 'security-group' });
    const modify = deployment.account.callsTo('ec2', 'ModifyNetworkInterfaceAttribute');
    expect(modify.map((c) => c.errorCode ?? 'ok')).toEqual(['RequestLimitExceeded', 'RequestLimitExceeded', 'ok']);
    const host = hostInterface(deployment.account, taskArnOf(EC2_BRIDGE));
    expect(host.groupIds).toHaveLength(1);
    expect(deployment.account.ec2.securityGroups.get(host.groupIds[0]!)!.tags['responder:quarantine']).toBe('true');
  });

  it('a throttled CreateNetworkAclEntry is retried by the SDK and the deny is in place', async () => {
    await start();
    deployment.account.seedFromEvent(REVERSE_SHELL);
    const net = taskNetwork(deployment.account, REVERSE_SHELL_TASK);
    deployment.account.faults.inject({ service: 'ec2', operation: 'CreateNetworkAclEntry', error: 'throttle', times: 1 });
    const result = await respondToRuntimeFinding(REVERSE_SHELL, deployment.depsFor('runtimeFinding'));
    expect(result.actions.find((a) => a.mechanism === 'network-acl')).toMatchObject({ status: 'applied' });
    expect(deployment.account.callsTo('ec2', 'CreateNetworkAclEntry').map((c) => c.errorCode ?? 'ok')).toEqual(['RequestLimitExceeded', 'ok', 'ok']);
    expect(denyEntriesFor(deployment.account, net.subnetId, `${net.ip}/32`)).toHaveLength(2);
  });

  it('a persistent 5xx on CreateNetworkAclEntry: network-acl failed with the code, the stop-task step still runs', async () => {
    await start();
    deployment.account.seedFromEvent(REVERSE_SHELL);
    const net = taskNetwork(deployment.account, REVERSE_SHELL_TASK);
    deployment.account.faults.inject({ service: 'ec2', operation: 'CreateNetworkAclEntry', error: 'server', times: 100 });
    const result = await respondToRuntimeFinding(REVERSE_SHELL, deployment.depsFor('runtimeFinding'));
    const acl = result.actions.find((a) => a.mechanism === 'network-acl')!;
    expect(acl).toMatchObject({ status: 'failed', errorCode: 'InternalError' });
    // Ingress and egress are asked at once, each with the SDK's 3 attempts.
    expect(deployment.account.callsTo('ec2', 'CreateNetworkAclEntry').map((c) => c.input.Egress).sort()).toEqual([false, false, false, true, true, true]);
    expect(denyEntriesFor(deployment.account, net.subnetId, `${net.ip}/32`)).toEqual([]);
    expect(result.actions.find((a) => a.action === 'stop-task')).toMatchObject({ status: 'applied' });
    expect(deployment.account.ecs.tasks.get(REVERSE_SHELL_TASK)!.desiredStatus).toBe('STOPPED');
    expect(result.containment).toBe('contained (stop-task)');
    expect(await ledgerRecord(deployment.ledger, ledgerIdOf(REVERSE_SHELL), 'isolate-task:network-acl')).toMatchObject({ status: 'failed', errorCode: 'InternalError' });
    expect(notifications(deployment.account)[0]!.actions.find((a) => a.mechanism === 'network-acl')).toMatchObject({ status: 'failed', errorCode: 'InternalError' });
  });

  it('a persistent 5xx on CreateNetworkAclEntry: the ladder goes on to its stop-task rung', async () => {
    await start({ policy: containPolicy('{ fallback: [network-acl, stop-task] }', '') });
    deployment.account.seedFromEvent(REVERSE_SHELL);
    deployment.account.faults.inject({ service: 'ec2', operation: 'CreateNetworkAclEntry', error: 'server', times: 100 });
    const result = await respondToRuntimeFinding(REVERSE_SHELL, deployment.depsFor('runtimeFinding'));
    expect(result.actions.filter((a) => a.action === 'isolate-task').map((a) => `${a.mechanism}/${a.status}`)).toEqual([
      'security-group/unsupported',
      'network-acl/failed',
      'stop-task/applied',
    ]);
    expect(deployment.account.ecs.tasks.get(REVERSE_SHELL_TASK)!.desiredStatus).toBe('STOPPED');
    expect(result.containment).toBe('contained (stop-task)');
  });

  it('NACL quota exhausted (20 entries per direction): the deny is refused with NetworkAclEntryLimitExceeded and stop-task still runs', async () => {
    await start();
    deployment.account.seedFromEvent(REVERSE_SHELL);
    const net = taskNetwork(deployment.account, REVERSE_SHELL_TASK);
    const acl = aclOfSubnet(deployment.account, net.subnetId);
    for (const egress of [false, true]) {
      for (let n = 0; acl.entries.filter((e) => e.egress === egress).length < NETWORK_ACL_RULES_PER_DIRECTION; n++) {
        acl.entries.push({ ruleNumber: 200 + n, egress, protocol: '6', ruleAction: 'allow', cidrBlock: `10.${n}.0.0/16`, portRange: { from: 443, to: 443 } });
      }
    }
    const entriesBefore = structuredClone(acl.entries);
    const result = await respondToRuntimeFinding(REVERSE_SHELL, deployment.depsFor('runtimeFinding'));
    const deny = result.actions.find((a) => a.mechanism === 'network-acl')!;
    expect(deny.errorCode).toBe('NetworkAclEntryLimitExceeded');
    // A quota is a failure an operator can fix (raise it, or clean the ACL), not AWS refusing the mechanism.
    expect(deny.status).toBe('failed');
    expect(acl.entries).toEqual(entriesBefore);
    // A refusal is not retried: one call per direction (both are asked at once).
    expect(deployment.account.callsTo('ec2', 'CreateNetworkAclEntry').map((c) => c.input.Egress).sort()).toEqual([false, true]);
    expect(await ledgerRecord(deployment.ledger, ledgerIdOf(REVERSE_SHELL), 'isolate-task:network-acl')).toMatchObject({ errorCode: 'NetworkAclEntryLimitExceeded' });
    expect(deployment.account.ecs.tasks.get(REVERSE_SHELL_TASK)!.desiredStatus).toBe('STOPPED');
    expect(result.containment).toBe('contained (stop-task)');
  });
});

describe('a crash between the write-ahead and the change', () => {
  it('the redelivery after the lease expires keeps the ORIGINAL groups as before-state, not the quarantine group', async () => {
    let clock = new Date('2025-06-14T09:00:00Z');
    await start({ policy: containPolicy('{ fallback: [network-acl], hostIsolation: true }', ''), now: () => clock });
    deployment.account.seedFromEvent(EC2_BRIDGE);
    const host = hostInterface(deployment.account, taskArnOf(EC2_BRIDGE));
    const original = [...host.groupIds];
    const ledger = deployment.depsFor('runtimeFinding').ledger;

    // The Lambda dies right after ModifyNetworkInterfaceAttribute succeeded: the outcome is never recorded and the
    // claim is not abandoned (a timeout gives no chance to), so only the lease lets a retry in.
    const recordOutcome = ledger.recordOutcome.bind(ledger);
    const abandonClaim = ledger.abandonClaim.bind(ledger);
    ledger.recordOutcome = async (audit, step, outcome, target) => {
      if (step.startsWith('isolate-task')) throw new Error('Task timed out after 60.00 seconds');
      return recordOutcome(audit, step, outcome, target);
    };
    ledger.abandonClaim = async () => {};
    await expect(respondToRuntimeFinding(EC2_BRIDGE, deployment.depsFor('runtimeFinding'))).rejects.toThrow(/timed out/);
    ledger.recordOutcome = recordOutcome;
    ledger.abandonClaim = abandonClaim;

    const quarantineId = host.groupIds[0]!;
    expect(quarantineId).not.toBe(original[0]);
    expect(await ledgerRecord(ledger, ledgerIdOf(EC2_BRIDGE), 'isolate-task:security-group')).toMatchObject({ status: 'intent' });
    expect(await ledger.getClaim(ledgerIdOf(EC2_BRIDGE))).toMatchObject({ state: 'running' });

    // Within the lease: the delivery fails, so the platform retries it later rather than it being dropped.
    clock = new Date(clock.getTime() + 60_000);
    await expect(respondToRuntimeFinding(EC2_BRIDGE, deployment.depsFor('runtimeFinding'))).rejects.toThrow(ClaimBusyError);

    // After the lease: the retry takes the claim and finishes.
    clock = new Date(clock.getTime() + 120_000);
    const retry = await respondToRuntimeFinding(EC2_BRIDGE, deployment.depsFor('runtimeFinding'));
    expect(retry.actions.find((a) => a.action === 'isolate-task')).toMatchObject({ status: 'applied', mechanism: 'security-group' });
    const record = await ledgerRecord(ledger, ledgerIdOf(EC2_BRIDGE), 'isolate-task:security-group');
    expect(record).toMatchObject({ status: 'applied' });
    expect((record!.beforeState as { groups: string[] }).groups).toEqual(original);
    expect(host.groupIds).toEqual([quarantineId]);
    expect(host.tags[ORIGINAL_GROUPS_TAG]).toBe(original.join(','));
    expect(await ledger.getClaim(ledgerIdOf(EC2_BRIDGE))).toMatchObject({ state: 'done', deliveries: 3 });
  });

  it('a NACL deny half-made (ingress in place, then a crash) is completed under the same rule numbers on redelivery', async () => {
    await start({ policy: containPolicy('{ fallback: [network-acl] }', '') });
    deployment.account.seedFromEvent(REVERSE_SHELL);
    const net = taskNetwork(deployment.account, REVERSE_SHELL_TASK);
    const ledger = deployment.depsFor('runtimeFinding').ledger;
    // The egress entry fails (5xx through every SDK attempt) and the ledger cannot record it either: the invocation
    // fails with the ingress entry made and the write-ahead intent stored.
    deployment.account.faults.inject({ service: 'ec2', operation: 'CreateNetworkAclEntry', error: 'server', afterCalls: 1, times: 3 });
    const recordOutcome = ledger.recordOutcome.bind(ledger);
    ledger.recordOutcome = async (audit, step, outcome, target) => {
      if (step === 'isolate-task:network-acl' || step === 'isolate-task') throw new Error('ProvisionedThroughputExceededException (simulated)');
      return recordOutcome(audit, step, outcome, target);
    };
    await expect(respondToRuntimeFinding(REVERSE_SHELL, deployment.depsFor('runtimeFinding'))).rejects.toThrow(/ProvisionedThroughputExceeded/);
    ledger.recordOutcome = recordOutcome;
    expect(denyEntriesFor(deployment.account, net.subnetId, `${net.ip}/32`).map((e) => [e.egress, e.ruleNumber])).toEqual([[false, 1]]);
    expect(await ledgerRecord(ledger, ledgerIdOf(REVERSE_SHELL), 'isolate-task:network-acl')).toMatchObject({ status: 'intent', beforeState: { ingressRule: 1, egressRule: 1 } });

    // Lambda's retry: the pipeline abandoned the claim, so the redelivery takes it at once.
    const retry = await respondToRuntimeFinding(REVERSE_SHELL, deployment.depsFor('runtimeFinding'));
    expect(retry.actions.find((a) => a.mechanism === 'network-acl')).toMatchObject({ status: 'applied' });
    // Not a second ingress entry at rule 2: the write-ahead plan (rule 1 both ways) is reused and rule 1 recognised as ours.
    expect(denyEntriesFor(deployment.account, net.subnetId, `${net.ip}/32`).map((e) => [e.egress, e.ruleNumber])).toEqual([
      [false, 1],
      [true, 1],
    ]);
    const record = await ledgerRecord(ledger, ledgerIdOf(REVERSE_SHELL), 'isolate-task:network-acl');
    expect(record).toMatchObject({ status: 'applied', beforeState: { ingressRule: 1, egressRule: 1, cidr: `${net.ip}/32` } });
    expect(await ledger.getClaim(ledgerIdOf(REVERSE_SHELL))).toMatchObject({ state: 'done', deliveries: 2 });
  });
});

describe('taskStopped: releasing the NACL deny of a stopped task', () => {
  it('removes the deny entries and marks the ledger record released', async () => {
    await start();
    deployment.account.seedFromEvent(REVERSE_SHELL);
    const net = taskNetwork(deployment.account, REVERSE_SHELL_TASK);
    deployment.account.drainEvents();
    await respondToRuntimeFinding(REVERSE_SHELL, deployment.depsFor('runtimeFinding'));
    expect(denyEntriesFor(deployment.account, net.subnetId, `${net.ip}/32`)).toHaveLength(2);

    deployment.account.ecs.settle(); // the stop runs its lifecycle to STOPPED
    const stopped = deployment.account.drainEvents().find((e) => e.detail.taskArn === REVERSE_SHELL_TASK && e.detail.lastStatus === 'STOPPED');
    expect(stopped).toBeDefined();
    const result = await cleanUpStoppedTask(stopped, deployment.depsFor('taskStopped'));
    expect(result.actions).toMatchObject([{ action: 'release', status: 'applied', mechanism: 'network-acl', target: `task:${REVERSE_SHELL_TASK}` }]);
    expect(denyEntriesFor(deployment.account, net.subnetId, `${net.ip}/32`)).toEqual([]);
    // The VPC's allow rules are untouched.
    expect(aclOfSubnet(deployment.account, net.subnetId).entries.map((e) => [e.ruleNumber, e.egress, e.ruleAction])).toEqual([
      [100, false, 'allow'],
      [100, true, 'allow'],
    ]);
    const record = await ledgerRecord(deployment.ledger, ledgerIdOf(REVERSE_SHELL), 'isolate-task:network-acl');
    expect(record).toMatchObject({ status: 'released', releasedBy: 'automation', releaseReason: 'task stopped' });

    // A second delivery of the same state change removes nothing more.
    const calls = deployment.account.calls.length;
    const again = await cleanUpStoppedTask(stopped, deployment.depsFor('taskStopped'));
    expect(again.ignored).toBe('the responder holds no network-ACL entry for this task');
    expect(mutatingCalls(deployment.account, calls)).toEqual([]);
  });

  it('leaves an entry whose rule number someone else reused', async () => {
    await start();
    deployment.account.seedFromEvent(REVERSE_SHELL);
    const net = taskNetwork(deployment.account, REVERSE_SHELL_TASK);
    deployment.account.drainEvents();
    await respondToRuntimeFinding(REVERSE_SHELL, deployment.depsFor('runtimeFinding'));
    const acl = aclOfSubnet(deployment.account, net.subnetId);
    const ingress = acl.entries.find((e) => e.ruleNumber === 1 && !e.egress)!;
    ingress.cidrBlock = '203.0.113.7/32';
    deployment.account.ecs.settle(); // the stop runs its lifecycle to STOPPED
    const stopped = deployment.account.drainEvents().find((e) => e.detail.taskArn === REVERSE_SHELL_TASK && e.detail.lastStatus === 'STOPPED');
    await cleanUpStoppedTask(stopped, deployment.depsFor('taskStopped'));
    expect(acl.entries.filter((e) => e.ruleAction === 'deny').map((e) => [e.ruleNumber, e.egress, e.cidrBlock])).toEqual([[1, false, '203.0.113.7/32']]);
  });

  it('ignores a task that is not STOPPED and malformed state changes', async () => {
    await start();
    const running = { source: 'aws.ecs', 'detail-type': 'ECS Task State Change', detail: { taskArn: REVERSE_SHELL_TASK, clusterArn: 'arn:aws:ecs:us-east-1:111122223333:cluster/prod-cluster', lastStatus: 'RUNNING' } };
    expect((await cleanUpStoppedTask(running, deployment.depsFor('taskStopped'))).ignored).toBe('task is RUNNING, not STOPPED');
    const malformed = { ...running, detail: { lastStatus: 'STOPPED' } };
    expect((await cleanUpStoppedTask(malformed, deployment.depsFor('taskStopped'))).error).toMatch(/^detail\.taskArn: /);
    expect(deployment.account.calls).toEqual([]);
  });
});
