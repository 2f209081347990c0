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

    const allEgress = { GroupId: created.GroupId, IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] };
    // The consistency window: the first calls naming the new group do not find it yet.
    expect((await errorOf(ec2.send(new RevokeSecurityGroupEgressCommand(allEgress)))).name).toBe('InvalidGroup.NotFound');
    expect((await errorOf(ec2.send(new RevokeSecurityGroupEgressCommand(allEgress)))).name).toBe('InvalidGroup.NotFound');
    await ec2.send(new RevokeSecurityGroupEgressCommand(allEgress));
    expect(account.ec2.securityGroups.get(created.GroupId!)!.egress).toEqual([]);
    const byName = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['quarantine'] }] }));
    expect(byName.SecurityGroups![0]!.IpPermissionsEgress).toEqual([]);
    // Outside a default VPC, revoking a rule that does not exist is an error (API_RevokeSecurityGroupEgress).
    expect((await errorOf(ec2.send(new RevokeSecurityGroupEgressCommand(allEgress)))).name).toBe('InvalidPermission.NotFound');
  });

  it('in a default VPC, revoking a rule that does not exist is reported back, not an error', async () => {
    const account = new SimulatedAccount();
    const vpc = account.ec2.addVpc({ name: 'default', isDefault: true });
    const group = account.addSecurityGroup({ name: 'open', vpcId: vpc.vpcId, egress: [] });
    const { ec2 } = account.clients();
    const out = await ec2.send(new RevokeSecurityGroupEgressCommand({ GroupId: group.groupId, IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }));
    expect(out.UnknownIpPermissions).toHaveLength(1);
  });

  it('a new group stays unseen for the next calls naming it (revoke, describe by id, tag, modify interface), whichever they are', async () => {
    const account = new SimulatedAccount();
    const instance = account.ec2.addInstance({ name: 'ci-1' });
    const { ec2 } = account.clients();
    const create = (name: string) => ec2.send(new CreateSecurityGroupCommand({ GroupName: name, Description: name, VpcId: instance.vpcId }));
    const { GroupId: groupId } = await create('fresh');
    expect((await errorOf(ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId!] })))).name).toBe('InvalidGroup.NotFound');
    expect((await errorOf(ec2.send(new CreateTagsCommand({ Resources: [groupId!], Tags: [{ Key: 'k', Value: 'v' }] })))).name).toBe('InvalidGroup.NotFound');
    await ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: instance.primaryNetworkInterfaceId, Groups: [groupId!] }));
    expect(account.ec2.networkInterfaces.get(instance.primaryNetworkInterfaceId)!.groupIds).toEqual([groupId]);
    // A filter does not name the id: the group is listed.
    expect((await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['fresh'] }] }))).SecurityGroups).toHaveLength(1);

    account.ec2.newSecurityGroupUnseenCalls = 0;
    const { GroupId: seenAtOnce } = await create('seen-at-once');
    expect((await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [seenAtOnce!] }))).SecurityGroups).toHaveLength(1);
  });
});

describe('simulated EC2: ModifyNetworkInterfaceAttribute', () => {
  it('takes exactly one attribute per call', async () => {
    const account = new SimulatedAccount();
    const instance = account.ec2.addInstance({ name: 'ci-1' });
    const quarantine = account.addSecurityGroup({ name: 'quarantine', egress: [] });
    const { ec2 } = account.clients();
    const eniId = instance.primaryNetworkInterfaceId;
    const both = await errorOf(ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId, Groups: [quarantine.groupId], Description: { Value: 'x' } })));
    expect(both.name).toBe('InvalidParameterCombination');
    expect(both.message).toBe('Fields for multiple attribute types specified: Groups, Description');
    expect(account.ec2.networkInterfaces.get(eniId)!.groupIds).not.toContain(quarantine.groupId);
    expect((await errorOf(ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId }))))).toMatchObject({ name: 'InvalidParameterCombination', message: 'No attributes specified.' });
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

    // 20 IPv4 rules per direction counting the default deny (32767): rule 100 + rule 1 + 17 more fill ingress.
    for (let n = 2; n <= 18; n++) await deny(n);
    expect(account.ec2.networkAcls.get(aclId)!.entries.filter((e) => !e.egress)).toHaveLength(19);
    const limit = await errorOf(deny(19));
    expect(limit.name).toBe('NetworkAclEntryLimitExceeded');
    expect(account.callsTo('ec2', 'CreateNetworkAclEntry').at(-1)).toMatchObject({ ok: false, errorCode: 'NetworkAclEntryLimitExceeded' });

    await ec2.send(new DeleteNetworkAclEntryCommand({ NetworkAclId: aclId, RuleNumber: 1, Egress: false }));
    expect((await errorOf(ec2.send(new DeleteNetworkAclEntryCommand({ NetworkAclId: aclId, RuleNumber: 1, Egress: false })))).name).toBe('InvalidNetworkAclEntry.NotFound');
    await deny(19);
    // IPv6 rules have a quota of their own.
    await ec2.send(new CreateNetworkAclEntryCommand({ NetworkAclId: aclId, RuleNumber: 20, Egress: false, Protocol: '-1', RuleAction: 'deny', Ipv6CidrBlock: '2001:db8::/64' }));
  });

  it('requires Protocol, Egress, RuleAction and RuleNumber; validates the CIDR and stores its canonical form', async () => {
    const account = new SimulatedAccount();
    const subnet = account.addSubnet();
    const aclId = account.ec2.vpcs.get(subnet.vpcId)!.defaultNetworkAclId;
    const { ec2 } = account.clients();
    const entry = { NetworkAclId: aclId, RuleNumber: 1, Egress: false, Protocol: '-1', RuleAction: 'deny' as const, CidrBlock: '10.0.1.10/32' };
    for (const field of ['Protocol', 'Egress', 'RuleAction', 'RuleNumber'] as const) {
      const error = await errorOf(ec2.send(new CreateNetworkAclEntryCommand({ ...entry, [field]: undefined })));
      expect(error.name, field).toBe('MissingParameter');
    }
    for (const CidrBlock of ['not-a-cidr', '10.0.1.300/32', '10.0.1.0/33', '10.0.1.0']) {
      expect((await errorOf(ec2.send(new CreateNetworkAclEntryCommand({ ...entry, CidrBlock })))).name, CidrBlock).toBe('InvalidParameterValue');
    }
    await ec2.send(new CreateNetworkAclEntryCommand({ ...entry, CidrBlock: '10.0.1.77/24' }));
    await ec2.send(new CreateNetworkAclEntryCommand({ ...entry, RuleNumber: 2, CidrBlock: undefined, Ipv6CidrBlock: '2001:DB8:0:0:1::1/64' }));
    const stored = account.ec2.networkAcls.get(aclId)!.entries.filter((e) => e.ruleNumber <= 2);
    expect(stored.map((e) => e.cidrBlock ?? e.ipv6CidrBlock)).toEqual(['10.0.1.0/24', '2001:db8::/64']);
  });
});

describe('simulated EC2: Describe filters and pages', () => {
  it('answers an AWS filter it does not model as a simulator gap, and an unknown filter as AWS does', async () => {
    const account = new SimulatedAccount();
    const subnet = account.addSubnet({ name: 'app-a' });
    const { ec2 } = account.clients();
    const byName = await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'tag:Name', Values: ['app-*'] }] }));
    expect(byName.Subnets!.map((s) => s.SubnetId)).toEqual([subnet.subnetId]);
    expect((await errorOf(ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'availability-zone-id', Values: ['use1-az1'] }] })))).name).toBe('NotModelledBySimulator');
    expect((await errorOf(ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'network-interface.mac-address', Values: ['x'] }] })))).name).toBe('NotModelledBySimulator');
    expect((await errorOf(ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'no-such-filter', Values: ['x'] }] })))).name).toBe('InvalidParameterValue');
    // Checked even when nothing is there to filter.
    expect((await errorOf(ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'no-such-filter', Values: ['x'] }] })))).name).toBe('InvalidParameterValue');
  });

  it('pages with MaxResults and NextToken within AWS bounds; without MaxResults returns everything', async () => {
    const account = new SimulatedAccount();
    const vpcs = Array.from({ length: 12 }, (_, n) => account.addVpc({ name: `vpc-${n}`, cidrBlock: `10.${n}.0.0/16` }));
    const { ec2 } = account.clients();
    expect((await ec2.send(new DescribeNetworkAclsCommand({}))).NetworkAcls).toHaveLength(12);

    const seen: string[] = [];
    let NextToken: string | undefined;
    let pages = 0;
    do {
      const page = await ec2.send(new DescribeNetworkAclsCommand({ MaxResults: 5, NextToken }));
      seen.push(...page.NetworkAcls!.map((acl) => acl.VpcId!));
      NextToken = page.NextToken;
      pages++;
    } while (NextToken);
    expect(pages).toBe(3);
    expect(seen).toEqual(vpcs.map((v) => v.vpcId));

    // A filtered page is cut before filtering: it can be empty and still carry a token.
    const last = vpcs.at(-1)!.vpcId;
    const first = await ec2.send(new DescribeNetworkAclsCommand({ MaxResults: 5, Filters: [{ Name: 'vpc-id', Values: [last] }] }));
    expect(first.NetworkAcls).toEqual([]);
    expect(first.NextToken).toBeDefined();

    expect((await errorOf(ec2.send(new DescribeNetworkAclsCommand({ MaxResults: 4 })))).name).toBe('InvalidParameterValue');
    expect((await errorOf(ec2.send(new DescribeNetworkAclsCommand({ MaxResults: 101 })))).name).toBe('InvalidParameterValue');
    await ec2.send(new DescribeSecurityGroupsCommand({ MaxResults: 1000 }));
    expect((await errorOf(ec2.send(new DescribeSubnetsCommand({ NextToken: 'forged' })))).name).toBe('InvalidNextToken');
    const instance = account.ec2.addInstance({ name: 'ci-1' });
    expect((await errorOf(ec2.send(new DescribeInstancesCommand({ InstanceIds: [instance.instanceId], MaxResults: 5 })))).name).toBe('InvalidParameterCombination');
  });
});
