import {
  CreateNetworkAclEntryCommand,
  DeleteNetworkAclEntryCommand,
  DescribeNetworkAclsCommand,
  paginateDescribeNetworkAcls,
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

/**
 * The network ACL associated with the subnet. Paged as AWS advises for filtered Describe calls
 * (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-pagination.html): a page may hold no match and still
 * carry a NextToken, so the search goes on until the match or the last page. 100 is DescribeNetworkAcls's largest page.
 */
export async function networkAclForSubnet(clients: AwsClients, subnetId: string): Promise<NetworkAcl | undefined> {
  const pages = paginateDescribeNetworkAcls({ client: clients.ec2, pageSize: 100 }, { Filters: [{ Name: 'association.subnet-id', Values: [subnetId] }] });
  for await (const page of pages) {
    const acl = page.NetworkAcls?.[0];
    if (acl) return acl;
  }
  return undefined;
}

export type RulePick = 'lowest' | 'random';

function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

/** Whether an IPv4 CIDR block contains the address. */
export function cidrContains(cidr: string, ip: string): boolean {
  const [base = '', bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipv4ToNumber(ip) / size) === Math.floor(ipv4ToNumber(base) / size);
}

/**
 * A free rule number below every allow entry that matches the address (network ACLs apply the lowest-numbered
 * matching rule, so a deny after a matching allow would do nothing): the lowest such number (predictable, the usual
 * case), or after a collision a random one, so concurrent isolations stop picking the same number.
 */
function freeRule(acl: NetworkAcl, egress: boolean, ip: string, pick: RulePick): number {
  const entries = (acl.Entries ?? []).filter((e) => e.Egress === egress);
  const used = new Set(entries.map((e) => e.RuleNumber));
  const firstAllow = Math.min(...entries.filter((e) => e.RuleAction === 'allow' && e.CidrBlock && cidrContains(e.CidrBlock, ip)).map((e) => e.RuleNumber ?? Infinity));
  const free: number[] = [];
  for (let n = FIRST_RULE; n <= Math.min(LAST_RULE, firstAllow - 1); n++) if (!used.has(n)) free.push(n);
  const chosen = pick === 'lowest' ? free[0] : free[Math.floor(Math.random() * free.length)];
  if (chosen === undefined) {
    throw new Error(`no free ${egress ? 'egress' : 'ingress'} rule number in ${acl.NetworkAclId} below ${Number.isFinite(firstAllow) ? `allow rule ${firstAllow}, which matches ${ip}` : LAST_RULE + 1}`);
  }
  return chosen;
}

/** Picks the rule numbers before anything changes, so they can be written ahead to the ledger. */
export function planNetworkAclDeny(acl: NetworkAcl, ip: string, pick: RulePick = 'lowest'): NetworkAclDeny {
  const ingressRule = freeRule(acl, false, ip, pick);
  const egressRule = freeRule(acl, true, ip, pick);
  return { networkAclId: acl.NetworkAclId!, cidr: `${ip}/32`, ingressRule, egressRule };
}

/** Another writer took one of the planned numbers first (a concurrent isolation in the same subnet). */
export class RuleNumberTaken extends Error {
  override readonly name = 'RuleNumberTaken';
  constructor(
    message: string,
    /** The direction whose number was taken. */
    readonly egress: boolean,
  ) {
    super(message);
  }
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
    if (entry?.CidrBlock !== deny.cidr || entry.RuleAction !== 'deny') throw new RuleNumberTaken(`rule ${rule} of ${deny.networkAclId} was taken by another entry`, egress);
  }
}

/**
 * One direction is in place and the other is not: the deny is `failed`, never `unsupported` (AWS refused, nothing
 * changed), whatever AWS answered for the other. The ledger keeps the before-state, so release or the task's stop
 * removes the half that is there.
 */
export class HalfMadeDeny extends Error {
  override readonly name = 'HalfMadeDeny';
  constructor(
    readonly made: 'ingress' | 'egress',
    override readonly cause: unknown,
  ) {
    super(`only the ${made} deny is in place`);
  }
}

/** Both directions at once: the cut is one round trip. Either failing fails the deny; the ledger keeps what to remove. */
export async function applyNetworkAclDeny(clients: AwsClients, deny: NetworkAclDeny): Promise<void> {
  const [ingress, egress] = await Promise.allSettled([createDeny(clients, deny, false), createDeny(clients, deny, true)]);
  const failed = [ingress, egress].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (!failed.length) return;
  const taken = failed.find((r) => r.reason instanceof RuleNumberTaken);
  if (taken) throw taken.reason; // the caller re-plans that direction; an entry made in the other stays
  if (failed.length === 1) throw new HalfMadeDeny(ingress.status === 'fulfilled' ? 'ingress' : 'egress', failed[0]!.reason);
  throw failed[0]!.reason;
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
