import type { OrganizationsClient } from '@aws-sdk/client-organizations';
import type { STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { AwsClients } from './clients';
import { deferredSdk } from './deferred';
import { awsErrorCode, awsErrorMessage } from './errors';

/** Which accounts besides its own the responder acts in (stage parameters memberAccounts / organizationId). */
export interface MemberAccountsConfig {
  /** Accounts allowed by id. */
  accounts: string[];
  /** Or every account of this organization (checked with Organizations DescribeAccount, cached). */
  organizationId?: string;
  /** The role each member deploys (organization/member-role.yml), and the external id its trust policy demands. */
  roleName: string;
  externalId: string;
}

export interface MemberAccountsDeps {
  homeAccountId: string;
  /** The region the responder runs in: its own account's events forwarded from another region act there. */
  homeRegion: string;
  /** The responder's own clients (its own credentials) in another region of its own account. */
  homeClientsIn: (region: string) => AwsClients;
  sts: STSClient;
  /** Made on first use: only an organizationId deployment reads Organizations, so no other cold start loads it. */
  organizations?: () => Promise<OrganizationsClient>;
  /** Clients for a region with the given credentials (the SDK's, or the simulated organization's). */
  clientsWith: (region: string, credentials: AwsCredentialIdentity) => AwsClients;
  now?: () => Date;
}

/** The finding's account is not one the responder may act in: refused, with no AWS call in it. */
export class AccountNotAllowed extends Error {
  override readonly name = 'AccountNotAllowed';
}

/** The member role could not be assumed (missing, or its trust refuses us): a refusal, not retried. */
export class MemberRoleUnavailable extends Error {
  override readonly name = 'MemberRoleUnavailable';
}

/** Credentials are renewed this long before they expire, so no call runs on a session about to lapse. */
const RENEW_BEFORE_MS = 5 * 60 * 1000;

/**
 * RoleSessionName: 2-64 characters of [\w+=,.@-] (STS AssumeRole API reference). It starts with the responder's name,
 * which the member role's trust requires (sts:RoleSessionName, organization/member-role.yml).
 */
export function sessionNameFor(findingId: string): string {
  return `ecs-threat-responder-${findingId}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

/**
 * Clients that act in a member account: ECS, EC2 and ECR through an assumed member role, cached per account until
 * shortly before the session expires; evidence (S3), notifications (SNS), secrets and identity stay in the responder's
 * own account. The session is named after the finding that opened it (CloudTrail shows it in the member account).
 */
export class MemberAccounts {
  private readonly sessions = new Map<string, { credentials: AwsCredentialIdentity; expiresAt: number }>();
  private readonly organizationMembers = new Map<string, Promise<boolean>>();
  private readonly clients = new Map<string, { credentials: AwsCredentialIdentity; clients: AwsClients }>();
  private readonly homeRegions = new Map<string, AwsClients>();

  constructor(
    private readonly config: MemberAccountsConfig,
    private readonly deps: MemberAccountsDeps,
  ) {}

  /** Whether the responder may act in the account: its own, a listed member, or (organizationId) a member of the organization. */
  async allows(accountId: string): Promise<boolean> {
    if (accountId === this.deps.homeAccountId || this.config.accounts.includes(accountId)) return true;
    if (!this.config.organizationId || !this.deps.organizations) return false;
    let member = this.organizationMembers.get(accountId);
    if (!member) {
      member = this.inOrganization(accountId);
      this.organizationMembers.set(accountId, member);
    }
    return member;
  }

  private async inOrganization(accountId: string): Promise<boolean> {
    try {
      // The account's ARN carries its organization: arn:aws:organizations::<management>:account/o-xxxx/<id>.
      const out = await (await this.deps.organizations!()).send(new (deferredSdk().DescribeAccountCommand)({ AccountId: accountId }));
      return (out.Account?.Arn ?? '').split('/')[1] === this.config.organizationId;
    } catch (error) {
      if (awsErrorCode(error) === 'AccountNotFoundException') return false;
      this.organizationMembers.delete(accountId); // a transient failure is not remembered
      throw error;
    }
  }

  /** The clients a response to a finding in `accountId`/`region` acts with; `home` for the responder's own account. */
  async clientsFor(home: AwsClients, accountId: string, region: string, findingId: string): Promise<AwsClients> {
    if (!(await this.allows(accountId))) {
      throw new AccountNotAllowed(`account ${accountId} is not one this responder acts in (its own ${this.deps.homeAccountId}${this.config.accounts.length ? `, members ${this.config.accounts.join(', ')}` : ''}${this.config.organizationId ? `, organization ${this.config.organizationId}` : ''})`);
    }
    if (accountId === this.deps.homeAccountId) {
      // Actions run in the finding's region: another region of the responder's own account, with its own role.
      if (region === this.deps.homeRegion) return home;
      let regional = this.homeRegions.get(region);
      if (!regional) {
        regional = this.deps.homeClientsIn(region);
        this.homeRegions.set(region, regional);
      }
      return { ...home, ecs: regional.ecs, ec2: regional.ec2, ecr: regional.ecr };
    }
    const credentials = await this.credentials(accountId, findingId);
    // One set of clients per session and region: a storm of findings reuses their connections.
    const key = `${accountId}/${region}`;
    let member = this.clients.get(key);
    if (member?.credentials !== credentials) {
      member = { credentials, clients: this.deps.clientsWith(region, credentials) };
      this.clients.set(key, member);
    }
    return { ...home, ecs: member.clients.ecs, ec2: member.clients.ec2, ecr: member.clients.ecr };
  }

  private async credentials(accountId: string, findingId: string): Promise<AwsCredentialIdentity> {
    const now = (this.deps.now ?? (() => new Date()))().getTime();
    const cached = this.sessions.get(accountId);
    if (cached && cached.expiresAt - RENEW_BEFORE_MS > now) return cached.credentials;
    const roleArn = `arn:aws:iam::${accountId}:role/${this.config.roleName}`;
    try {
      const out = await this.deps.sts.send(new (deferredSdk().AssumeRoleCommand)({ RoleArn: roleArn, RoleSessionName: sessionNameFor(findingId), ExternalId: this.config.externalId }));
      const c = out.Credentials!;
      const credentials = { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken, expiration: c.Expiration };
      this.sessions.set(accountId, { credentials, expiresAt: c.Expiration?.getTime() ?? now });
      return credentials;
    } catch (error) {
      if (awsErrorCode(error) === 'AccessDenied') throw new MemberRoleUnavailable(`cannot assume ${roleArn} (${awsErrorMessage(error)}): deploy organization/member-role.yml in ${accountId}, with this responder's role and external id in its trust`);
      throw error;
    }
  }
}
