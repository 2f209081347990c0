import type { AwsCredentialIdentity } from '@smithy/types';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { AwsClients } from '../shared/aws/clients';
import { SimulatedAccount } from './account';
import { IamEvaluator } from './iam/iam-evaluator';
import type { PolicyDocument } from './iam/stack-policies';
import { deterministicUuid, hashHex } from './ids';
import { serviceError } from './service-error';

/** A role deployed in a member account: who may assume it (trust policy) and what it may do. */
export interface MemberRole {
  roleName: string;
  trustPolicy: PolicyDocument;
  policies: { name: string; policy: PolicyDocument }[];
}

interface Session {
  accountId: string;
  roleName: string;
  expiresAt: Date;
}

/** An assumed role's credentials last an hour by default (STS AssumeRole, DurationSeconds). */
const SESSION_SECONDS = 3600;

/**
 * Several simulated accounts under one AWS Organizations organization, and STS between them: AssumeRole succeeds
 * only into a role that exists in the target account and whose trust policy allows the caller, with the external id
 * and session name as condition keys (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html). Calls made with the
 * session's credentials reach the member account and are evaluated against the member role's own policies.
 * An account outside the organization can be simulated too: it is simply not listed as a member.
 */
export class SimulatedOrganization {
  readonly organizationId: string;
  private readonly members = new Set<string>();
  /** Each account's member roles, and whether a test wrote them (not the shipped template: recorded apart). */
  private readonly roles = new Map<string, { roles: MemberRole[]; synthetic: boolean }>();
  private readonly accounts = new Map<string, SimulatedAccount>();
  private readonly sessions = new Map<string, Session>();

  constructor(
    readonly managementAccountId: string,
    private readonly now: () => Date = () => new Date(),
    /** The organization's id (a stage's organizationId, in replay); derived from the management account by default. */
    organizationId?: string,
  ) {
    this.organizationId = organizationId ?? `o-${hashHex(managementAccountId, 10)}`;
    this.members.add(managementAccountId);
  }

  addMember(accountId: string): void {
    this.members.add(accountId);
  }

  isMember(accountId: string): boolean {
    return this.members.has(accountId);
  }

  /** The account's resources in a region (created on first use), reachable through assumed-role sessions. */
  account(accountId: string, region: string): SimulatedAccount {
    const key = `${accountId}/${region}`;
    let account = this.accounts.get(key);
    if (!account) {
      account = new SimulatedAccount({ accountId, region, now: this.now, organization: this });
      this.accounts.set(key, account);
      const deployed = this.roles.get(accountId);
      if (deployed) this.enforceMemberRoles(account, deployed);
    }
    return account;
  }

  /** Every account's regional resources created so far (the adopted security account's too). */
  allAccounts(): SimulatedAccount[] {
    return [...this.accounts.values()];
  }

  /** Registers an account created elsewhere (the security account of a deployment) so sessions can reach it. */
  adopt(account: SimulatedAccount): void {
    this.accounts.set(`${account.accountId}/${account.region}`, account);
  }

  /** What a StackSet instance of the member template creates in the account: its roles (IAM is global). */
  deployMemberRoles(accountId: string, roles: MemberRole[], options: { synthetic?: boolean } = {}): void {
    const deployed = { roles, synthetic: options.synthetic ?? false };
    this.roles.set(accountId, deployed);
    for (const [key, account] of this.accounts) if (key.startsWith(`${accountId}/`)) this.enforceMemberRoles(account, deployed);
  }

  private enforceMemberRoles(account: SimulatedAccount, { roles, synthetic }: { roles: MemberRole[]; synthetic: boolean }): void {
    const functions = Object.fromEntries(
      roles.map((role) => {
        const principal = memberPrincipal(role.roleName);
        const roleArn = `arn:aws:iam::${account.accountId}:role/${role.roleName}`;
        return [principal, { functionName: principal, roleLogicalId: role.roleName, roleArn, sessionArn: `arn:aws:sts::${account.accountId}:assumed-role/${role.roleName}/session`, policies: role.policies }];
      }),
    );
    account.enforceIam(new IamEvaluator({ functions, resourcePolicies: {} }, account.accountId, { recordDir: process.env.RESPONDER_IAM_RECORD_DIR, synthetic }));
  }

  /** sts:AssumeRole as the caller (a role ARN), after the caller's own IAM allowed the call. */
  async assumeRole(callerRoleArn: string, input: { RoleArn?: string; RoleSessionName?: string; ExternalId?: string; DurationSeconds?: number }): Promise<Record<string, unknown>> {
    const roleArn = String(input.RoleArn ?? '');
    const [, , , , accountId = '', resource = ''] = roleArn.split(':');
    const roleName = resource.replace(/^role\//, '');
    const sessionName = String(input.RoleSessionName ?? '');
    // RoleSessionName: 2-64 characters of [\w+=,.@-] (API_AssumeRole).
    if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) throw serviceError('sts', 'ValidationError', 400, `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint`);
    const role = this.roles.get(accountId)?.roles.find((r) => r.roleName === roleName);
    const denied = () => serviceError('sts', 'AccessDenied', 403, `User: ${callerRoleArn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
    // A role that does not exist is refused exactly like one whose trust policy says no: AWS does not tell them apart.
    if (!role) throw denied();
    // Cross-account, both sides must allow. The caller's own policies were evaluated in its account before this call
    // (SimulatedAccount.authorize); here only the trust policy decides, so the identity side stands as allowed.
    const trusted = await runSimulation(
      {
        identityPolicies: [{ name: 'evaluated-in-the-callers-account', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: roleArn }] } }],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: role.trustPolicy,
        request: {
          action: 'sts:AssumeRole',
          principal: callerRoleArn,
          resource: { accountId, resource: roleArn },
          contextVariables: {
            'aws:PrincipalArn': callerRoleArn,
            'aws:PrincipalAccount': callerRoleArn.split(':')[4] ?? '',
            ...(input.ExternalId !== undefined ? { 'sts:ExternalId': input.ExternalId } : {}),
            'sts:RoleSessionName': sessionName,
          },
        },
      },
      {},
    );
    if (trusted.resultType === 'error') throw new Error(`simulated STS: cannot evaluate the trust policy of ${roleArn}: ${JSON.stringify(trusted.errors)}`);
    if (trusted.overallResult !== 'Allowed') throw denied();
    // 900 s at least; at most the role's maximum session, and one hour when a role assumes a role (role chaining), as a
    // Lambda's role does here (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html, DurationSeconds).
    const seconds = input.DurationSeconds ?? SESSION_SECONDS;
    if (seconds < 900) throw serviceError('sts', 'ValidationError', 400, `1 validation error detected: Value '${seconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900`);
    if (seconds > SESSION_SECONDS) throw serviceError('sts', 'ValidationError', 400, 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.');
    const expiresAt = new Date(this.now().getTime() + seconds * 1000);
    const accessKeyId = `ASIA${hashHex(`${roleArn}/${sessionName}/${this.sessions.size}`, 16).toUpperCase()}`;
    this.sessions.set(accessKeyId, { accountId, roleName, expiresAt });
    return {
      Credentials: { AccessKeyId: accessKeyId, SecretAccessKey: 'simulated', SessionToken: deterministicUuid(accessKeyId), Expiration: expiresAt },
      AssumedRoleUser: { Arn: `arn:aws:sts::${accountId}:assumed-role/${roleName}/${sessionName}`, AssumedRoleId: `AROA${hashHex(roleArn, 16).toUpperCase()}:${sessionName}` },
    };
  }

  /** Organizations, as a delegated administrator reads it: DescribeAccount (API reference: AccountNotFoundException). */
  handle(operation: string, input: Record<string, unknown>): unknown {
    if (operation !== 'DescribeAccount') return undefined;
    const accountId = typeof input.AccountId === 'string' ? input.AccountId : '';
    if (!this.members.has(accountId)) throw serviceError('organizations', 'AccountNotFoundException', 400, "You specified an account that doesn't exist.");
    return { Account: { Id: accountId, Arn: `arn:aws:organizations::${this.managementAccountId}:account/${this.organizationId}/${accountId}`, Status: 'ACTIVE', Name: accountId } };
  }

  /** Clients for a session's credentials: the member account in that region, acting as the member role. */
  clientsFor(credentials: AwsCredentialIdentity, region: string): AwsClients {
    const session = this.sessions.get(credentials.accessKeyId);
    if (!session) throw new Error('simulated organization: credentials that no AssumeRole issued');
    // An expired session is refused as AWS refuses expired tokens.
    if (session.expiresAt <= this.now()) throw serviceError('sts', 'ExpiredToken', 400, 'The security token included in the request is expired');
    return this.account(session.accountId, region).clients({ principal: memberPrincipal(session.roleName) });
  }
}

/** How a member role appears as a principal in a member account's call log and IAM records. */
export function memberPrincipal(roleName: string): string {
  return `member:${roleName}`;
}
