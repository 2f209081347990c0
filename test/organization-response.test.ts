import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { respondToImageFinding } from '../shared/image-pipeline';
import { guardLaunchOrPush } from '../shared/launch-guard';
import { cleanUpStoppedTask } from '../shared/task-stopped';
import { respondToRuntimeFinding } from '../shared/pipeline';
import { runRunbook } from '../shared/runbook';
import type { SimulatedDeployment } from '../sim/deployment';
import { MEMBER_ROLE } from '../sim/deployment';
import { denyEntriesFor, loadEvent, notifications, startDeployment, type Json } from './helpers/deployment';

/**
 * An organization-wide deployment: the responder in the security account (111122223333) acts in a member account
 * through the member role of organization/member-role.yml (resolved as a StackSet instance creates it), with IAM
 * evaluated on both sides: the responder's function role to call sts:AssumeRole, the member role's trust (external id,
 * session name, caller), and every call in the member account against the member role's own policies.
 */

const SECURITY = '111122223333';
const MEMBER = '444455556666';
const BARE = '555566667777';
const OUTSIDER = '777788889999';

/** The sample finding as a member account's GuardDuty reports it (same task, in the member's account). */
function inAccount(event: Json, accountId: string): Json {
  return JSON.parse(JSON.stringify(event).replaceAll(SECURITY, accountId));
}

const REVERSE_SHELL = loadEvent('gd-ecs-fargate-reverse-shell.json');
const taskArnOf = (event: Json): string => event.detail.resource.ecsClusterDetails.taskDetails.arn;

let deployment: SimulatedDeployment;
afterEach(() => deployment?.close());

describe('a finding from a member account', () => {
  it('is contained in the member account through the member role; evidence, ledger and notification stay in the security account', async () => {
    deployment = await startDeployment({ organization: { members: [MEMBER] } });
    const event = inAccount(REVERSE_SHELL, MEMBER);
    const member = deployment.organization!.account(MEMBER, event.region);
    member.seedFromEvent(event);
    const task = member.ecs.tasks.get(taskArnOf(event))!;
    const eni = member.ec2.networkInterfaces.get(task.eni!.networkInterfaceId)!;

    const result = await respondToRuntimeFinding(event, deployment.depsFor('runtimeFinding'));

    expect(result.containment).toBe('contained (network-acl)');
    expect(denyEntriesFor(member, eni.subnetId, `${eni.privateIpAddress}/32`)).toHaveLength(2);
    expect(task.desiredStatus).toBe('STOPPED');
    // Every call in the member account was made as the member role, and IAM allowed each.
    const memberCalls = member.calls.filter((c) => c.service !== 'sts');
    expect(memberCalls.length).toBeGreaterThan(0);
    expect(new Set(memberCalls.map((c) => c.principal))).toEqual(new Set([`member:${MEMBER_ROLE}`]));
    expect(memberCalls.filter((c) => c.iamDenied)).toEqual([]);
    // The role was assumed once, with the external id and a session named after the finding.
    expect(deployment.account.callsTo('sts', 'AssumeRole')).toMatchObject([
      { ok: true, principal: 'runtimeFinding', input: { RoleArn: `arn:aws:iam::${MEMBER}:role/${MEMBER_ROLE}`, RoleSessionName: `ecs-threat-responder-${event.detail.id}` } },
    ]);
    // Nothing changed in the security account's own network; the evidence and the message are there.
    expect(deployment.account.calls.filter((c) => c.service === 'ec2' || c.service === 'ecs')).toEqual([]);
    expect(deployment.account.s3.objects(deployment.config.evidenceBucket).map((o) => o.key)).toContain(`findings/${event.detail.id}/event.json`);
    expect(notifications(deployment.account)).toHaveLength(1);
  });

  it('from an account outside the organization: refused, said in a notification, nothing called in any account', async () => {
    deployment = await startDeployment({ organization: { members: [MEMBER] } });
    const event = inAccount(REVERSE_SHELL, OUTSIDER);

    const result = await respondToRuntimeFinding(event, deployment.depsFor('runtimeFinding'));

    expect(result.error).toMatch(new RegExp(`^NOT ACTED ON: account ${OUTSIDER} is not one this responder acts in`));
    expect(result.containment).toBe('not-contained');
    expect(deployment.account.calls.filter((c) => c.service !== 'sns')).toEqual([]);
    expect(notifications(deployment.account)).toHaveLength(1);
    expect(notifications(deployment.account)[0]!.notes).toContainEqual(expect.stringMatching(/is not one this responder acts in/));
  });

  it("the responder's own account, forwarded from another region: contained in that region with its own role", async () => {
    deployment = await startDeployment({ organization: { members: [MEMBER] } });
    const event = JSON.parse(JSON.stringify(REVERSE_SHELL).replaceAll('us-east-1', 'eu-west-1'));
    const frankfurt = deployment.inRegion('eu-west-1').account;
    frankfurt.seedFromEvent(event);
    const result = await respondToRuntimeFinding(event, deployment.depsFor('runtimeFinding'));
    expect(result.containment).toBe('contained (network-acl)');
    expect(frankfurt.callsTo('ec2', 'CreateNetworkAclEntry').filter((c) => c.ok).map((c) => c.principal)).toEqual(['runtimeFinding', 'runtimeFinding']);
    expect(frankfurt.ecs.tasks.get(taskArnOf(event))!.desiredStatus).toBe('STOPPED');
    // Nothing was looked for in the responder's own region, and no role was assumed.
    expect(deployment.account.callsTo('ecs', 'DescribeTasks')).toEqual([]);
    expect(deployment.account.callsTo('sts', 'AssumeRole')).toEqual([]);
  });

  it("a member's stopped service task: the printed quarantine command names the member's account", async () => {
    deployment = await startDeployment({ organization: { members: [MEMBER] } });
    const event = inAccount(REVERSE_SHELL, MEMBER);
    deployment.organization!.account(MEMBER, event.region).seedFromEvent(event);
    const result = await respondToRuntimeFinding(event, deployment.depsFor('runtimeFinding'));
    expect(result.actions.find((a) => a.action === 'stop-task')).toMatchObject({ status: 'applied' });
    const note = notifications(deployment.account)[0]!.notes.find((n) => n.includes('quarantine-image'))!;
    expect(note).toMatch(/quarantine-image --repository orders-web --digest sha256:[0-9a-f]{64} --account 444455556666 --reason/);
  });

  it('from a member without the role: refused once, naming the template to deploy; a re-delivery does not try again', async () => {
    deployment = await startDeployment({ organization: { members: [MEMBER, BARE], withoutMemberRole: [BARE] } });
    const event = inAccount(REVERSE_SHELL, BARE);
    deployment.organization!.account(BARE, event.region).seedFromEvent(event);

    const result = await respondToRuntimeFinding(event, deployment.depsFor('runtimeFinding'));

    expect(result.error).toMatch(/^NOT ACTED ON: cannot assume arn:aws:iam::555566667777:role\/ecs-threat-responder-member .*deploy organization\/member-role\.yml/);
    expect(deployment.organization!.account(BARE, event.region).ecs.tasks.get(taskArnOf(event))!.desiredStatus).toBe('RUNNING');
    expect(notifications(deployment.account)).toHaveLength(1);
    // Said once, not once per list the notification joins.
    expect(notifications(deployment.account)[0]!.notes.filter((n) => n === result.error)).toHaveLength(1);
    const again = await respondToRuntimeFinding(event, deployment.depsFor('runtimeFinding'));
    expect(again.ignored).toMatch(/^duplicate delivery/);
    expect(deployment.account.callsTo('sts', 'AssumeRole')).toHaveLength(1);
  });

  it('organizationId: a member of the organization is acted in after Organizations says it is one', async () => {
    deployment = await startDeployment({ organization: { members: [MEMBER], byOrganizationId: true } });
    const event = inAccount(REVERSE_SHELL, MEMBER);
    deployment.organization!.account(MEMBER, event.region).seedFromEvent(event);

    const result = await respondToRuntimeFinding(event, deployment.depsFor('runtimeFinding'));

    expect(result.containment).toBe('contained (network-acl)');
    expect(deployment.account.callsTo('organizations', 'DescribeAccount')).toMatchObject([{ ok: true, principal: 'runtimeFinding', input: { AccountId: MEMBER } }]);
  });
});

describe("a person's command on a member's task", () => {
  it('isolate then release go through the member runbook role, the only one that may undo', async () => {
    deployment = await startDeployment({ organization: { members: [MEMBER], byOrganizationId: true } });
    const event = inAccount(REVERSE_SHELL, MEMBER);
    const member = deployment.organization!.account(MEMBER, event.region);
    member.seedFromEvent(event);
    const taskArn = taskArnOf(event);
    const eni = member.ec2.networkInterfaces.get(member.ecs.tasks.get(taskArn)!.eni!.networkInterfaceId)!;
    const runbook = deployment.depsFor('runbook');

    const isolated = await runRunbook({ runbook: 'isolate', taskArn, reason: 'reverse shell in payments' }, runbook, 'arn:aws:iam::111122223333:user/alice');
    expect(isolated.containment).toBe('contained (network-acl)');
    expect(denyEntriesFor(member, eni.subnetId, `${eni.privateIpAddress}/32`)).toHaveLength(2);

    const released = await runRunbook({ runbook: 'release', taskArn, reason: 'false positive' }, runbook, 'arn:aws:iam::111122223333:user/bob');
    expect(released.actions.filter((a) => a.status === 'failed')).toEqual([]);
    expect(denyEntriesFor(member, eni.subnetId, `${eni.privateIpAddress}/32`)).toEqual([]);
    expect(new Set(member.calls.filter((c) => c.service !== 'sts').map((c) => c.principal))).toEqual(new Set([`member:${MEMBER_ROLE}-runbook`]));
  });
});

describe("a member's images, launches and stopped tasks", () => {
  const readEvent = (path: string): Json => JSON.parse(readFileSync(path, 'utf8'));
  const SCAN = inAccount(readEvent('events/ecr/01-ecr-image-scan-complete-critical.json'), MEMBER);
  const LAUNCH = inAccount(readEvent('events/ecs/ecs-task-launch-quarantined-digest.json'), MEMBER);

  it('a critical scan archives the image in the member account; a task launched from it there is stopped', async () => {
    deployment = await startDeployment({ organization: { members: [MEMBER], byOrganizationId: true } });
    const member = deployment.organization!.account(MEMBER, SCAN.region);
    member.seedFromEvent(SCAN);

    const scanned = await respondToImageFinding(SCAN, deployment.depsFor('imageFinding'));
    expect(scanned.containment).toBe('contained (archive)');
    expect(member.ecr.image(SCAN.detail['repository-name'], SCAN.detail['image-digest'])!.imageStatus).toBe('ARCHIVED');

    member.seedFromEvent(LAUNCH);
    const guarded = await guardLaunchOrPush(LAUNCH, deployment.depsFor('taskLaunchGuard'));
    expect(guarded.containment).toBe('contained (stop-task)');
    expect(member.ecs.tasks.get(LAUNCH.detail.taskArn)!.desiredStatus).toBe('STOPPED');
    expect(new Set(member.calls.filter((c) => c.service !== 'sts').map((c) => c.principal))).toEqual(new Set([`member:${MEMBER_ROLE}`]));
    expect(deployment.account.calls.filter((c) => c.service === 'ecr' || c.service === 'ecs')).toEqual([]);
  });

  it("a member's contained task stops: the clean-up removes its network-ACL deny in the member account", async () => {
    deployment = await startDeployment({ organization: { members: [MEMBER], byOrganizationId: true } });
    const event = inAccount(REVERSE_SHELL, MEMBER);
    const member = deployment.organization!.account(MEMBER, event.region);
    member.seedFromEvent(event);
    const eni = member.ec2.networkInterfaces.get(member.ecs.tasks.get(taskArnOf(event))!.eni!.networkInterfaceId)!;
    await respondToRuntimeFinding(event, deployment.depsFor('runtimeFinding'));
    member.ecs.settle();
    const stopped = member.drainEvents().find((e) => e.detail.taskArn === taskArnOf(event) && e.detail.lastStatus === 'STOPPED')!;

    const cleaned = await cleanUpStoppedTask(stopped, deployment.depsFor('taskStopped'));

    expect(cleaned.actions).toMatchObject([{ action: 'release', status: 'applied', mechanism: 'network-acl' }]);
    expect(denyEntriesFor(member, eni.subnetId, `${eni.privateIpAddress}/32`)).toEqual([]);
  });
});
