import { afterEach, describe, expect, it } from 'vitest';
import { CreateSecurityGroupCommand } from '@aws-sdk/client-ec2';
import { networkAclForSubnet } from '../shared/aws/network-acl';
import {
  QUARANTINE_TAG,
  quarantineGroupName,
  quarantineSecurityGroup,
  QuarantineGroupNotEmpty,
  type ConsistencyRetry,
} from '../shared/aws/quarantine-security-group';
import { respondToRuntimeFinding } from '../shared/pipeline';
import { SimulatedAccount } from '../sim/account';
import type { SimulatedDeployment } from '../sim/deployment';
import { aclOfSubnet, loadEvent, policyFrom, startDeployment } from './helpers/deployment';

/** No real waiting: the simulated window is counted in calls, not time. */
const noWait: ConsistencyRetry = { attempts: 5, firstDelayMs: 0, sleep: () => Promise.resolve() };
const ALL_EGRESS = { ipProtocol: '-1', cidrIp: '0.0.0.0/0' };

function vpcWithClients() {
  const account = new SimulatedAccount();
  const vpc = account.addVpc({ name: 'app' });
  return { account, vpc, clients: account.clients() };
}

function callCodes(account: SimulatedAccount, operation: string) {
  return account.callsTo('ec2', operation).map((c) => c.errorCode ?? 'ok');
}

describe('quarantineSecurityGroup: created idempotently, verified empty before every use', () => {
  it('waits out the consistency window after CreateSecurityGroup and returns an empty group', async () => {
    const { account, vpc, clients } = vpcWithClients();
    const group = await quarantineSecurityGroup(clients, vpc.vpcId, {}, noWait);
    expect(group).toMatchObject({ created: true, repaired: [] });
    const state = account.ec2.securityGroups.get(group.groupId)!;
    expect(state).toMatchObject({ groupName: quarantineGroupName(vpc.vpcId), ingress: [], egress: [], tags: { [QUARANTINE_TAG]: 'true' } });
    expect(callCodes(account, 'DescribeSecurityGroups').slice(1, 3)).toEqual(['InvalidGroup.NotFound', 'InvalidGroup.NotFound']);
  });

  it('gives up after its bounded attempts when the group never becomes visible', async () => {
    const { account, vpc, clients } = vpcWithClients();
    account.ec2.newSecurityGroupUnseenCalls = 100;
    const error = await quarantineSecurityGroup(clients, vpc.vpcId, {}, noWait).catch((e: Error) => e);
    expect((error as Error).name).toBe('InvalidGroup.NotFound');
    expect(callCodes(account, 'DescribeSecurityGroups').filter((c) => c === 'InvalidGroup.NotFound')).toHaveLength(noWait.attempts);
  });

  it('a crash after CreateSecurityGroup (group left with allow-all egress): the next use revokes it first', async () => {
    const { account, vpc, clients } = vpcWithClients();
    await clients.ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: quarantineGroupName(vpc.vpcId),
        Description: 'crashed before the revoke',
        VpcId: vpc.vpcId,
        TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: QUARANTINE_TAG, Value: 'true' }] }],
      }),
    );
    const group = await quarantineSecurityGroup(clients, vpc.vpcId, {}, noWait);
    expect(group).toMatchObject({ created: false, repaired: ['egress all 0.0.0.0/0'] });
    expect(account.ec2.securityGroups.get(group.groupId)!.egress).toEqual([]);
    expect(account.callsTo('ec2', 'CreateSecurityGroup')).toHaveLength(1);
  });

  it('a tagged group someone gave an ingress rule is emptied before use', async () => {
    const { account, vpc, clients } = vpcWithClients();
    const tagged = account.addSecurityGroup({ name: 'q', vpcId: vpc.vpcId, tags: { [QUARANTINE_TAG]: 'true' }, egress: [], ingress: [{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, cidrIp: '203.0.113.0/24' }] });
    const group = await quarantineSecurityGroup(clients, vpc.vpcId, {}, noWait);
    expect(group).toEqual({ groupId: tagged.groupId, created: false, repaired: ['ingress tcp 22-22 203.0.113.0/24'] });
    expect(tagged.ingress).toEqual([]);
  });

  it('a group that cannot be emptied is not used', async () => {
    const { account, vpc, clients } = vpcWithClients();
    account.addSecurityGroup({ name: 'q', vpcId: vpc.vpcId, tags: { [QUARANTINE_TAG]: 'true' }, egress: [ALL_EGRESS] });
    account.faults.inject({ service: 'ec2', operation: 'RevokeSecurityGroupEgress', error: { code: 'UnauthorizedOperation', status: 403 }, times: 1 });
    const error = await quarantineSecurityGroup(clients, vpc.vpcId, {}, noWait).catch((e: Error) => e);
    expect(error).toBeInstanceOf(QuarantineGroupNotEmpty);
    expect((error as Error).message).toMatch(/egress all 0\.0\.0\.0\/0.*UnauthorizedOperation/);
  });

  it('InvalidGroup.Duplicate (the group exists under its fixed name, untagged): finds it and verifies it', async () => {
    const { account, vpc, clients } = vpcWithClients();
    const existing = account.addSecurityGroup({ name: quarantineGroupName(vpc.vpcId), vpcId: vpc.vpcId, egress: [ALL_EGRESS] });
    const group = await quarantineSecurityGroup(clients, vpc.vpcId, {}, noWait);
    expect(group).toMatchObject({ groupId: existing.groupId, created: false });
    expect(existing.egress).toEqual([]);
    expect(callCodes(account, 'CreateSecurityGroup')).toEqual(['InvalidGroup.Duplicate']);
  });

  it("a configured group with rules is left alone and not used; an empty one is used as is", async () => {
    const { account, vpc, clients } = vpcWithClients();
    const open = account.addSecurityGroup({ name: 'operator-open', vpcId: vpc.vpcId, egress: [ALL_EGRESS] });
    const error = await quarantineSecurityGroup(clients, vpc.vpcId, { [vpc.vpcId]: open.groupId }, noWait).catch((e: Error) => e);
    expect(error).toBeInstanceOf(QuarantineGroupNotEmpty);
    expect(open.egress).toEqual([ALL_EGRESS]);
    const empty = account.addSecurityGroup({ name: 'operator-empty', vpcId: vpc.vpcId, egress: [] });
    expect(await quarantineSecurityGroup(clients, vpc.vpcId, { [vpc.vpcId]: empty.groupId }, noWait)).toEqual({ groupId: empty.groupId, created: false, repaired: [] });
  });

  it('pages past other groups to find the tagged one', async () => {
    const { account, vpc, clients } = vpcWithClients();
    for (let n = 0; n < 1000; n++) account.addSecurityGroup({ name: `other-${n}`, vpcId: vpc.vpcId, egress: [] });
    const tagged = account.addSecurityGroup({ name: 'q', vpcId: vpc.vpcId, tags: { [QUARANTINE_TAG]: 'true' }, egress: [] });
    expect((await quarantineSecurityGroup(clients, vpc.vpcId, {}, noWait)).groupId).toBe(tagged.groupId);
    expect(account.callsTo('ec2', 'DescribeSecurityGroups').filter((c) => !c.input.GroupIds)).toHaveLength(2);
  });
});

describe('networkAclForSubnet pages', () => {
  it('finds the ACL of a subnet beyond the first page', async () => {
    const account = new SimulatedAccount();
    for (let n = 0; n < 100; n++) account.addVpc({ name: `vpc-${n}`, cidrBlock: `10.${n}.0.0/16` });
    const subnet = account.addSubnet({ vpcId: account.addVpc({ name: 'last', cidrBlock: '10.200.0.0/16' }).vpcId });
    const acl = await networkAclForSubnet(account.clients(), subnet.subnetId);
    expect(acl?.NetworkAclId).toBe(aclOfSubnet(account, subnet.subnetId).networkAclId);
    expect(account.callsTo('ec2', 'DescribeNetworkAcls')).toHaveLength(2);
  });
});

describe('isolate-task through the pipeline: the quarantine group on an EC2 (bridge) host', () => {
  const EC2_BRIDGE = loadEvent('gd-ecs-ec2-bridge-reverse-shell.json');
  const policy = policyFrom(`
version: 1
rules:
  - name: contain
    match: { severity: [HIGH, CRITICAL] }
    actions:
      - isolate-task: { fallback: [network-acl], hostIsolation: true }
`);
  let deployment: SimulatedDeployment;
  afterEach(async () => deployment?.close());

  async function respond() {
    return respondToRuntimeFinding(EC2_BRIDGE, deployment.depsFor('runtimeFinding'));
  }

  function hostOf(account: SimulatedAccount) {
    const task = account.ecs.tasks.get(EC2_BRIDGE.detail.resource.ecsClusterDetails.taskDetails.arn)!;
    const instance = account.ec2.instances.get(account.ecs.containerInstances.get(task.containerInstanceArn!)!.ec2InstanceId)!;
    return account.ec2.networkInterfaces.get(instance.primaryNetworkInterfaceId)!;
  }

  it('hits the consistency window on first use and still contains, through an empty group', async () => {
    deployment = await startDeployment({ policy });
    deployment.account.seedFromEvent(EC2_BRIDGE);
    const result = await respond();
    expect(result.containment).toBe('contained (security-group)');
    const group = deployment.account.ec2.securityGroups.get(hostOf(deployment.account).groupIds[0]!)!;
    expect(group).toMatchObject({ ingress: [], egress: [], tags: { [QUARANTINE_TAG]: 'true' } });
    expect(deployment.account.calls.some((c) => c.errorCode === 'InvalidGroup.NotFound')).toBe(true);
  });

  it('a tagged group with rules that cannot be revoked is not used: the outcome says so and the NACL rung contains', async () => {
    deployment = await startDeployment({ policy });
    deployment.account.seedFromEvent(EC2_BRIDGE);
    const host = hostOf(deployment.account);
    const original = [...host.groupIds];
    const open = deployment.account.addSecurityGroup({ name: 'q', vpcId: host.vpcId, tags: { [QUARANTINE_TAG]: 'true' }, egress: [ALL_EGRESS] });
    deployment.account.faults.inject({ service: 'ec2', operation: 'RevokeSecurityGroupEgress', error: { code: 'UnauthorizedOperation', status: 403 }, times: 1 });
    const result = await respond();
    const swap = result.actions.find((a) => a.mechanism === 'security-group')!;
    expect(swap).toMatchObject({ status: 'failed', errorCode: 'QuarantineGroupNotEmpty' });
    expect(swap.detail).toMatch(new RegExp(`not used: quarantine group ${open.groupId} has rules`));
    expect(host.groupIds).toEqual(original);
    expect(result.actions.find((a) => a.mechanism === 'network-acl')).toMatchObject({ status: 'applied' });
    expect(result.containment).toBe('contained (network-acl)');
  });
});
