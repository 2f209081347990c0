import {
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  paginateDescribeSecurityGroups,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
  type Filter,
  type IpPermission,
  type SecurityGroup,
} from '@aws-sdk/client-ec2';
import { awsErrorCode, awsErrorMessage } from './errors';
import type { AwsClients } from './clients';

export const QUARANTINE_TAG = 'responder:quarantine';

/** One name per VPC, so a second creation (a crash and a retry, two deliveries at once) meets InvalidGroup.Duplicate. */
export function quarantineGroupName(vpcId: string): string {
  return `ecs-threat-responder-quarantine-${vpcId}`;
}

export interface QuarantineGroup {
  groupId: string;
  created: boolean;
  /** The rules found on an existing group and revoked before this use (empty when it was already empty). */
  repaired: string[];
}

/**
 * A quarantine group that has rules which could not be removed: using it would leave traffic open, so it is not
 * used and the caller goes on to its next containment rung.
 */
export class QuarantineGroupNotEmpty extends Error {
  override readonly name = 'QuarantineGroupNotEmpty';
}

/**
 * How long to wait out EC2's eventual consistency: a group just created may answer InvalidGroup.NotFound for a
 * while (https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html, which advises retrying with
 * backoff). Bounded, because the network cut is on the critical path: 5 attempts, 100 ms doubling (1.5 s at most).
 */
export interface ConsistencyRetry {
  attempts: number;
  firstDelayMs: number;
  sleep: (ms: number) => Promise<void>;
}

export const CONSISTENCY_RETRY: ConsistencyRetry = {
  attempts: 5,
  firstDelayMs: 100,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

async function untilVisible<T>(retry: ConsistencyRetry, call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (awsErrorCode(error) !== 'InvalidGroup.NotFound' || attempt >= retry.attempts) throw error;
      await retry.sleep(retry.firstDelayMs * 2 ** (attempt - 1));
    }
  }
}

function notVisibleYet(what: string): Error {
  return Object.assign(new Error(`${what} exists but is not visible yet`), { name: 'InvalidGroup.NotFound' });
}

/** Pages through every match: a filtered page may be empty and still carry a NextToken. */
async function findGroup(clients: AwsClients, vpcId: string, filter: Filter): Promise<SecurityGroup | undefined> {
  const pages = paginateDescribeSecurityGroups({ client: clients.ec2, pageSize: 1000 }, { Filters: [{ Name: 'vpc-id', Values: [vpcId] }, filter] });
  for await (const page of pages) {
    const group = page.SecurityGroups?.[0];
    if (group) return group;
  }
  return undefined;
}

/** Creates the group; if it already exists (InvalidGroup.Duplicate: a concurrent or crashed delivery made it), finds it. */
async function createGroup(clients: AwsClients, vpcId: string, retry: ConsistencyRetry): Promise<{ groupId: string; created: boolean }> {
  const name = quarantineGroupName(vpcId);
  try {
    const created = await clients.ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: name,
        Description: 'ecs-threat-responder quarantine: no ingress, no egress',
        VpcId: vpcId,
        TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: QUARANTINE_TAG, Value: 'true' }] }],
      }),
    );
    return { groupId: created.GroupId!, created: true };
  } catch (error) {
    if (awsErrorCode(error) !== 'InvalidGroup.Duplicate') throw error;
    const existing = await untilVisible(retry, async () => (await findGroup(clients, vpcId, { Name: 'group-name', Values: [name] })) ?? Promise.reject(notVisibleYet(name)));
    return { groupId: existing.GroupId!, created: false };
  }
}

function describeRules(direction: 'ingress' | 'egress', permissions: IpPermission[]): string[] {
  return permissions.flatMap((p) => {
    const ports = p.IpProtocol === '-1' ? 'all' : `${p.IpProtocol} ${p.FromPort}-${p.ToPort}`;
    const peers = [...(p.IpRanges ?? []).map((r) => r.CidrIp), ...(p.Ipv6Ranges ?? []).map((r) => r.CidrIpv6), ...(p.UserIdGroupPairs ?? []).map((g) => g.GroupId), ...(p.PrefixListIds ?? []).map((l) => l.PrefixListId)];
    return peers.map((peer) => `${direction} ${ports} ${peer}`);
  });
}

function rulesOf(group: SecurityGroup): string[] {
  return [...describeRules('ingress', group.IpPermissions ?? []), ...describeRules('egress', group.IpPermissionsEgress ?? [])];
}

async function describeGroup(clients: AwsClients, groupId: string, retry: ConsistencyRetry): Promise<SecurityGroup> {
  return untilVisible(retry, async () => {
    const group = (await clients.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }))).SecurityGroups?.[0];
    return group ?? Promise.reject(notVisibleYet(groupId));
  });
}

/** Revokes every rule the group has, then reads it back: only an empty group is returned as usable. */
async function emptyGroup(clients: AwsClients, groupId: string, retry: ConsistencyRetry): Promise<string[]> {
  const group = await describeGroup(clients, groupId, retry);
  const found = rulesOf(group);
  if (!found.length) return [];
  try {
    const ingress = group.IpPermissions ?? [];
    const egress = group.IpPermissionsEgress ?? [];
    if (ingress.length) await untilVisible(retry, () => clients.ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: ingress })));
    if (egress.length) await untilVisible(retry, () => clients.ec2.send(new RevokeSecurityGroupEgressCommand({ GroupId: groupId, IpPermissions: egress })));
  } catch (error) {
    // Someone else revoked a rule first (a concurrent delivery): the read-back below decides.
    if (awsErrorCode(error) !== 'InvalidPermission.NotFound') {
      throw new QuarantineGroupNotEmpty(`quarantine group ${groupId} has rules (${found.join('; ')}) and revoking them failed: ${awsErrorCode(error)}: ${awsErrorMessage(error)}`, { cause: error });
    }
  }
  const left = rulesOf(await describeGroup(clients, groupId, retry));
  if (left.length) throw new QuarantineGroupNotEmpty(`quarantine group ${groupId} still has rules after revoking: ${left.join('; ')}`);
  return found;
}

/**
 * The quarantine security group of a VPC, verified to have no rule before every use:
 * - configured for the VPC: used only if empty (an operator's group is never changed);
 * - else the group tagged `responder:quarantine=true`, or one created now under the VPC's fixed name;
 * - any rule on it (AWS's default allow-all egress after a crash before its revoke, a rule someone added) is revoked.
 * Throws QuarantineGroupNotEmpty when the group cannot be made empty.
 */
export async function quarantineSecurityGroup(
  clients: AwsClients,
  vpcId: string,
  configured: Record<string, string>,
  retry: ConsistencyRetry = CONSISTENCY_RETRY,
): Promise<QuarantineGroup> {
  const fromConfig = configured[vpcId];
  if (fromConfig) {
    const rules = rulesOf(await describeGroup(clients, fromConfig, retry));
    if (rules.length) throw new QuarantineGroupNotEmpty(`configured quarantine group ${fromConfig} has rules (${rules.join('; ')}); it is left as configured and not used`);
    return { groupId: fromConfig, created: false, repaired: [] };
  }
  const tagged = await findGroup(clients, vpcId, { Name: `tag:${QUARANTINE_TAG}`, Values: ['true'] });
  const { groupId, created } = tagged ? { groupId: tagged.GroupId!, created: false } : await createGroup(clients, vpcId, retry);
  const revoked = await emptyGroup(clients, groupId, retry);
  // Revoking AWS's default egress rule of a group made just now is part of making it, not a repair.
  return { groupId, created, repaired: created ? [] : revoked };
}
