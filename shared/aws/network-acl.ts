import {
  CreateNetworkAclEntryCommand,
  DeleteNetworkAclEntryCommand,
  DescribeNetworkAclsCommand,
  type NetworkAcl,
} from '@aws-sdk/client-ec2';
import { awsErrorCode } from './errors';
import type { AwsClients } from './clients';

/** Deny entries go below the usual allow rules (100+), lowest free number first, so they are evaluated first. */
const FIRST_RULE = 1;
const LAST_RULE = 99;

export interface NetworkAclDeny {
  networkAclId: string;
  cidr: string;
  ingressRule: number;
  egressRule: number;
}

export async function networkAclForSubnet(clients: AwsClients, subnetId: string): Promise<NetworkAcl | undefined> {
  const out = await clients.ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'association.subnet-id', Values: [subnetId] }] }));
  return out.NetworkAcls?.[0];
}

function freeRule(acl: NetworkAcl, egress: boolean, taken: Set<number>): number | undefined {
  const used = new Set((acl.Entries ?? []).filter((e) => e.Egress === egress).map((e) => e.RuleNumber));
  for (let n = FIRST_RULE; n <= LAST_RULE; n++) if (!used.has(n) && !taken.has(n)) return n;
  return undefined;
}

/** Picks the rule numbers before anything changes, so they can be written ahead to the ledger. */
export function planNetworkAclDeny(acl: NetworkAcl, ip: string): NetworkAclDeny {
  const ingressRule = freeRule(acl, false, new Set());
  const egressRule = freeRule(acl, true, new Set());
  if (ingressRule === undefined || egressRule === undefined) throw new Error(`no free rule number in ${FIRST_RULE}-${LAST_RULE} of ${acl.NetworkAclId}`);
  return { networkAclId: acl.NetworkAclId!, cidr: `${ip}/32`, ingressRule, egressRule };
}

async function createDeny(clients: AwsClients, deny: NetworkAclDeny, egress: boolean): Promise<void> {
  try {
    await clients.ec2.send(
      new CreateNetworkAclEntryCommand({
        NetworkAclId: deny.networkAclId,
        RuleNumber: egress ? deny.egressRule : deny.ingressRule,
        Egress: egress,
        Protocol: '-1',
        RuleAction: 'deny',
        CidrBlock: deny.cidr,
      }),
    );
  } catch (error) {
    // A retry after a crash finds its own entry already there: that is success, not a conflict.
    if (awsErrorCode(error) !== 'NetworkAclEntryAlreadyExists') throw error;
    const acl = (await clients.ec2.send(new DescribeNetworkAclsCommand({ NetworkAclIds: [deny.networkAclId] }))).NetworkAcls?.[0];
    const rule = egress ? deny.egressRule : deny.ingressRule;
    const entry = acl?.Entries?.find((e) => e.Egress === egress && e.RuleNumber === rule);
    if (entry?.CidrBlock !== deny.cidr || entry.RuleAction !== 'deny') throw error;
  }
}

export async function applyNetworkAclDeny(clients: AwsClients, deny: NetworkAclDeny): Promise<void> {
  await createDeny(clients, deny, false);
  await createDeny(clients, deny, true);
}

/**
 * Removes our deny entries. Release is idempotent: entries already gone are fine, and an entry whose number was
 * since reused by someone else (another CIDR or action) is left alone.
 */
export async function removeNetworkAclDeny(clients: AwsClients, deny: NetworkAclDeny): Promise<number> {
  const acl = (await clients.ec2.send(new DescribeNetworkAclsCommand({ NetworkAclIds: [deny.networkAclId] }))).NetworkAcls?.[0];
  let removed = 0;
  for (const egress of [false, true]) {
    const rule = egress ? deny.egressRule : deny.ingressRule;
    const entry = acl?.Entries?.find((e) => e.Egress === egress && e.RuleNumber === rule);
    if (entry?.CidrBlock !== deny.cidr || entry.RuleAction !== 'deny') continue;
    try {
      await clients.ec2.send(new DeleteNetworkAclEntryCommand({ NetworkAclId: deny.networkAclId, RuleNumber: rule, Egress: egress }));
      removed++;
    } catch (error) {
      if (awsErrorCode(error) !== 'InvalidNetworkAclEntry.NotFound') throw error;
    }
  }
  return removed;
}
