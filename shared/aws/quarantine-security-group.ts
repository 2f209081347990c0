import {
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  RevokeSecurityGroupEgressCommand,
} from '@aws-sdk/client-ec2';
import type { AwsClients } from './clients';

export const QUARANTINE_TAG = 'responder:quarantine';

/**
 * The quarantine security group of a VPC: from configuration, else the group tagged `responder:quarantine=true`,
 * else created now with no ingress and (after revoking AWS's default allow-all egress) no egress.
 */
export async function quarantineSecurityGroupId(
  clients: AwsClients,
  vpcId: string,
  configured: Record<string, string>,
): Promise<{ groupId: string; created: boolean }> {
  const fromConfig = configured[vpcId];
  if (fromConfig) return { groupId: fromConfig, created: false };
  const found = await clients.ec2.send(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: `tag:${QUARANTINE_TAG}`, Values: ['true'] }] }),
  );
  const existing = found.SecurityGroups?.[0]?.GroupId;
  if (existing) return { groupId: existing, created: false };

  const created = await clients.ec2.send(
    new CreateSecurityGroupCommand({
      GroupName: `ecs-threat-responder-quarantine-${vpcId}`,
      Description: 'ecs-threat-responder quarantine: no ingress, no egress',
      VpcId: vpcId,
      TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: QUARANTINE_TAG, Value: 'true' }] }],
    }),
  );
  const groupId = created.GroupId!;
  await clients.ec2.send(
    new RevokeSecurityGroupEgressCommand({ GroupId: groupId, IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }),
  );
  return { groupId, created: true };
}
