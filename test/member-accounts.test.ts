import { DescribeTasksCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { AccountNotAllowed, MemberAccounts, MemberRoleUnavailable, sessionNameFor, type MemberAccountsConfig } from '../shared/aws/member-accounts';
import { SimulatedOrganization, type MemberRole } from '../sim/organization';

/**
 * The simulated organization and the responder's member access, apart from any pipeline: STS AssumeRole succeeds only
 * into an existing member role whose trust allows the caller with the external id; the session's clients act in the
 * member account, as the member role.
 */

const SECURITY = '111122223333';
const MEMBER = '444455556666';
const OUTSIDER = '777788889999';
const ROLE = 'ecs-threat-responder-member';
const EXTERNAL_ID = 'etr-3f1c9a';
const CALLER = `arn:aws:iam::${SECURITY}:role/responder-runtimeFinding`;

const memberRole: MemberRole = {
  roleName: ROLE,
  trustPolicy: {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${SECURITY}:root` }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': EXTERNAL_ID }, ArnEquals: { 'aws:PrincipalArn': CALLER } } }],
  },
  policies: [{ name: 'read-tasks', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ecs:DescribeTasks', Resource: `arn:aws:ecs:*:${MEMBER}:task/*` }] } }],
};

function organization(now = () => new Date('2026-11-29T03:00:00Z')) {
  const org = new SimulatedOrganization(SECURITY, now);
  org.addMember(MEMBER);
  const home = org.account(SECURITY, 'us-east-1');
  return { org, home };
}

function access(org: SimulatedOrganization, config: Partial<MemberAccountsConfig> = {}, now?: () => Date) {
  const home = org.account(SECURITY, 'us-east-1');
  return new MemberAccounts(
    { accounts: [MEMBER], roleName: ROLE, externalId: EXTERNAL_ID, ...config },
    { homeAccountId: SECURITY, homeRegion: 'us-east-1', homeClientsIn: (region) => org.account(SECURITY, region).clients(), sts: home.clients().sts, organizations: () => Promise.resolve(home.organizationsClient()), clientsWith: (region, credentials) => org.clientsFor(credentials, region), now },
  );
}

/** The member's STS sees the caller as this role: the home account's STS model answers as CALLER. */
function asCaller(org: SimulatedOrganization) {
  (org.account(SECURITY, 'us-east-1').sts as unknown as { principalArn: string }).principalArn = CALLER;
}

describe('acting in a member account through its role', () => {
  it('assumes the member role with the external id; the clients act in the member account as that role; evidence and notifications stay home', async () => {
    const { org, home } = organization();
    asCaller(org);
    org.deployMemberRoles(MEMBER, [memberRole], { synthetic: true });
    const member = org.account(MEMBER, 'eu-west-1');
    const task = member.runTask({ cluster: 'payments', taskDefinitionArn: `arn:aws:ecs:eu-west-1:${MEMBER}:task-definition/api:1`, launchType: 'FARGATE', containers: [] });
    const homeClients = home.clients();

    const clients = await access(org).clientsFor(homeClients, MEMBER, 'eu-west-1', 'c4e6a8b0d2f44a6c8e0a2c4e6f8a0b1c');
    const out = await clients.ecs.send(new DescribeTasksCommand({ cluster: 'payments', tasks: [task.taskArn] }));

    expect(out.tasks?.[0]?.taskArn).toBe(task.taskArn);
    expect(member.callsTo('ecs', 'DescribeTasks')).toMatchObject([{ ok: true, principal: `member:${ROLE}` }]);
    expect(home.callsTo('sts', 'AssumeRole')).toMatchObject([{ ok: true, input: { RoleArn: `arn:aws:iam::${MEMBER}:role/${ROLE}`, ExternalId: EXTERNAL_ID, RoleSessionName: 'ecs-threat-responder-c4e6a8b0d2f44a6c8e0a2c4e6f8a0b1c' } }]);
    expect(clients.sns).toBe(homeClients.sns);
    expect(clients.s3).toBe(homeClients.s3);
  });

  it('the member role allows only what its policies say: anything else is refused in the member account', async () => {
    const { org, home } = organization();
    asCaller(org);
    org.deployMemberRoles(MEMBER, [memberRole], { synthetic: true });
    const task = org.account(MEMBER, 'eu-west-1').runTask({ cluster: 'payments', taskDefinitionArn: `arn:aws:ecs:eu-west-1:${MEMBER}:task-definition/api:1`, launchType: 'FARGATE', containers: [] });
    const clients = await access(org).clientsFor(home.clients(), MEMBER, 'eu-west-1', 'f1');
    await expect(clients.ecs.send(new DescribeTasksCommand({ cluster: 'payments', tasks: [task.taskArn] }))).resolves.toBeDefined();
    await expect(clients.ecs.send(new StopTaskCommand({ cluster: 'payments', task: task.taskArn, reason: 'test' }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect(org.account(MEMBER, 'eu-west-1').ecs.tasks.get(task.taskArn)!.desiredStatus).toBe('RUNNING');
  });

  it('STS: a session of 900 s to one hour (role chaining caps it there); anything else is a ValidationError', async () => {
    const { org } = organization();
    org.deployMemberRoles(MEMBER, [memberRole], { synthetic: true });
    const assume = (DurationSeconds?: number) => org.assumeRole(CALLER, { RoleArn: `arn:aws:iam::${MEMBER}:role/${ROLE}`, RoleSessionName: 'ecs-threat-responder-f1', ExternalId: EXTERNAL_ID, DurationSeconds });
    const expiry = async (d?: number) => ((await assume(d)).Credentials as { Expiration: Date }).Expiration.toISOString();
    expect([await expiry(), await expiry(900)]).toEqual(['2026-11-29T04:00:00.000Z', '2026-11-29T03:15:00.000Z']);
    await expect(assume(899)).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(assume(3601)).rejects.toThrow(/1 hour session limit for roles assumed by role chaining/);
  });

  it('reuses the session until five minutes before it expires, then assumes the role again', async () => {
    let now = new Date('2026-11-29T03:00:00Z');
    const { org, home } = organization(() => now);
    asCaller(org);
    org.deployMemberRoles(MEMBER, [memberRole], { synthetic: true });
    const member = access(org, {}, () => now);
    const first = await member.clientsFor(home.clients(), MEMBER, 'eu-west-1', 'f1');
    now = new Date('2026-11-29T03:54:00Z');
    const second = await member.clientsFor(home.clients(), MEMBER, 'eu-west-1', 'f2');
    expect(home.callsTo('sts', 'AssumeRole')).toHaveLength(1);
    // The same session's clients (and their connections) serve the next finding.
    expect(second.ecs).toBe(first.ecs);
    now = new Date('2026-11-29T03:56:00Z');
    await member.clientsFor(home.clients(), MEMBER, 'us-east-1', 'f3');
    expect(home.callsTo('sts', 'AssumeRole')).toHaveLength(2);
  });

  it('a member without the role, a wrong external id, or another caller: MemberRoleUnavailable, naming the template to deploy', async () => {
    const { org, home } = organization();
    asCaller(org);
    await expect(access(org).clientsFor(home.clients(), MEMBER, 'eu-west-1', 'f1')).rejects.toThrow(MemberRoleUnavailable);

    org.deployMemberRoles(MEMBER, [memberRole], { synthetic: true });
    await expect(access(org, { externalId: 'guess' }).clientsFor(home.clients(), MEMBER, 'eu-west-1', 'f1')).rejects.toThrow(/organization\/member-role\.yml/);

    (home.sts as unknown as { principalArn: string }).principalArn = `arn:aws:iam::${SECURITY}:role/someone-else`;
    await expect(access(org).clientsFor(home.clients(), MEMBER, 'eu-west-1', 'f1')).rejects.toThrow(MemberRoleUnavailable);
    // Each refusal was STS's own: a missing role, a wrong external id, a caller the trust does not name.
    expect(home.callsTo('sts', 'AssumeRole').map((c) => `${c.ok}/${c.errorCode}`)).toEqual(['false/AccessDenied', 'false/AccessDenied', 'false/AccessDenied']);
  });

  it('an account neither listed nor in the organization is refused before any call', async () => {
    const { org, home } = organization();
    const before = home.calls.length;
    await expect(access(org).clientsFor(home.clients(), OUTSIDER, 'eu-west-1', 'f1')).rejects.toThrow(AccountNotAllowed);
    expect(home.calls.slice(before)).toEqual([]);
  });

  it('organizationId: a member of the organization is allowed (DescribeAccount, read once), an account outside is not', async () => {
    const { org, home } = organization();
    const member = access(org, { accounts: [], organizationId: org.organizationId });
    expect(await member.allows(MEMBER)).toBe(true);
    expect(await member.allows(MEMBER)).toBe(true);
    expect(await member.allows(OUTSIDER)).toBe(false);
    expect(home.callsTo('organizations', 'DescribeAccount').map((c) => [c.input.AccountId, c.ok])).toEqual([
      [MEMBER, true],
      [OUTSIDER, false],
    ]);
  });

  it('session names are valid for STS whatever the finding id', () => {
    expect(sessionNameFor('a'.repeat(100))).toHaveLength(64);
    expect(sessionNameFor('image:repo/name@sha256:ab')).toMatch(/^[\w+=,.@-]{2,64}$/);
  });
});
