import type * as EC2 from '@aws-sdk/client-ec2';
import { isIPv6 } from 'node:net';
import { IdSource, macAddress } from './ids';
import { notModelledError, serviceError } from './service-error';
import type { OperationInput } from './service-error';

type Result<T> = Omit<T, '$metadata'>;

export interface VpcState {
  vpcId: string;
  name: string;
  /** The account's default VPC, where some EC2 calls are kinder (RevokeSecurityGroupEgress of a missing rule). */
  isDefault: boolean;
  cidrBlock: string;
  defaultNetworkAclId: string;
  defaultSecurityGroupId: string;
}

export interface SubnetState {
  subnetId: string;
  vpcId: string;
  name: string;
  cidrBlock: string;
  availabilityZone: string;
  nextHost: number;
}

/** One rule per range: AWS groups them by protocol and ports only when it describes them. */
export interface SecurityGroupRule {
  ipProtocol: string;
  fromPort?: number;
  toPort?: number;
  cidrIp?: string;
  cidrIpv6?: string;
  groupId?: string;
  prefixListId?: string;
}

export interface SecurityGroupState {
  groupId: string;
  groupName: string;
  description: string;
  vpcId: string;
  ingress: SecurityGroupRule[];
  egress: SecurityGroupRule[];
  tags: Record<string, string>;
}

export interface NetworkAclEntryState {
  ruleNumber: number;
  egress: boolean;
  protocol: string;
  ruleAction: 'allow' | 'deny';
  cidrBlock?: string;
  ipv6CidrBlock?: string;
  portRange?: { from: number; to: number };
}

export interface NetworkAclState {
  networkAclId: string;
  vpcId: string;
  isDefault: boolean;
  entries: NetworkAclEntryState[];
  subnetIds: string[];
  tags: Record<string, string>;
}

export interface NetworkInterfaceState {
  networkInterfaceId: string;
  subnetId: string;
  vpcId: string;
  availabilityZone: string;
  privateIpAddress: string;
  macAddress: string;
  description: string;
  /** true for interfaces AWS services create in your account (ECS awsvpc tasks, Fargate). */
  requesterManaged: boolean;
  requesterId?: string;
  groupIds: string[];
  tags: Record<string, string>;
  attachment?: { attachmentId: string; instanceId?: string; instanceOwnerId: string; deviceIndex: number };
}

export interface InstanceState {
  instanceId: string;
  subnetId: string;
  vpcId: string;
  primaryNetworkInterfaceId: string;
  state: 'running' | 'stopped' | 'terminated';
  tags: Record<string, string>;
}

/** Rule number of the implicit IPv4 deny-all entry that closes every network ACL (32768 is the IPv6 one). */
const IMPLICIT_DENY_RULE = 32767;
/**
 * Default quota: 20 rules per direction per network ACL, enforced separately for IPv4 and IPv6 rules, and it
 * "includes the default deny rules (rule number 32767 for IPv4 and 32768 for IPv6)", so 19 of your own per family
 * (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html). A raised quota is not modelled.
 */
export const NETWORK_ACL_RULES_PER_DIRECTION = 20;
/** Default quota: 5 security groups per network interface (same page). */
export const SECURITY_GROUPS_PER_INTERFACE = 5;
/** Account that owns the interfaces Fargate creates (RequesterId/InstanceOwnerId in a real DescribeNetworkInterfaces). */
const AWS_SERVICE_ACCOUNT = '578734482556';

export class Ec2Model {
  readonly vpcs = new Map<string, VpcState>();
  readonly subnets = new Map<string, SubnetState>();
  readonly securityGroups = new Map<string, SecurityGroupState>();
  readonly networkAcls = new Map<string, NetworkAclState>();
  readonly networkInterfaces = new Map<string, NetworkInterfaceState>();
  readonly instances = new Map<string, InstanceState>();
  /**
   * What AWS answers to ModifyNetworkInterfaceAttribute on a requester-managed (ECS/Fargate) interface. AWS documents
   * the refusal but not its code (aws-facts §1.1, https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/requester-managed-eni.html,
   * https://github.com/cloud-custodian/cloud-custodian/issues/3406). Tests may switch it to e.g. UnauthorizedOperation.
   */
  requesterManagedRefusal = { code: 'OperationNotPermitted', status: 400 };
  /**
   * EC2 is eventually consistent: "if you ... immediately run another command using the security group ID ... of
   * CreateSecurityGroup, it might return an InvalidGroup.NotFound error"
   * (https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html). Modelled deterministically: the
   * next this-many calls that name a group created through the API (revoke, modify interface, describe by id,
   * tag) answer InvalidGroup.NotFound. Tests may set 0 to turn the window off.
   */
  newSecurityGroupUnseenCalls = 2;
  /** Groups created through the API and how many more calls naming them still miss them. */
  private readonly propagating = new Map<string, number>();

  constructor(
    private readonly ids: IdSource,
    private readonly accountId: string,
    private readonly region: string,
  ) {}

  // ---- seeding ----

  addVpc(options: { name?: string; cidrBlock?: string; vpcId?: string; isDefault?: boolean } = {}): VpcState {
    const name = options.name ?? 'default';
    const vpcId = options.vpcId ?? this.ids.id('vpc-', 17, name);
    const existing = this.vpcs.get(vpcId);
    if (existing) return existing;
    const vpc: VpcState = {
      vpcId,
      name,
      isDefault: options.isDefault ?? false,
      cidrBlock: options.cidrBlock ?? '10.0.0.0/16',
      defaultNetworkAclId: this.ids.id('acl-', 17, vpcId),
      defaultSecurityGroupId: this.ids.id('sg-', 17, `${vpcId}/default`),
    };
    this.vpcs.set(vpcId, vpc);
    // Every VPC comes with a default network ACL that allows everything, rule 100 each way.
    this.networkAcls.set(vpc.defaultNetworkAclId, {
      networkAclId: vpc.defaultNetworkAclId,
      vpcId,
      isDefault: true,
      entries: [false, true].map((egress) => ({ ruleNumber: 100, egress, protocol: '-1', ruleAction: 'allow', cidrBlock: '0.0.0.0/0' })),
      subnetIds: [],
      tags: {},
    });
    // ...and a default security group: all traffic from itself in, everything out.
    this.securityGroups.set(vpc.defaultSecurityGroupId, {
      groupId: vpc.defaultSecurityGroupId,
      groupName: 'default',
      description: 'default VPC security group',
      vpcId,
      ingress: [{ ipProtocol: '-1', groupId: vpc.defaultSecurityGroupId }],
      egress: [{ ipProtocol: '-1', cidrIp: '0.0.0.0/0' }],
      tags: {},
    });
    return vpc;
  }

  /** The VPC and subnet used when a seed does not name one. */
  defaultNetwork(): { vpc: VpcState; subnet: SubnetState } {
    const vpc = [...this.vpcs.values()][0] ?? this.addVpc();
    const subnet = [...this.subnets.values()].find((s) => s.vpcId === vpc.vpcId) ?? this.addSubnet({ vpcId: vpc.vpcId });
    return { vpc, subnet };
  }

  addSubnet(options: { vpcId?: string; name?: string; cidrBlock?: string; availabilityZone?: string; subnetId?: string } = {}): SubnetState {
    const vpc = options.vpcId ? this.vpcs.get(options.vpcId) ?? this.addVpc({ vpcId: options.vpcId }) : this.defaultNetworkVpc();
    const index = [...this.subnets.values()].filter((s) => s.vpcId === vpc.vpcId).length;
    const name = options.name ?? `${vpc.name}-subnet-${index + 1}`;
    const subnetId = options.subnetId ?? this.ids.id('subnet-', 17, `${vpc.vpcId}/${name}`);
    const existing = this.subnets.get(subnetId);
    if (existing) return existing;
    const [a, b] = vpc.cidrBlock.split('.');
    const subnet: SubnetState = {
      subnetId,
      vpcId: vpc.vpcId,
      name,
      cidrBlock: options.cidrBlock ?? `${a}.${b}.${index + 1}.0/24`,
      availabilityZone: options.availabilityZone ?? `${this.region}${'abcdef'[index % 6]}`,
      nextHost: 10,
    };
    this.subnets.set(subnetId, subnet);
    // A new subnet is associated with its VPC's default network ACL.
    this.networkAcls.get(vpc.defaultNetworkAclId)?.subnetIds.push(subnetId);
    return subnet;
  }

  private defaultNetworkVpc(): VpcState {
    return [...this.vpcs.values()][0] ?? this.addVpc();
  }

  addSecurityGroup(options: { name: string; vpcId?: string; description?: string; tags?: Record<string, string>; ingress?: SecurityGroupRule[]; egress?: SecurityGroupRule[] }): SecurityGroupState {
    const vpcId = options.vpcId ?? this.defaultNetworkVpc().vpcId;
    const existing = [...this.securityGroups.values()].find((g) => g.vpcId === vpcId && g.groupName === options.name);
    if (existing) return existing;
    const group: SecurityGroupState = {
      groupId: this.ids.id('sg-', 17, `${vpcId}/${options.name}`),
      groupName: options.name,
      description: options.description ?? options.name,
      vpcId,
      ingress: options.ingress ?? [],
      egress: options.egress ?? [{ ipProtocol: '-1', cidrIp: '0.0.0.0/0' }],
      tags: { ...options.tags },
    };
    this.securityGroups.set(group.groupId, group);
    return group;
  }

  /** An interface in a subnet. `requesterManaged` marks the ones ECS creates for awsvpc tasks. */
  addNetworkInterface(options: {
    subnetId: string;
    description?: string;
    requesterManaged?: boolean;
    groupIds?: string[];
    tags?: Record<string, string>;
    networkInterfaceId?: string;
    privateIpAddress?: string;
    macAddress?: string;
    instanceId?: string;
    seed?: string;
  }): NetworkInterfaceState {
    const subnet = this.subnets.get(options.subnetId) ?? this.addSubnet({ subnetId: options.subnetId });
    const existing = options.networkInterfaceId ? this.networkInterfaces.get(options.networkInterfaceId) : undefined;
    if (existing) return existing;
    const seed = options.seed ?? options.description ?? subnet.subnetId;
    const networkInterfaceId = options.networkInterfaceId ?? this.ids.id('eni-', 17, seed);
    const vpc = this.vpcs.get(subnet.vpcId)!;
    const requesterManaged = options.requesterManaged ?? false;
    const eni: NetworkInterfaceState = {
      networkInterfaceId,
      subnetId: subnet.subnetId,
      vpcId: subnet.vpcId,
      availabilityZone: subnet.availabilityZone,
      privateIpAddress: options.privateIpAddress ?? this.nextPrivateIp(subnet),
      macAddress: options.macAddress ?? macAddress(networkInterfaceId),
      description: options.description ?? '',
      requesterManaged,
      requesterId: requesterManaged ? AWS_SERVICE_ACCOUNT : undefined,
      groupIds: options.groupIds ?? [vpc.defaultSecurityGroupId],
      tags: { ...options.tags },
      attachment: {
        attachmentId: this.ids.id(requesterManaged ? 'ela-attach-' : 'eni-attach-', 17, networkInterfaceId),
        instanceId: options.instanceId,
        instanceOwnerId: requesterManaged ? AWS_SERVICE_ACCOUNT : this.accountId,
        deviceIndex: options.instanceId ? 0 : 1,
      },
    };
    this.networkInterfaces.set(networkInterfaceId, eni);
    return eni;
  }

  /** An EC2 instance (e.g. an ECS container instance) with its own, account-owned primary interface. */
  addInstance(options: { name?: string; subnetId?: string; groupIds?: string[]; instanceId?: string; tags?: Record<string, string> } = {}): InstanceState {
    const subnet = options.subnetId ? this.subnets.get(options.subnetId) ?? this.addSubnet({ subnetId: options.subnetId }) : this.defaultNetwork().subnet;
    const name = options.name ?? `instance-${this.instances.size + 1}`;
    const instanceId = options.instanceId ?? this.ids.id('i-', 17, name);
    const existing = this.instances.get(instanceId);
    if (existing) return existing;
    const eni = this.addNetworkInterface({ subnetId: subnet.subnetId, groupIds: options.groupIds, instanceId, description: 'Primary network interface', seed: instanceId });
    const instance: InstanceState = {
      instanceId,
      subnetId: subnet.subnetId,
      vpcId: subnet.vpcId,
      primaryNetworkInterfaceId: eni.networkInterfaceId,
      state: 'running',
      tags: { Name: name, ...options.tags },
    };
    this.instances.set(instanceId, instance);
    return instance;
  }

  /** ECS deletes an awsvpc task's interface once the task stops. */
  deleteNetworkInterface(networkInterfaceId: string): void {
    this.networkInterfaces.delete(networkInterfaceId);
  }

  private nextPrivateIp(subnet: SubnetState): string {
    const [a, b, c] = subnet.cidrBlock.split('.');
    let ip: string;
    do {
      ip = `${a}.${b}.${c}.${subnet.nextHost++}`;
    } while ([...this.networkInterfaces.values()].some((eni) => eni.privateIpAddress === ip));
    return ip;
  }

  // ---- API ----

  handle(operation: string, input: OperationInput): unknown {
    this.missGroupsStillPropagating(groupIdsNamedBy(operation, input));
    switch (operation) {
      case 'DescribeNetworkInterfaces': return this.describeNetworkInterfaces(input);
      case 'ModifyNetworkInterfaceAttribute': return this.modifyNetworkInterfaceAttribute(input as EC2.ModifyNetworkInterfaceAttributeRequest);
      case 'CreateTags': return this.createTags(input as EC2.CreateTagsRequest);
      case 'DeleteTags': return this.deleteTags(input as EC2.DeleteTagsRequest);
      case 'DescribeSecurityGroups': return this.describeSecurityGroups(input);
      case 'CreateSecurityGroup': return this.createSecurityGroup(input as EC2.CreateSecurityGroupRequest);
      case 'RevokeSecurityGroupEgress': return this.revoke(input as EC2.RevokeSecurityGroupEgressRequest, 'egress');
      case 'RevokeSecurityGroupIngress': return this.revoke(input as EC2.RevokeSecurityGroupEgressRequest, 'ingress');
      case 'DescribeNetworkAcls': return this.describeNetworkAcls(input);
      case 'CreateNetworkAclEntry': return this.createNetworkAclEntry(input as EC2.CreateNetworkAclEntryRequest);
      case 'DeleteNetworkAclEntry': return this.deleteNetworkAclEntry(input as EC2.DeleteNetworkAclEntryRequest);
      case 'DescribeInstances': return this.describeInstances(input);
      case 'DescribeSubnets': return this.describeSubnets(input);
      default: return undefined;
    }
  }

  /** The consistency window (see newSecurityGroupUnseenCalls): each call that names an unseen group uses one up. */
  private missGroupsStillPropagating(groupIds: string[]): void {
    const unseen = groupIds.filter((id) => this.propagating.has(id));
    for (const id of unseen) {
      const left = this.propagating.get(id)! - 1;
      if (left > 0) this.propagating.set(id, left);
      else this.propagating.delete(id);
    }
    if (unseen.length) throw notFound('InvalidGroup.NotFound', `The security group '${unseen[0]}' does not exist`);
  }

  private describeNetworkInterfaces(input: EC2.DescribeNetworkInterfacesRequest): Result<EC2.DescribeNetworkInterfacesResult> {
    const { items, NextToken } = describeCall('DescribeNetworkInterfaces', input, input.NetworkInterfaceIds, this.networkInterfaces, {
      filters: {
        'addresses.private-ip-address': (eni) => [eni.privateIpAddress],
        'private-ip-address': (eni) => [eni.privateIpAddress],
        'vpc-id': (eni) => [eni.vpcId],
        'subnet-id': (eni) => [eni.subnetId],
        'network-interface-id': (eni) => [eni.networkInterfaceId],
        'group-id': (eni) => eni.groupIds,
        description: (eni) => [eni.description],
        'requester-managed': (eni) => [String(eni.requesterManaged)],
        'attachment.instance-id': (eni) => (eni.attachment?.instanceId ? [eni.attachment.instanceId] : []),
        'mac-address': (eni) => [eni.macAddress],
      },
      tags: (eni) => eni.tags,
      notFound: (id) => notFound('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${id}' does not exist`),
    });
    return { NetworkInterfaces: items.map((eni) => this.describeInterface(eni)), NextToken };
  }

  private describeInterface(eni: NetworkInterfaceState): EC2.NetworkInterface {
    return {
      NetworkInterfaceId: eni.networkInterfaceId,
      SubnetId: eni.subnetId,
      VpcId: eni.vpcId,
      AvailabilityZone: eni.availabilityZone,
      Description: eni.description,
      Groups: eni.groupIds.map((id) => ({ GroupId: id, GroupName: this.securityGroups.get(id)?.groupName })),
      InterfaceType: 'interface',
      MacAddress: eni.macAddress,
      OwnerId: this.accountId,
      PrivateIpAddress: eni.privateIpAddress,
      PrivateIpAddresses: [{ Primary: true, PrivateIpAddress: eni.privateIpAddress }],
      RequesterId: eni.requesterId,
      RequesterManaged: eni.requesterManaged,
      SourceDestCheck: true,
      Status: 'in-use',
      TagSet: toTagList(eni.tags),
      Attachment: eni.attachment && {
        AttachmentId: eni.attachment.attachmentId,
        DeviceIndex: eni.attachment.deviceIndex,
        InstanceId: eni.attachment.instanceId,
        InstanceOwnerId: eni.attachment.instanceOwnerId,
        Status: 'attached',
        NetworkCardIndex: 0,
      },
    };
  }

  private modifyNetworkInterfaceAttribute(input: EC2.ModifyNetworkInterfaceAttributeRequest): Result<EC2.ModifyNetworkInterfaceAttributeCommandOutput> {
    // "You can specify only one attribute at a time" (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyNetworkInterfaceAttribute.html).
    // Code and text as EC2 answers ModifyInstanceAttribute (hashicorp/terraform-provider-aws, internal/service/ec2/ec2_instance.go);
    // no public source shows them for this operation.
    const attributes = Object.keys(input).filter((key) => input[key as keyof typeof input] !== undefined && key !== 'NetworkInterfaceId' && key !== 'DryRun');
    if (attributes.length === 0) throw invalid('InvalidParameterCombination', 'No attributes specified.');
    if (attributes.length > 1) throw invalid('InvalidParameterCombination', `Fields for multiple attribute types specified: ${attributes.join(', ')}`);
    const eni = this.interface(input.NetworkInterfaceId);
    if (eni.requesterManaged) {
      // Documented refusal: requester-managed interfaces "can't" have their properties changed, tags excepted
      // (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/requester-managed-eni.html); ECS task ENIs "cannot be ...
      // modified by your account" (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-networking-awsvpc.html).
      // The exact error code is unconfirmed (aws-facts §1.1), so it is configurable.
      const { code, status } = this.requesterManagedRefusal;
      throw serviceError('ec2', code, status, `You are not allowed to manage '${eni.attachment?.attachmentId.replace(/-[0-9a-f]+$/, '') ?? 'ela-attach'}' attachments.`);
    }
    if (input.Groups) {
      if (input.Groups.length === 0) throw invalid('InvalidParameterValue', 'At least one security group is required.');
      if (input.Groups.length > SECURITY_GROUPS_PER_INTERFACE) {
        throw invalid('SecurityGroupsPerInterfaceLimitExceeded', 'The maximum number of security groups per interface has been reached.');
      }
      for (const groupId of input.Groups) {
        const group = this.securityGroups.get(groupId);
        if (!group || group.vpcId !== eni.vpcId) throw notFound('InvalidGroup.NotFound', `The security group '${groupId}' does not exist in VPC '${eni.vpcId}'`);
      }
      eni.groupIds = [...new Set(input.Groups)];
      return {};
    }
    if (input.Description !== undefined) {
      eni.description = input.Description.Value ?? '';
      return {};
    }
    throw notModelledError(`ec2:ModifyNetworkInterfaceAttribute is modelled only for Groups and Description, got ${Object.keys(input).join(', ')}`);
  }

  private interface(id: string | undefined): NetworkInterfaceState {
    const eni = id ? this.networkInterfaces.get(id) : undefined;
    if (!eni) throw notFound('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${id}' does not exist`);
    return eni;
  }

  /** Tags of any taggable resource the model holds, or undefined when the id is unknown. */
  private tagsOf(resourceId: string): Record<string, string> | undefined {
    return (
      this.networkInterfaces.get(resourceId)?.tags ??
      this.securityGroups.get(resourceId)?.tags ??
      this.networkAcls.get(resourceId)?.tags ??
      this.instances.get(resourceId)?.tags
    );
  }

  private createTags(input: EC2.CreateTagsRequest): Result<EC2.CreateTagsCommandOutput> {
    const targets = (input.Resources ?? []).map((id) => {
      const tags = this.tagsOf(id);
      if (!tags) throw notFound(notFoundCodeFor(id), `The ID '${id}' does not exist`);
      return tags;
    });
    for (const tag of input.Tags ?? []) {
      if (tag.Key?.startsWith('aws:')) throw invalid('InvalidParameterValue', `Tag keys starting with 'aws:' are reserved for internal use`);
    }
    // Tags are the one thing you may change on a requester-managed interface (requester-managed-eni.html).
    for (const tags of targets) for (const tag of input.Tags ?? []) tags[tag.Key!] = tag.Value ?? '';
    return {};
  }

  private deleteTags(input: EC2.DeleteTagsRequest): Result<EC2.DeleteTagsCommandOutput> {
    for (const id of input.Resources ?? []) {
      const tags = this.tagsOf(id);
      if (!tags) throw notFound(notFoundCodeFor(id), `The ID '${id}' does not exist`);
      // Without Tags every user tag goes; with a Value only a matching value goes (API_DeleteTags).
      const requested = input.Tags ?? Object.keys(tags).filter((k) => !k.startsWith('aws:')).map((Key) => ({ Key, Value: undefined }));
      for (const tag of requested) {
        if (tag.Key === undefined || !(tag.Key in tags)) continue;
        if (tag.Value === undefined || tags[tag.Key] === tag.Value) delete tags[tag.Key];
      }
    }
    return {};
  }

  private describeSecurityGroups(input: EC2.DescribeSecurityGroupsRequest): Result<EC2.DescribeSecurityGroupsResult> {
    if (input.GroupNames) throw notModelledError('DescribeSecurityGroups by GroupNames (default VPC only) is not modelled; use the group-name filter');
    const { items, NextToken } = describeCall('DescribeSecurityGroups', input, input.GroupIds, this.securityGroups, {
      filters: {
        'vpc-id': (group) => [group.vpcId],
        'group-name': (group) => [group.groupName],
        'group-id': (group) => [group.groupId],
        description: (group) => [group.description],
      },
      tags: (group) => group.tags,
      notFound: (id) => notFound('InvalidGroup.NotFound', `The security group '${id}' does not exist`),
    });
    return {
      SecurityGroups: items.map((group) => ({
        GroupId: group.groupId,
        GroupName: group.groupName,
        Description: group.description,
        VpcId: group.vpcId,
        OwnerId: this.accountId,
        SecurityGroupArn: `arn:aws:ec2:${this.region}:${this.accountId}:security-group/${group.groupId}`,
        IpPermissions: toIpPermissions(group.ingress, this.accountId),
        IpPermissionsEgress: toIpPermissions(group.egress, this.accountId),
        Tags: toTagList(group.tags),
      })),
      NextToken,
    };
  }

  private createSecurityGroup(input: EC2.CreateSecurityGroupRequest): Result<EC2.CreateSecurityGroupResult> {
    if (!input.GroupName || !input.Description) throw invalid('MissingParameter', 'GroupName and Description are required');
    const vpcId = input.VpcId ?? this.defaultNetworkVpc().vpcId;
    if (!this.vpcs.has(vpcId)) throw notFound('InvalidVpcID.NotFound', `The vpc ID '${vpcId}' does not exist`);
    if ([...this.securityGroups.values()].some((g) => g.vpcId === vpcId && g.groupName === input.GroupName)) {
      throw invalid('InvalidGroup.Duplicate', `The security group '${input.GroupName}' already exists for VPC '${vpcId}'`);
    }
    const tags: Record<string, string> = {};
    for (const spec of input.TagSpecifications ?? []) {
      if (spec.ResourceType && spec.ResourceType !== 'security-group') continue;
      for (const tag of spec.Tags ?? []) tags[tag.Key!] = tag.Value ?? '';
    }
    // A new group has no inbound rules and AWS's default allow-all outbound rule.
    const group = this.addSecurityGroup({ name: input.GroupName, vpcId, description: input.Description, tags });
    if (this.newSecurityGroupUnseenCalls > 0) this.propagating.set(group.groupId, this.newSecurityGroupUnseenCalls);
    return { GroupId: group.groupId, SecurityGroupArn: `arn:aws:ec2:${this.region}:${this.accountId}:security-group/${group.groupId}`, Tags: toTagList(tags) };
  }

  private revoke(input: EC2.RevokeSecurityGroupEgressRequest, direction: 'ingress' | 'egress'): Result<EC2.RevokeSecurityGroupEgressResult> {
    if (input.SecurityGroupRuleIds?.length) throw notModelledError('revoking security group rules by SecurityGroupRuleIds is not modelled');
    const group = input.GroupId ? this.securityGroups.get(input.GroupId) : undefined;
    if (!group) throw notFound('InvalidGroup.NotFound', `The security group '${input.GroupId}' does not exist`);
    const rules = fromIpPermissions(input.IpPermissions ?? []);
    const unknown = rules.filter((rule) => !group[direction].some((existing) => sameRule(existing, rule)));
    // "For a default VPC, if the values you specify do not match the existing rule's values, no error is returned,
    // and the output describes the security group rules that were not revoked." In any other VPC AWS refuses, as
    // moto does (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RevokeSecurityGroupEgress.html).
    if (unknown.length && !this.vpcs.get(group.vpcId)?.isDefault) {
      throw invalid('InvalidPermission.NotFound', 'The specified rule does not exist in this security group.');
    }
    group[direction] = group[direction].filter((existing) => !rules.some((rule) => sameRule(existing, rule)));
    return unknown.length ? { Return: true, UnknownIpPermissions: toIpPermissions(unknown, this.accountId) } : { Return: true };
  }

  private describeNetworkAcls(input: EC2.DescribeNetworkAclsRequest): Result<EC2.DescribeNetworkAclsResult> {
    const { items, NextToken } = describeCall('DescribeNetworkAcls', input, input.NetworkAclIds, this.networkAcls, {
      filters: {
        'association.subnet-id': (acl) => acl.subnetIds,
        'vpc-id': (acl) => [acl.vpcId],
        'network-acl-id': (acl) => [acl.networkAclId],
        default: (acl) => [String(acl.isDefault)],
        'entry.rule-number': (acl) => allEntries(acl).map((e) => String(e.ruleNumber)),
      },
      tags: (acl) => acl.tags,
      notFound: (id) => notFound('InvalidNetworkAclID.NotFound', `The network ACL ID '${id}' does not exist`),
    });
    return {
      NextToken,
      NetworkAcls: items
        .map((acl) => ({
          NetworkAclId: acl.networkAclId,
          VpcId: acl.vpcId,
          IsDefault: acl.isDefault,
          OwnerId: this.accountId,
          Entries: allEntries(acl).map((entry) => ({
            RuleNumber: entry.ruleNumber,
            Egress: entry.egress,
            Protocol: entry.protocol,
            RuleAction: entry.ruleAction,
            CidrBlock: entry.cidrBlock,
            Ipv6CidrBlock: entry.ipv6CidrBlock,
            PortRange: entry.portRange && { From: entry.portRange.from, To: entry.portRange.to },
          })),
          Associations: acl.subnetIds.map((subnetId) => ({
            NetworkAclAssociationId: `aclassoc-${acl.networkAclId.slice(4, 12)}${subnetId.slice(7, 16)}`,
            NetworkAclId: acl.networkAclId,
            SubnetId: subnetId,
          })),
          Tags: toTagList(acl.tags),
        })),
    };
  }

  private createNetworkAclEntry(input: EC2.CreateNetworkAclEntryRequest): Result<EC2.CreateNetworkAclEntryCommandOutput> {
    // Required: NetworkAclId, RuleNumber, Protocol, RuleAction, Egress
    // (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateNetworkAclEntry.html).
    for (const field of ['NetworkAclId', 'RuleNumber', 'Protocol', 'RuleAction', 'Egress'] as const) {
      if (input[field] === undefined) throw invalid('MissingParameter', `The request must contain the parameter ${field[0]!.toLowerCase()}${field.slice(1)}`);
    }
    const acl = this.networkAcl(input.NetworkAclId);
    const ruleNumber = input.RuleNumber!;
    if (!Number.isInteger(ruleNumber) || ruleNumber < 1 || ruleNumber > 32766) {
      throw invalid('InvalidParameterValue', `Value (${ruleNumber}) for parameter ruleNumber is invalid. Rule numbers must be between 1 and 32766`);
    }
    if (!input.CidrBlock && !input.Ipv6CidrBlock) throw invalid('MissingParameter', 'Either CidrBlock or Ipv6CidrBlock is required');
    if (input.CidrBlock && input.Ipv6CidrBlock) throw invalid('InvalidParameterCombination', 'Specify either CidrBlock or Ipv6CidrBlock, not both');
    if (input.RuleAction !== 'allow' && input.RuleAction !== 'deny') throw invalid('InvalidParameterValue', `Invalid rule action '${input.RuleAction}'`);
    const egress = input.Egress!;
    const direction = acl.entries.filter((e) => e.egress === egress);
    if (direction.some((e) => e.ruleNumber === ruleNumber)) {
      throw invalid('NetworkAclEntryAlreadyExists', `The network acl entry identified by ${ruleNumber} already exists.`);
    }
    // The quota counts each IP family apart, its default deny included (NETWORK_ACL_RULES_PER_DIRECTION).
    const ipv6 = Boolean(input.Ipv6CidrBlock);
    if (direction.filter((e) => Boolean(e.ipv6CidrBlock) === ipv6).length + 1 >= NETWORK_ACL_RULES_PER_DIRECTION) {
      throw invalid('NetworkAclEntryLimitExceeded', `The maximum number of network acl entries (${NETWORK_ACL_RULES_PER_DIRECTION}) has been reached.`);
    }
    acl.entries.push({
      ruleNumber,
      egress,
      protocol: input.Protocol!,
      ruleAction: input.RuleAction,
      // "We modify the specified CIDR block to its canonical form" (same page).
      cidrBlock: input.CidrBlock && canonicalIpv4Cidr(input.CidrBlock),
      ipv6CidrBlock: input.Ipv6CidrBlock && canonicalIpv6Cidr(input.Ipv6CidrBlock),
      portRange: input.PortRange && { from: input.PortRange.From ?? 0, to: input.PortRange.To ?? 65535 },
    });
    acl.entries.sort((x, y) => x.ruleNumber - y.ruleNumber);
    return {};
  }

  private deleteNetworkAclEntry(input: EC2.DeleteNetworkAclEntryRequest): Result<EC2.DeleteNetworkAclEntryCommandOutput> {
    const acl = this.networkAcl(input.NetworkAclId);
    const egress = input.Egress ?? false;
    const index = acl.entries.findIndex((e) => e.ruleNumber === input.RuleNumber && e.egress === egress);
    if (index === -1) {
      throw invalid('InvalidNetworkAclEntry.NotFound', `The network acl entry identified by ${input.RuleNumber} (${egress ? 'egress' : 'ingress'}) does not exist.`);
    }
    acl.entries.splice(index, 1);
    return {};
  }

  private networkAcl(id: string | undefined): NetworkAclState {
    const acl = id ? this.networkAcls.get(id) : undefined;
    if (!acl) throw notFound('InvalidNetworkAclID.NotFound', `The network ACL ID '${id}' does not exist`);
    return acl;
  }

  private describeInstances(input: EC2.DescribeInstancesRequest): Result<EC2.DescribeInstancesResult> {
    const primaryInterface = (instance: InstanceState) => this.networkInterfaces.get(instance.primaryNetworkInterfaceId);
    const { items: matching, NextToken } = describeCall('DescribeInstances', input, input.InstanceIds, this.instances, {
      filters: {
        'instance-id': (instance) => [instance.instanceId],
        'vpc-id': (instance) => [instance.vpcId],
        'subnet-id': (instance) => [instance.subnetId],
        'instance-state-name': (instance) => [instance.state],
        'private-ip-address': (instance) => valuesOf(primaryInterface(instance)?.privateIpAddress),
        'network-interface.network-interface-id': (instance) => valuesOf(primaryInterface(instance)?.networkInterfaceId),
      },
      tags: (instance) => instance.tags,
      notFound: (id) => notFound('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`),
    });
    return {
      NextToken,
      Reservations: matching.map((instance) => {
        const eni = this.networkInterfaces.get(instance.primaryNetworkInterfaceId);
        const groups = (eni?.groupIds ?? []).map((id) => ({ GroupId: id, GroupName: this.securityGroups.get(id)?.groupName }));
        return {
          ReservationId: `r-${instance.instanceId.slice(2)}`,
          OwnerId: this.accountId,
          Instances: [
            {
              InstanceId: instance.instanceId,
              State: { Code: instance.state === 'running' ? 16 : 80, Name: instance.state },
              SubnetId: instance.subnetId,
              VpcId: instance.vpcId,
              PrivateIpAddress: eni?.privateIpAddress,
              SecurityGroups: groups,
              Tags: toTagList(instance.tags),
              NetworkInterfaces: eni
                ? [
                    {
                      NetworkInterfaceId: eni.networkInterfaceId,
                      SubnetId: eni.subnetId,
                      VpcId: eni.vpcId,
                      MacAddress: eni.macAddress,
                      OwnerId: this.accountId,
                      PrivateIpAddress: eni.privateIpAddress,
                      Groups: groups,
                      Status: 'in-use',
                      Attachment: { AttachmentId: eni.attachment?.attachmentId, DeviceIndex: 0, Status: 'attached', NetworkCardIndex: 0 },
                    },
                  ]
                : [],
            },
          ],
        };
      }),
    };
  }

  private describeSubnets(input: EC2.DescribeSubnetsRequest): Result<EC2.DescribeSubnetsResult> {
    const { items, NextToken } = describeCall('DescribeSubnets', input, input.SubnetIds, this.subnets, {
      filters: {
        'vpc-id': (subnet) => [subnet.vpcId],
        'subnet-id': (subnet) => [subnet.subnetId],
        'availability-zone': (subnet) => [subnet.availabilityZone],
        'cidr-block': (subnet) => [subnet.cidrBlock],
      },
      tags: (subnet) => ({ Name: subnet.name }),
      notFound: (id) => notFound('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`),
    });
    return {
      NextToken,
      Subnets: items
        .map((subnet) => ({
          SubnetId: subnet.subnetId,
          VpcId: subnet.vpcId,
          CidrBlock: subnet.cidrBlock,
          AvailabilityZone: subnet.availabilityZone,
          AvailableIpAddressCount: 251 - [...this.networkInterfaces.values()].filter((e) => e.subnetId === subnet.subnetId).length,
          OwnerId: this.accountId,
          State: 'available',
          SubnetArn: `arn:aws:ec2:${this.region}:${this.accountId}:subnet/${subnet.subnetId}`,
          Tags: [{ Key: 'Name', Value: subnet.name }],
        })),
    };
  }
}

function invalidCidr(cidr: string): Error {
  return invalid('InvalidParameterValue', `Value (${cidr}) for parameter cidrBlock is invalid. This is not a valid CIDR block.`);
}

/** `10.0.1.7/24` → `10.0.1.0/24`: host bits cleared, octets without leading zeros. */
function canonicalIpv4Cidr(cidr: string): string {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const octets = match?.slice(1, 5).map(Number) ?? [];
  const bits = Number(match?.[5]);
  if (!match || octets.some((o) => o > 255) || bits > 32) throw invalidCidr(cidr);
  const address = octets.reduce((n, o) => n * 256 + o, 0);
  const size = 2 ** (32 - bits);
  const network = Math.floor(address / size) * size;
  return `${[24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join('.')}/${bits}`;
}

/** `2001:DB8::1/64` → `2001:db8::/64`: host bits cleared, RFC 5952 text (Node's URL parser writes that form). */
function canonicalIpv6Cidr(cidr: string): string {
  const [address = '', bitsText = ''] = cidr.split('/');
  const bits = Number(bitsText);
  if (!isIPv6(address) || !/^\d{1,3}$/.test(bitsText) || bits > 128) throw invalidCidr(cidr);
  const groups = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const [head = '', tail] = groups.split('::');
  const parts = (text: string) => (text ? text.split(':') : []);
  const missing = 8 - parts(head).length - parts(tail ?? '').length;
  const full = [...parts(head), ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...parts(tail ?? '')];
  const value = full.reduce((n, group) => (n << 16n) | BigInt(parseInt(group, 16)), 0n);
  const network = (value >> BigInt(128 - bits)) << BigInt(128 - bits);
  const hex = network.toString(16).padStart(32, '0').match(/.{4}/g)!.join(':');
  return `${new URL(`http://[${hex}]/`).hostname.slice(1, -1)}/${bits}`;
}

/** The security group ids a call names, for the consistency window after CreateSecurityGroup. */
function groupIdsNamedBy(operation: string, input: OperationInput): string[] {
  switch (operation) {
    case 'RevokeSecurityGroupEgress':
    case 'RevokeSecurityGroupIngress': return valuesOf((input as EC2.RevokeSecurityGroupEgressRequest).GroupId);
    case 'ModifyNetworkInterfaceAttribute': return (input as EC2.ModifyNetworkInterfaceAttributeRequest).Groups ?? [];
    case 'DescribeSecurityGroups': return (input as EC2.DescribeSecurityGroupsRequest).GroupIds ?? [];
    case 'CreateTags':
    case 'DeleteTags': return (input as EC2.CreateTagsRequest).Resources ?? [];
    default: return [];
  }
}

function allEntries(acl: NetworkAclState): NetworkAclEntryState[] {
  // DescribeNetworkAcls lists the implicit deny (rule number 32767, shown as '*' in the console) last in each direction.
  const implicit = [false, true].map((egress) => ({ ruleNumber: IMPLICIT_DENY_RULE, egress, protocol: '-1', ruleAction: 'deny' as const, cidrBlock: '0.0.0.0/0' }));
  return [...acl.entries, ...implicit].sort((x, y) => Number(x.egress) - Number(y.egress) || x.ruleNumber - y.ruleNumber);
}

function notFound(code: string, message: string): Error {
  return serviceError('ec2', code, 400, message);
}

function invalid(code: string, message: string): Error {
  return serviceError('ec2', code, 400, message);
}

function notFoundCodeFor(resourceId: string): string {
  const prefix = resourceId.split('-')[0];
  const kinds: Record<string, string> = { eni: 'InvalidNetworkInterfaceID.NotFound', sg: 'InvalidGroup.NotFound', acl: 'InvalidNetworkAclID.NotFound', i: 'InvalidInstanceID.NotFound' };
  return (prefix && kinds[prefix]) ?? 'InvalidID';
}

function valuesOf(value: string | undefined): string[] {
  return value === undefined ? [] : [value];
}

/**
 * Filter names AWS documents for each Describe call the account models (the Filters lists of the API reference, as
 * the SDK's EC2 models carry them). A name in this list that the model does not evaluate is a gap in the simulator,
 * answered as such; any other name is an error in the request, answered as AWS does. `tag:<key>` is always known.
 */
const AWS_FILTERS: Record<DescribeOperation, string> = {
  DescribeNetworkInterfaces:
    'association.allocation-id association.association-id addresses.association.owner-id addresses.association.public-ip addresses.primary ' +
    'addresses.private-ip-address association.ip-owner-id association.public-ip association.public-dns-name attachment.attach-time ' +
    'attachment.attachment-id attachment.delete-on-termination attachment.device-index attachment.instance-id attachment.instance-owner-id ' +
    'attachment.status availability-zone availability-zone-id description group-id ipv6-addresses.ipv6-address interface-type mac-address ' +
    'network-interface-id operator.managed operator.principal owner-id private-dns-name private-ip-address requester-id requester-managed ' +
    'source-dest-check status subnet-id tag-key vpc-id',
  DescribeSecurityGroups:
    'description egress.ip-permission.cidr egress.ip-permission.from-port egress.ip-permission.group-id egress.ip-permission.group-name ' +
    'egress.ip-permission.ipv6-cidr egress.ip-permission.prefix-list-id egress.ip-permission.protocol egress.ip-permission.to-port ' +
    'egress.ip-permission.user-id group-id group-name ip-permission.cidr ip-permission.from-port ip-permission.group-id ' +
    'ip-permission.group-name ip-permission.ipv6-cidr ip-permission.prefix-list-id ip-permission.protocol ip-permission.to-port ' +
    'ip-permission.user-id owner-id tag-key vpc-id',
  DescribeNetworkAcls:
    'association.association-id association.network-acl-id association.subnet-id default entry.cidr entry.icmp.code entry.icmp.type ' +
    'entry.ipv6-cidr entry.port-range.from entry.port-range.to entry.protocol entry.rule-action entry.egress entry.rule-number ' +
    'network-acl-id owner-id tag-key vpc-id',
  // DescribeInstances documents 135 names; the families below cover them with their plain names.
  DescribeInstances:
    'affinity architecture availability-zone availability-zone-id block-device-mapping.* boot-mode capacity-reservation-id ' +
    'capacity-reservation-specification.* client-token current-instance-boot-mode dns-name ebs-optimized ena-support ' +
    'enclave-options.enabled hibernation-options.configured host-id hypervisor iam-instance-profile.arn iam-instance-profile.id image-id ' +
    'instance-id instance-lifecycle instance-state-code instance-state-name instance-type instance.group-id instance.group-name ' +
    'ip-address ipv6-address kernel-id key-name launch-index launch-time maintenance-options.auto-recovery metadata-options.* ' +
    'monitoring-state network-interface.* network-performance-options.bandwidth-weighting operator.managed operator.principal outpost-arn ' +
    'owner-id placement-group-name placement-partition-number platform platform-details private-dns-name private-dns-name-options.* ' +
    'private-ip-address product-code product-code.type ramdisk-id reason requester-id reservation-id root-device-name root-device-type ' +
    'source-dest-check spot-instance-request-id state-reason-code state-reason-message subnet-id tag-key tenancy tpm-support ' +
    'usage-operation usage-operation-update-time virtualization-type vpc-id',
  DescribeSubnets:
    'availability-zone availability-zone-id available-ip-address-count cidr-block customer-owned-ipv4-pool default-for-az enable-dns64 ' +
    'enable-lni-at-device-index ipv6-cidr-block-association.ipv6-cidr-block ipv6-cidr-block-association.association-id ' +
    'ipv6-cidr-block-association.state ipv6-native map-customer-owned-ip-on-launch map-public-ip-on-launch outpost-arn owner-id ' +
    'private-dns-name-options-on-launch.hostname-type private-dns-name-options-on-launch.enable-resource-name-dns-a-record ' +
    'private-dns-name-options-on-launch.enable-resource-name-dns-aaaa-record state subnet-arn subnet-id tag-key vpc-id',
};

function isAwsFilter(operation: DescribeOperation, name: string): boolean {
  return name.startsWith('tag:') || AWS_FILTERS[operation].split(' ').some((known) => known === name || (known.endsWith('.*') && name.startsWith(known.slice(0, -1))));
}

/**
 * The largest MaxResults each call accepts ("Valid Range: Minimum value of 5", API reference of each operation, e.g.
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNetworkAcls.html caps it at 100).
 */
const MAX_PAGE_SIZE: Record<DescribeOperation, number> = {
  DescribeNetworkInterfaces: 1000,
  DescribeSecurityGroups: 1000,
  DescribeNetworkAcls: 100,
  DescribeInstances: 1000,
  DescribeSubnets: 1000,
};
type DescribeOperation = 'DescribeNetworkInterfaces' | 'DescribeSecurityGroups' | 'DescribeNetworkAcls' | 'DescribeInstances' | 'DescribeSubnets';
/** "You cannot specify this parameter and the ... IDs parameter in the same request" (MaxResults of these two). */
const IDS_EXCLUDE_PAGING = new Set<DescribeOperation>(['DescribeNetworkInterfaces', 'DescribeInstances']);

interface DescribeModel<T> {
  /** The filters the simulator evaluates, by name. */
  filters: Record<string, (item: T) => string[]>;
  tags: (item: T) => Record<string, string>;
  notFound: (id: string) => Error;
}

/**
 * One EC2 Describe call: ids (each must exist), filters, then paging.
 * - Filter semantics: every filter must match; within one, any value; values may use `*` and `?`.
 * - Without MaxResults every item is returned ("If this parameter is not specified, then all items are returned",
 *   API_DescribeSecurityGroups; EC2 calls this unpaginated, https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-pagination.html).
 * - With it, the page is cut before filtering, so a page may hold fewer items than asked, or none, and still carry a
 *   NextToken: callers must page until NextToken is absent, as that guide's example does.
 */
function describeCall<T>(
  operation: DescribeOperation,
  input: { Filters?: EC2.Filter[]; MaxResults?: number; NextToken?: string },
  ids: string[] | undefined,
  all: Map<string, T>,
  model: DescribeModel<T>,
): { items: T[]; NextToken?: string } {
  for (const { Name: name = '' } of input.Filters ?? []) {
    if (model.filters[name] || name.startsWith('tag:') || name === 'tag-key') continue;
    if (isAwsFilter(operation, name)) throw notModelledError(`ec2:${operation} filter '${name}' is an AWS filter the simulated account does not model`);
    throw invalid('InvalidParameterValue', `The filter '${name}' is invalid`);
  }
  for (const id of ids ?? []) if (!all.has(id)) throw model.notFound(id);
  if (ids?.length && input.MaxResults !== undefined && IDS_EXCLUDE_PAGING.has(operation)) {
    throw invalid('InvalidParameterCombination', `The parameter ${operation === 'DescribeInstances' ? 'instancesSet' : 'networkInterfaceIdSet'} cannot be used with the parameter maxResults`);
  }
  const candidates = ids?.length ? ids.map((id) => all.get(id)!) : [...all.values()];
  const { page, NextToken } = pageOf(operation, candidates, input);
  const matches = (item: T) =>
    (input.Filters ?? []).every(({ Name: name = '', Values: wanted = [] }) => {
      const tags = model.tags(item);
      const actual = model.filters[name]?.(item) ?? (name === 'tag-key' ? Object.keys(tags) : valuesOf(tags[name.slice(4)]));
      return wanted.some((value) => {
        const pattern = new RegExp(`^${value.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
        return actual.some((candidate) => pattern.test(candidate));
      });
    });
  return { items: page.filter(matches), NextToken };
}

function pageOf<T>(operation: DescribeOperation, items: T[], input: { MaxResults?: number; NextToken?: string }): { page: T[]; NextToken?: string } {
  const max = MAX_PAGE_SIZE[operation];
  const size = input.MaxResults ?? items.length;
  if (input.MaxResults !== undefined && (!Number.isInteger(size) || size < 5 || size > max)) {
    throw invalid('InvalidParameterValue', `Value ( ${input.MaxResults} ) for parameter maxResults is invalid. Expecting a value between 5 and ${max}.`);
  }
  let start = 0;
  if (input.NextToken !== undefined) {
    const match = new RegExp(`^${operation}:(\\d+)$`).exec(Buffer.from(input.NextToken, 'base64').toString());
    // moto's code and text (moto/ec2/exceptions.py InvalidNextToken); AWS's is not documented.
    if (!match) throw invalid('InvalidNextToken', `The token '${input.NextToken}' is invalid`);
    start = Number(match[1]);
  }
  const end = start + size;
  return { page: items.slice(start, end), NextToken: end < items.length ? Buffer.from(`${operation}:${end}`).toString('base64') : undefined };
}

function toTagList(tags: Record<string, string>): EC2.Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

function fromIpPermissions(permissions: EC2.IpPermission[]): SecurityGroupRule[] {
  return permissions.flatMap((p) => {
    const base = { ipProtocol: String(p.IpProtocol ?? '-1'), fromPort: p.FromPort, toPort: p.ToPort };
    return [
      ...(p.IpRanges ?? []).map((r) => ({ ...base, cidrIp: r.CidrIp })),
      ...(p.Ipv6Ranges ?? []).map((r) => ({ ...base, cidrIpv6: r.CidrIpv6 })),
      ...(p.UserIdGroupPairs ?? []).map((g) => ({ ...base, groupId: g.GroupId })),
      ...(p.PrefixListIds ?? []).map((pl) => ({ ...base, prefixListId: pl.PrefixListId })),
    ];
  });
}

function sameRule(a: SecurityGroupRule, b: SecurityGroupRule): boolean {
  const ports = (r: SecurityGroupRule) => (r.ipProtocol === '-1' ? '' : `${r.fromPort}:${r.toPort}`);
  return (
    a.ipProtocol === b.ipProtocol && ports(a) === ports(b) && a.cidrIp === b.cidrIp && a.cidrIpv6 === b.cidrIpv6 &&
    a.groupId === b.groupId && a.prefixListId === b.prefixListId
  );
}

function toIpPermissions(rules: SecurityGroupRule[], accountId: string): EC2.IpPermission[] {
  const grouped = new Map<string, EC2.IpPermission>();
  for (const rule of rules) {
    const key = `${rule.ipProtocol}|${rule.fromPort}|${rule.toPort}`;
    const permission = grouped.get(key) ?? {
      IpProtocol: rule.ipProtocol,
      FromPort: rule.fromPort,
      ToPort: rule.toPort,
      IpRanges: [],
      Ipv6Ranges: [],
      UserIdGroupPairs: [],
      PrefixListIds: [],
    };
    if (rule.cidrIp) permission.IpRanges!.push({ CidrIp: rule.cidrIp });
    if (rule.cidrIpv6) permission.Ipv6Ranges!.push({ CidrIpv6: rule.cidrIpv6 });
    if (rule.groupId) permission.UserIdGroupPairs!.push({ GroupId: rule.groupId, UserId: accountId });
    if (rule.prefixListId) permission.PrefixListIds!.push({ PrefixListId: rule.prefixListId });
    grouped.set(key, permission);
  }
  return [...grouped.values()];
}
