import type * as EC2 from '@aws-sdk/client-ec2';
import { IdSource, macAddress } from './ids';
import { notModelledError, serviceError } from './service-error';
import type { OperationInput } from './service-error';

type Result<T> = Omit<T, '$metadata'>;

export interface VpcState {
  vpcId: string;
  name: string;
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

/** Rule number of the implicit deny-all entry that closes every network ACL; it is not counted in the quota. */
const IMPLICIT_DENY_RULE = 32767;
/** Default quota: 20 rules per direction per network ACL (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html). */
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

  constructor(
    private readonly ids: IdSource,
    private readonly accountId: string,
    private readonly region: string,
  ) {}

  // ---- seeding ----

  addVpc(options: { name?: string; cidrBlock?: string; vpcId?: string } = {}): VpcState {
    const name = options.name ?? 'default';
    const vpcId = options.vpcId ?? this.ids.id('vpc-', 17, name);
    const existing = this.vpcs.get(vpcId);
    if (existing) return existing;
    const vpc: VpcState = {
      vpcId,
      name,
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

  private describeNetworkInterfaces(input: EC2.DescribeNetworkInterfacesRequest): Result<EC2.DescribeNetworkInterfacesResult> {
    const ids = input.NetworkInterfaceIds ?? [];
    for (const id of ids) {
      if (!this.networkInterfaces.has(id)) throw notFound('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${id}' does not exist`);
    }
    const candidates = ids.length ? ids.map((id) => this.networkInterfaces.get(id)!) : [...this.networkInterfaces.values()];
    return {
      NetworkInterfaces: candidates
        .filter((eni) =>
          matchesFilters(input.Filters, (name) => {
            switch (name) {
              case 'addresses.private-ip-address':
              case 'private-ip-address': return [eni.privateIpAddress];
              case 'vpc-id': return [eni.vpcId];
              case 'subnet-id': return [eni.subnetId];
              case 'network-interface-id': return [eni.networkInterfaceId];
              case 'group-id': return eni.groupIds;
              case 'description': return [eni.description];
              case 'requester-managed': return [String(eni.requesterManaged)];
              case 'attachment.instance-id': return eni.attachment?.instanceId ? [eni.attachment.instanceId] : [];
              case 'mac-address': return [eni.macAddress];
              default: return tagFilter(name, eni.tags);
            }
          }),
        )
        .map((eni) => this.describeInterface(eni)),
    };
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
    const ids = input.GroupIds ?? [];
    for (const id of ids) {
      if (!this.securityGroups.has(id)) throw notFound('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
    }
    const candidates = ids.length ? ids.map((id) => this.securityGroups.get(id)!) : [...this.securityGroups.values()];
    return {
      SecurityGroups: candidates
        .filter((group) =>
          (!input.GroupNames || input.GroupNames.includes(group.groupName)) &&
          matchesFilters(input.Filters, (name) => {
            switch (name) {
              case 'vpc-id': return [group.vpcId];
              case 'group-name': return [group.groupName];
              case 'group-id': return [group.groupId];
              case 'description': return [group.description];
              default: return tagFilter(name, group.tags);
            }
          }),
        )
        .map((group) => ({
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
    return { GroupId: group.groupId, SecurityGroupArn: `arn:aws:ec2:${this.region}:${this.accountId}:security-group/${group.groupId}`, Tags: toTagList(tags) };
  }

  private revoke(input: EC2.RevokeSecurityGroupEgressRequest, direction: 'ingress' | 'egress'): Result<EC2.RevokeSecurityGroupEgressResult> {
    if (input.SecurityGroupRuleIds?.length) throw notModelledError('revoking security group rules by SecurityGroupRuleIds is not modelled');
    const group = input.GroupId ? this.securityGroups.get(input.GroupId) : undefined;
    if (!group) throw notFound('InvalidGroup.NotFound', `The security group '${input.GroupId}' does not exist`);
    const unknown: SecurityGroupRule[] = [];
    for (const rule of fromIpPermissions(input.IpPermissions ?? [])) {
      const index = group[direction].findIndex((existing) => sameRule(existing, rule));
      if (index === -1) unknown.push(rule);
      else group[direction].splice(index, 1);
    }
    // "If the values you specify do not match the existing rule's values, no error is returned, and the output
    // describes the security group rules that were not revoked." (API_RevokeSecurityGroupEgress)
    return unknown.length ? { Return: true, UnknownIpPermissions: toIpPermissions(unknown, this.accountId) } : { Return: true };
  }

  private describeNetworkAcls(input: EC2.DescribeNetworkAclsRequest): Result<EC2.DescribeNetworkAclsResult> {
    const ids = input.NetworkAclIds ?? [];
    for (const id of ids) {
      if (!this.networkAcls.has(id)) throw notFound('InvalidNetworkAclID.NotFound', `The network ACL ID '${id}' does not exist`);
    }
    const candidates = ids.length ? ids.map((id) => this.networkAcls.get(id)!) : [...this.networkAcls.values()];
    return {
      NetworkAcls: candidates
        .filter((acl) =>
          matchesFilters(input.Filters, (name) => {
            switch (name) {
              case 'association.subnet-id': return acl.subnetIds;
              case 'vpc-id': return [acl.vpcId];
              case 'network-acl-id': return [acl.networkAclId];
              case 'default': return [String(acl.isDefault)];
              case 'entry.rule-number': return allEntries(acl).map((e) => String(e.ruleNumber));
              default: return tagFilter(name, acl.tags);
            }
          }),
        )
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
    const acl = this.networkAcl(input.NetworkAclId);
    const ruleNumber = input.RuleNumber ?? 0;
    if (!Number.isInteger(ruleNumber) || ruleNumber < 1 || ruleNumber > 32766) {
      throw invalid('InvalidParameterValue', `Value (${ruleNumber}) for parameter ruleNumber is invalid. Rule numbers must be between 1 and 32766`);
    }
    if (!input.CidrBlock && !input.Ipv6CidrBlock) throw invalid('MissingParameter', 'Either CidrBlock or Ipv6CidrBlock is required');
    if (input.RuleAction !== 'allow' && input.RuleAction !== 'deny') throw invalid('InvalidParameterValue', `Invalid rule action '${input.RuleAction}'`);
    const egress = input.Egress ?? false;
    const direction = acl.entries.filter((e) => e.egress === egress);
    if (direction.some((e) => e.ruleNumber === ruleNumber)) {
      throw invalid('NetworkAclEntryAlreadyExists', `The network acl entry identified by ${ruleNumber} already exists.`);
    }
    if (direction.length >= NETWORK_ACL_RULES_PER_DIRECTION) {
      throw invalid('NetworkAclEntryLimitExceeded', `The maximum number of network acl entries (${NETWORK_ACL_RULES_PER_DIRECTION}) has been reached.`);
    }
    acl.entries.push({
      ruleNumber,
      egress,
      protocol: input.Protocol ?? '-1',
      ruleAction: input.RuleAction,
      cidrBlock: input.CidrBlock,
      ipv6CidrBlock: input.Ipv6CidrBlock,
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
    const ids = input.InstanceIds ?? [];
    for (const id of ids) {
      if (!this.instances.has(id)) throw notFound('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
    }
    const candidates = ids.length ? ids.map((id) => this.instances.get(id)!) : [...this.instances.values()];
    const matching = candidates.filter((instance) => {
      const eni = this.networkInterfaces.get(instance.primaryNetworkInterfaceId);
      return matchesFilters(input.Filters, (name) => {
        switch (name) {
          case 'instance-id': return [instance.instanceId];
          case 'vpc-id': return [instance.vpcId];
          case 'subnet-id': return [instance.subnetId];
          case 'instance-state-name': return [instance.state];
          case 'private-ip-address': return eni ? [eni.privateIpAddress] : [];
          case 'network-interface.network-interface-id': return eni ? [eni.networkInterfaceId] : [];
          default: return tagFilter(name, instance.tags);
        }
      });
    });
    return {
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
    const ids = input.SubnetIds ?? [];
    for (const id of ids) {
      if (!this.subnets.has(id)) throw notFound('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`);
    }
    const candidates = ids.length ? ids.map((id) => this.subnets.get(id)!) : [...this.subnets.values()];
    return {
      Subnets: candidates
        .filter((subnet) =>
          matchesFilters(input.Filters, (name) => {
            switch (name) {
              case 'vpc-id': return [subnet.vpcId];
              case 'subnet-id': return [subnet.subnetId];
              case 'availability-zone': return [subnet.availabilityZone];
              case 'cidr-block': return [subnet.cidrBlock];
              default: return undefined;
            }
          }),
        )
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

/**
 * EC2 filter semantics: every filter must match; within a filter any value may match; values may use `*` and `?`.
 * An unknown filter name is an error, as AWS answers `InvalidParameterValue` for it.
 */
function matchesFilters(filters: EC2.Filter[] | undefined, valuesOf: (name: string) => string[] | undefined): boolean {
  return (filters ?? []).every((filter) => {
    const actual = valuesOf(filter.Name ?? '');
    if (actual === undefined) throw invalid('InvalidParameterValue', `The filter '${filter.Name}' is invalid`);
    return (filter.Values ?? []).some((wanted) => {
      const pattern = new RegExp(`^${wanted.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
      return actual.some((value) => pattern.test(value));
    });
  });
}

function tagFilter(name: string, tags: Record<string, string>): string[] | undefined {
  if (name.startsWith('tag:')) {
    const value = tags[name.slice(4)];
    return value === undefined ? [] : [value];
  }
  if (name === 'tag-key') return Object.keys(tags);
  return undefined;
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
