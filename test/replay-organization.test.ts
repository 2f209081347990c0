import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ReplaySession, type ReplayLine } from '../cli/replay-session';
import { MEMBER_ROLE } from '../sim/deployment';
import { EVENTS_DIR, ROOT, notifications } from './helpers/deployment';

/**
 * Replay across accounts (issue 11, item 7): `--param memberAccounts=…` (or organizationId) makes the simulated
 * account the security account of an organization; a member's finding is seeded and acted on in the member's own
 * simulated account through the member role, and every action in the JSON line says which account it acted in.
 */

const SECURITY = '111122223333';
const MEMBER = '444455556666';
const BARE = '555566667777';
const OUTSIDER = '777788889999';

const folder = mkdtempSync(join(tmpdir(), 'replay-organization-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** The sample reverse-shell finding as `account`'s GuardDuty reports it, with its own finding id. */
function findingFile(account: string, findingSuffix: string): string {
  const text = readFileSync(join(EVENTS_DIR, 'gd-ecs-fargate-reverse-shell.json'), 'utf8').replaceAll(SECURITY, account).replaceAll('c4e6a8b0d2f44a6c8e0a2c4e6f8a0b1c', `c4e6a8b0d2f44a6c8e0a2c4e6f8a0${findingSuffix}`);
  const path = join(folder, `${account}-${findingSuffix}.json`);
  writeFileSync(path, text);
  return path;
}

let session: ReplaySession | undefined;
afterEach(async () => {
  await session?.close();
  session = undefined;
});

const params = { memberAccounts: MEMBER };

describe('replay across accounts', () => {
  it("a member's finding is contained in the member's simulated account through the member role; the JSON line names each action's account", async () => {
    session = await ReplaySession.start({ params });
    const [line, ...emitted] = await session.replayFile(findingFile(MEMBER, 'a01'));

    expect(line).toMatchObject({ rule: 'runtimeFinding', containment: 'contained (network-acl)' });
    const byAction = Object.fromEntries(line!.actions.filter((a) => a.status === 'applied').map((a) => [a.action, (a as { account?: string }).account]));
    expect(byAction).toMatchObject({ 'capture-evidence': SECURITY, tag: MEMBER, 'isolate-task': MEMBER, 'stop-task': MEMBER, notify: SECURITY });
    expect(line!.actions.every((a) => typeof (a as { account?: string }).account === 'string')).toBe(true);

    const deployment = session.simulated!;
    const member = deployment.organization!.account(MEMBER, 'us-east-1');
    // The task was seeded in the member account and stopped there, as the member role; nothing in the security account's workload.
    const stopped = member.calls.filter((c) => c.operation === 'StopTask');
    expect(stopped).toMatchObject([{ ok: true, principal: `member:${MEMBER_ROLE}` }]);
    expect(deployment.account.calls.filter((c) => c.service === 'ecs' || c.service === 'ec2')).toEqual([]);
    expect(deployment.account.callsTo('sts', 'AssumeRole').filter((c) => c.principal === 'runtimeFinding')).toMatchObject([{ ok: true, input: { RoleArn: `arn:aws:iam::${MEMBER}:role/${MEMBER_ROLE}` } }]);
    // The member task's stop was replayed too, and cleaned up in the member account.
    expect(emitted.find((l) => l.rule === 'taskStopped')).toMatchObject({ actions: [{ action: 'release', status: 'applied', account: MEMBER }] });
    // IAM was evaluated in the member account too, and refused nothing.
    expect(session.accounts().map((a) => a.accountId)).toContain(MEMBER);
    expect(session.accounts().flatMap((a) => a.iamEvaluator?.refused ?? [])).toEqual([]);
  }, 120_000);

  it('a finding from an account not allowed: refused, the line says why, nothing changed in any account', async () => {
    session = await ReplaySession.start({ params });
    const [line] = await session.replayFile(findingFile(OUTSIDER, 'b02'));

    expect(line!.error).toMatch(new RegExp(`^NOT ACTED ON: account ${OUTSIDER} is not one this responder acts in`));
    expect(line!.containment).toBe('not-contained');
    expect(line!.actions).toEqual([expect.objectContaining({ action: 'notify', status: 'applied', account: SECURITY })]);
    const deployment = session.simulated!;
    expect(deployment.account.calls.filter((c) => c.service === 'ecs' || c.service === 'ec2' || c.service === 'sts')).toEqual([]);
    expect(deployment.organization!.account(OUTSIDER, 'us-east-1').calls).toEqual([]);
    expect(notifications(deployment.account)[0]!.notes).toContainEqual(expect.stringMatching(/is not one this responder acts in/));
  }, 120_000);

  it('a finding from a member without the role (--without-member-role): refused, naming the template to deploy; its task keeps running', async () => {
    session = await ReplaySession.start({ params, withoutMemberRole: [BARE] });
    const path = findingFile(BARE, 'c03');
    const [line] = await session.replayFile(path);

    expect(line!.error).toMatch(new RegExp(`^NOT ACTED ON: cannot assume arn:aws:iam::${BARE}:role/${MEMBER_ROLE} .*deploy organization/member-role\\.yml in ${BARE}`));
    expect(line!.actions.map((a) => a.action)).toEqual(['notify']);
    const bare = session.simulated!.organization!.account(BARE, 'us-east-1');
    expect(new Set([...bare.ecs.tasks.values()].map((t) => t.desiredStatus))).toEqual(new Set(['RUNNING']));
    expect(bare.calls.filter((c) => c.service !== 'sts')).toEqual([]);
  }, 120_000);

  it('memberRoleName and memberExternalId: the members get the roles the StackSet would give them, and the responder assumes them so', async () => {
    session = await ReplaySession.start({ params: { ...params, memberRoleName: 'acme-ir-member', memberExternalId: 'acme-ir-4b1e7c' } });
    const [line] = await session.replayFile(findingFile(MEMBER, 'g09'));

    expect(line!.containment).toBe('contained (network-acl)');
    const deployment = session.simulated!;
    expect(deployment.account.callsTo('sts', 'AssumeRole').filter((c) => c.principal === 'runtimeFinding')).toMatchObject([
      { ok: true, input: { RoleArn: `arn:aws:iam::${MEMBER}:role/acme-ir-member`, ExternalId: 'acme-ir-4b1e7c' } },
    ]);
    expect(deployment.organization!.account(MEMBER, 'us-east-1').calls.find((c) => c.operation === 'StopTask')).toMatchObject({ ok: true, principal: 'member:acme-ir-member' });
    expect(session.accounts().flatMap((a) => a.iamEvaluator?.refused ?? [])).toEqual([]);
  }, 200_000);

  it('organizationId: an account the events come from is a member of that organization, checked with Organizations', async () => {
    session = await ReplaySession.start({ params: { organizationId: 'o-a1b2c3d4e5' } });
    const [line] = await session.replayFile(findingFile(MEMBER, 'd04'));

    expect(line!.containment).toBe('contained (network-acl)');
    expect(line!.actions.find((a) => a.action === 'stop-task')).toMatchObject({ status: 'applied', account: MEMBER });
    expect(session.simulated!.account.callsTo('organizations', 'DescribeAccount').filter((c) => c.principal === 'runtimeFinding')).toMatchObject([{ ok: true, input: { AccountId: MEMBER } }]);
  }, 120_000);

  it('with no organization, each account is adopted as before, and actions name it', async () => {
    session = await ReplaySession.start();
    const [line] = await session.replayFile(findingFile(MEMBER, 'e05'));

    expect(line!.containment).toBe('contained (network-acl)');
    expect(new Set(line!.actions.map((a) => (a as { account?: string }).account))).toEqual(new Set([MEMBER]));
    expect(session.simulated!.account.accountId).toBe(MEMBER);
    expect(session.simulated!.organization).toBeUndefined();
  }, 120_000);

  it('the CLI: --param memberAccounts and --without-member-role; the JSON lines say each account and why', () => {
    const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    const replay = (...args: string[]) => spawnSync(join(ROOT, 'node_modules/.bin/tsx'), ['cli/replay.ts', ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 170_000 });
    const run = replay('--json', '--param', `memberAccounts=${MEMBER}`, '--without-member-role', BARE, findingFile(MEMBER, 'f06'), findingFile(BARE, 'f07'));
    expect(run.status).toBe(1); // the refusal is an error line
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as ReplayLine);
    expect(lines[0]!.actions.find((a) => a.action === 'isolate-task' && a.status === 'applied')).toMatchObject({ account: MEMBER });
    expect(lines.at(-1)!.error).toMatch(/^NOT ACTED ON: cannot assume/);
    expect(run.stderr).toContain(`security account ${SECURITY} acting in members ${MEMBER}, ${BARE}`);

    const usage = replay('--without-member-role', BARE, findingFile(MEMBER, 'f08'));
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--without-member-role needs an organization/);
  }, 200_000);
});
