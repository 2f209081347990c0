import { describe, it, expect } from 'vitest';
import {
  CreateNetworkAclEntryCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DeleteNetworkAclEntryCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  DescribeNetworkAclsCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  ModifyNetworkInterfaceAttributeCommand,
  RevokeSecurityGroupEgressCommand,
} from '@aws-sdk/client-ec2';
import { SimulatedAccount } from '../sim/account';

function fargateTask() {
  const account = new SimulatedAccount();
  const definition = account.registerTaskDefinition({ family: 'web', revision: 1, networkMode: 'awsvpc', containers: [{ name: 'web', image: 'nginx:1.27' }] });
  const task = account.runTask({ cluster: 'prod', service: 'web', taskDefinitionArn: definition.taskDefinitionArn, launchType: 'FARGATE', containers: [{ name: 'web', image: 'nginx:1.27' }] });
  const quarantine = account.addSecurityGroup({ name: 'quarantine', egress: [] });
  return { account, task, quarantine, ec2: account.clients().ec2 };
}

async function errorOf(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

describe('simulated EC2: security-group swap', () => {
  it('refuses to modify an ECS-managed (requester-managed) task interface', async () => {
    const { account, task, quarantine, ec2 } = fargateTask();
    const eniId = task.eni!.networkInterfaceId;
    const described = await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] }));
    const eni = described.NetworkInterfaces![0]!;
    expect(eni.RequesterManaged).toBe(true);
    expect(eni.Description).toMatch(/^arn:aws:ecs:us-east-1:111122223333:attachment\/[0-9a-f-]{36}$/);
    expect(eni.TagSet).toContainEqual({ Key: 'aws:ecs:clusterName', Value: 'prod' });

    const error = await errorOf(ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId, Groups: [quarantine.groupId] })));
    expect(error.name).toBe('OperationNotPermitted');
    expect(error.$metadata?.httpStatusCode).toBe(400);
    expect(account.ec2.networkInterfaces.get(eniId)!.groupIds).not.toContain(quarantine.groupId);
    expect(account.callsTo('ec2', 'ModifyNetworkInterfaceAttribute')).toHaveLength(1); // a refusal is not retried
  });

  it('lets tests choose the refusal code AWS has not documented', async () => {
    const { account, task, quarantine, ec2 } = fargateTask();
    account.ec2.requesterManagedRefusal = { code: 'UnauthorizedOperation', status: 403 };
    const error = await errorOf(ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: task.eni!.networkInterfaceId, Groups: [quarantine.groupId] })));
    expect(error.name).toBe('UnauthorizedOperation');
  });

  it('swaps the groups of a container instance interface the account owns', async () => {
    const account = new SimulatedAccount();
    const containerInstance = account.addContainerInstance({ cluster: 'prod' });
    const quarantine = account.addSecurityGroup({ name: 'quarantine' });
    const { ec2 } = account.clients();
    const before = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [containerInstance.ec2InstanceId] }));
    const instance = before.Reservations![0]!.Instances![0]!;
    const eniId = instance.NetworkInterfaces![0]!.NetworkInterfaceId!;
    expect(account.ec2.networkInterfaces.get(eniId)!.requesterManaged).toBe(false);

    await ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId, Groups: [quarantine.groupId] }));

    expect(account.ec2.networkInterfaces.get(eniId)!.groupIds).toEqual([quarantine.groupId]);
    const after = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [containerInstance.ec2InstanceId] }));
    expect(after.Reservations![0]!.Instances![0]!.SecurityGroups).toEqual([{ GroupId: quarantine.groupId, GroupName: 'quarantine' }]);
  });

  it('validates groups: unknown, another VPC, more than five, unknown interface', async () => {
    const account = new SimulatedAccount();
    const instance = account.ec2.addInstance({ name: 'ci-1' });
    const otherVpc = account.addVpc({ name: 'other', cidrBlock: '10.9.0.0/16' });
    const foreign = account.addSecurityGroup({ name: 'foreign', vpcId: otherVpc.vpcId });
    const groups = [1, 2, 3, 4, 5, 6].map((n) => account.addSecurityGroup({ name: `g${n}` }).groupId);
    const { ec2 } = account.clients();
    const eniId = instance.primaryNetworkInterfaceId;
    expect((await errorOf(ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId, Groups: ['sg-0000000000000000'] })))).name).toBe('InvalidGroup.NotFound');
    expect((await errorOf(ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId, Groups: [foreign.groupId] })))).name).toBe('InvalidGroup.NotFound');
    expect((await errorOf(ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId, Groups: groups })))).name).toBe('SecurityGroupsPerInterfaceLimitExceeded');
    expect((await errorOf(ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: 'eni-0missing', Groups: [groups[0]!] })))).name).toBe('InvalidNetworkInterfaceID.NotFound');
    await ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId, Groups: groups.slice(0, 5) }));
    expect(account.ec2.networkInterfaces.get(eniId)!.groupIds).toHaveLength(5);
  });

  it('finds interfaces by private IP and VPC', async () => {
    const { account, task, ec2 } = fargateTask();
    const out = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [
          { Name: 'addresses.private-ip-address', Values: [task.eni!.privateIpAddress] },
          { Name: 'vpc-id', Values: [account.ec2.defaultNetwork().vpc.vpcId] },
        ],
      }),
    );
    expect(out.NetworkInterfaces!.map((e) => e.NetworkInterfaceId)).toEqual([task.eni!.networkInterfaceId]);
    expect((await errorOf(ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'no-such-filter', Values: ['x'] }] })))).name).toBe('InvalidParameterValue');
  });
});

describe('simulated EC2: tags', () => {
  it('allows tagging a requester-managed interface; DeleteTags with a value deletes only on a match', async () => {
    const { account, task, ec2 } = fargateTask();
    const eniId = task.eni!.networkInterfaceId;
    await ec2.send(new CreateTagsCommand({ Resources: [eniId], Tags: [{ Key: 'incident', Value: 'f-1' }, { Key: 'stage', Value: 'isolated' }] }));
    expect(account.ec2.networkInterfaces.get(eniId)!.tags).toMatchObject({ incident: 'f-1', stage: 'isolated' });

    await ec2.send(new DeleteTagsCommand({ Resources: [eniId], Tags: [{ Key: 'incident', Value: 'other' }, { Key: 'stage', Value: 'isolated' }] }));
    expect(account.ec2.networkInterfaces.get(eniId)!.tags).toMatchObject({ incident: 'f-1' });
    expect(account.ec2.networkInterfaces.get(eniId)!.tags.stage).toBeUndefined();

    await ec2.send(new DeleteTagsCommand({ Resources: [eniId], Tags: [{ Key: 'incident' }] }));
    expect(account.ec2.networkInterfaces.get(eniId)!.tags).toEqual({ 'aws:ecs:clusterName': 'prod', 'aws:ecs:serviceName': 'web' });
  });
});

describe('simulated EC2: security groups', () => {
  it('creates a group with the default egress rule and no ingress; refuses duplicates; revokes egress', async () => {
    const account = new SimulatedAccount();
    const vpc = account.addVpc({ name: 'main' });
    const { ec2 } = account.clients();
    const created = await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: 'quarantine',
        Description: 'deny all',
        VpcId: vpc.vpcId,
        TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: 'purpose', Value: 'quarantine' }] }],
      }),
    );
    const found = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.vpcId] }, { Name: 'tag:purpose', Values: ['quarantine'] }] }));
    const group = found.SecurityGroups![0]!;
    expect(group.GroupId).toBe(created.GroupId);
    expect(group.IpPermissions).toEqual([]);
    expect(group.IpPermissionsEgress).toEqual([expect.objectContaining({ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] })]);

    expect((await errorOf(ec2.send(new CreateSecurityGroupCommand({ GroupName: 'quarantine', Description: 'again', VpcId: vpc.vpcId })))).name).toBe('InvalidGroup.Duplicate');

    await ec2.send(new RevokeSecurityGroupEgressCommand({ GroupId: created.GroupId, IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }));
    expect(account.ec2.securityGroups.get(created.GroupId!)!.egress).toEqual([]);
    const byName = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['quarantine'] }] }));
    expect(byName.SecurityGroups![0]!.IpPermissionsEgress).toEqual([]);
    // A rule that does not exist is reported back, not an error (API_RevokeSecurityGroupEgress).
    const again = await ec2.send(new RevokeSecurityGroupEgressCommand({ GroupId: created.GroupId, IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }));
    expect(again.UnknownIpPermissions).toHaveLength(1);
  });
});

describe('simulated EC2: network ACLs', () => {
  it('gives each subnet the default NACL: rule 100 allow both ways plus the implicit deny', async () => {
    const account = new SimulatedAccount();
    const subnet = account.addSubnet();
    const { ec2 } = account.clients();
    const out = await ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'association.subnet-id', Values: [subnet.subnetId] }] }));
    const acl = out.NetworkAcls![0]!;
    expect(acl.IsDefault).toBe(true);
    expect(acl.Entries!.map((e) => [e.Egress, e.RuleNumber, e.RuleAction])).toEqual([
      [false, 100, 'allow'],
      [false, 32767, 'deny'],
      [true, 100, 'allow'],
      [true, 32767, 'deny'],
    ]);
    expect((await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnet.subnetId] }))).Subnets![0]!.VpcId).toBe(subnet.vpcId);
  });

  it('refuses duplicate rule numbers, numbers out of range and the 21st rule in a direction', async () => {
    const account = new SimulatedAccount();
    const subnet = account.addSubnet();
    const aclId = account.ec2.vpcs.get(subnet.vpcId)!.defaultNetworkAclId;
    const { ec2 } = account.clients();
    const deny = (ruleNumber: number, egress = false) =>
      ec2.send(new CreateNetworkAclEntryCommand({ NetworkAclId: aclId, RuleNumber: ruleNumber, Egress: egress, Protocol: '-1', RuleAction: 'deny', CidrBlock: '10.0.1.10/32' }));

    await deny(1);
    expect((await errorOf(deny(1))).name).toBe('NetworkAclEntryAlreadyExists');
    await deny(1, true); // the same number in the other direction is a different rule
    expect((await errorOf(deny(0))).name).toBe('InvalidParameterValue');
    expect((await errorOf(deny(32767))).name).toBe('InvalidParameterValue');

    // 20 rules per direction: rule 100 + rule 1 + 18 more fills ingress.
    for (let n = 2; n <= 19; n++) await deny(n);
    expect(account.ec2.networkAcls.get(aclId)!.entries.filter((e) => !e.egress)).toHaveLength(20);
    const limit = await errorOf(deny(20));
    expect(limit.name).toBe('NetworkAclEntryLimitExceeded');
    expect(account.callsTo('ec2', 'CreateNetworkAclEntry').at(-1)).toMatchObject({ ok: false, errorCode: 'NetworkAclEntryLimitExceeded' });

    await ec2.send(new DeleteNetworkAclEntryCommand({ NetworkAclId: aclId, RuleNumber: 1, Egress: false }));
    expect((await errorOf(ec2.send(new DeleteNetworkAclEntryCommand({ NetworkAclId: aclId, RuleNumber: 1, Egress: false })))).name).toBe('InvalidNetworkAclEntry.NotFound');
    await deny(20);
  });
});
