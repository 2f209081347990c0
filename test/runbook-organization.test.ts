import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { respondToRuntimeFinding } from '../shared/pipeline';
import { runRunbook, type RunbookResult } from '../shared/runbook';
import { MEMBER_ROLE, type SimulatedDeployment } from '../sim/deployment';
import { ROOT, loadEvent, startDeployment, type Json } from './helpers/deployment';

/**
 * People's commands organization-wide (issue 11, item 5): `--account` (the payload's `account`) acts in a member's
 * account through its runbook role; status and history keep only the records whose target names the account.
 */

const SECURITY = '111122223333';
const MEMBER = '444455556666';
const OUTSIDER = '777788889999';
const ALICE = 'arn:aws:iam::111122223333:user/alice';

function inAccount(event: Json, accountId: string, findingId?: string): Json {
  let text = JSON.stringify(event).replaceAll(SECURITY, accountId);
  if (findingId) text = text.replaceAll(event.detail.id, findingId);
  return JSON.parse(text);
}

const REVERSE_SHELL = loadEvent('gd-ecs-fargate-reverse-shell.json');
const SCAN = inAccount(JSON.parse(readFileSync(join(ROOT, 'events/ecr/01-ecr-image-scan-complete-critical.json'), 'utf8')), MEMBER);
const taskArnOf = (event: Json): string => event.detail.resource.ecsClusterDetails.taskDetails.arn;

let deployment: SimulatedDeployment;
afterEach(() => deployment?.close());

describe('runbook --account', () => {
  it("quarantine-image and release-image of a member's image act in the member account through its runbook role", async () => {
    deployment = await startDeployment({ organization: { members: [MEMBER] } });
    const member = deployment.organization!.account(MEMBER, SCAN.region);
    member.seedFromEvent(SCAN);
    const image = { repository: SCAN.detail['repository-name'] as string, imageDigest: SCAN.detail['image-digest'] as string };
    const runbook = deployment.depsFor('runbook');

    const quarantined = await runRunbook({ runbook: 'quarantine-image', ...image, account: MEMBER, reason: 'critical CVE in payments image' }, runbook, ALICE);
    expect(quarantined.error).toBeUndefined();
    expect(quarantined.containment).toBe('contained (archive)');
    expect(member.ecr.image(image.repository, image.imageDigest)!.imageStatus).toBe('ARCHIVED');

    const released = await runRunbook({ runbook: 'release-image', ...image, account: MEMBER, reason: 'patched upstream, false alarm' }, runbook, ALICE);
    expect(released.actions.filter((a) => a.status === 'failed')).toEqual([]);
    expect(released.containment).toBe('released');
    expect(member.ecr.image(image.repository, image.imageDigest)!.imageStatus).not.toBe('ARCHIVED');
    expect(new Set(member.calls.filter((c) => c.service !== 'sts').map((c) => c.principal))).toEqual(new Set([`member:${MEMBER_ROLE}-runbook`]));
    expect(deployment.account.calls.filter((c) => c.service === 'ecr')).toEqual([]);
  });

  it('an account that disagrees with the task ARN, or one not allowed, is refused and changes nothing', async () => {
    deployment = await startDeployment({ organization: { members: [MEMBER] } });
    const event = inAccount(REVERSE_SHELL, MEMBER);
    deployment.organization!.account(MEMBER, event.region).seedFromEvent(event);
    const runbook = deployment.depsFor('runbook');

    const mismatch = await runRunbook({ runbook: 'isolate', taskArn: taskArnOf(event), account: SECURITY, reason: 'reverse shell' }, runbook, ALICE);
    expect(mismatch.error).toMatch(new RegExp(`account: is ${SECURITY}; the task ARN names account ${MEMBER}`));
    const outsider = await runRunbook({ runbook: 'quarantine-image', repository: 'payments', imageDigest: `sha256:${'a'.repeat(64)}`, account: OUTSIDER, reason: 'suspicious image' }, runbook, ALICE);
    expect(outsider.error).toMatch(new RegExp(`NOT ACTED ON: account ${OUTSIDER} is not one this responder acts in`));
    const release = await runRunbook({ runbook: 'release-image', repository: 'payments', imageDigest: `sha256:${'a'.repeat(64)}`, account: OUTSIDER, reason: 'suspicious image' }, runbook, ALICE);
    expect(release.error).toMatch(/NOT ACTED ON: account 777788889999 is not one/);
    expect(deployment.account.calls.filter((c) => ['ecs', 'ec2', 'ecr', 'sts'].includes(c.service))).toEqual([]);
  });

  it('without an organization, --account other than the deployment’s own is refused', async () => {
    deployment = await startDeployment();
    const result = await runRunbook({ runbook: 'history', account: MEMBER }, deployment.depsFor('runbook'), ALICE);
    expect(result.error).toMatch(/account: is 444455556666; this deployment acts only in its own account 111122223333/);
  });

  it('status and history keep only the records of the account named', async () => {
    deployment = await startDeployment({ organization: { members: [MEMBER] } });
    const home = inAccount(REVERSE_SHELL, SECURITY, 'aaaabbbbccccdddd0000111122223333');
    const remote = inAccount(REVERSE_SHELL, MEMBER, 'aaaabbbbccccdddd0000444455556666');
    deployment.account.seedFromEvent(home);
    deployment.organization!.account(MEMBER, remote.region).seedFromEvent(remote);
    await respondToRuntimeFinding(home, deployment.depsFor('runtimeFinding'));
    await respondToRuntimeFinding(remote, deployment.depsFor('runtimeFinding'));
    const runbook = deployment.depsFor('runbook');
    const ledgerIds = (r: RunbookResult) => new Set(r.records!.map((x) => x.ledgerId));

    const all = await runRunbook({ runbook: 'history' }, runbook, ALICE);
    expect(ledgerIds(all)).toEqual(new Set([`guardduty:${home.detail.id}`, `guardduty:${remote.detail.id}`]));
    const members = await runRunbook({ runbook: 'history', account: MEMBER }, runbook, ALICE);
    expect(ledgerIds(members)).toEqual(new Set([`guardduty:${remote.detail.id}`]));
    // Every step of the member's response is kept (the interface, the notification), not only those naming the task.
    expect(members.records!.length).toBe(all.records!.filter((r) => r.ledgerId === `guardduty:${remote.detail.id}`).length);
    expect(ledgerIds(await runRunbook({ runbook: 'history', account: SECURITY }, runbook, ALICE))).toEqual(new Set([`guardduty:${home.detail.id}`]));

    const status = await runRunbook({ runbook: 'status', findingId: remote.detail.id, account: MEMBER }, runbook, ALICE);
    expect(status.records!.length).toBeGreaterThan(0);
    const elsewhere = await runRunbook({ runbook: 'status', findingId: remote.detail.id, account: SECURITY }, runbook, ALICE);
    expect(elsewhere.error).toMatch(/^nothing matched/);
  });

  it('the CLI: --account with --replay and --param memberAccounts; history --account lists that account only', () => {
    const folder = mkdtempSync(join(tmpdir(), 'runbook-organization-'));
    try {
      const file = join(folder, 'member.json');
      writeFileSync(file, JSON.stringify(inAccount(REVERSE_SHELL, MEMBER)));
      const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
      const runbook = (...args: string[]) => spawnSync(join(ROOT, 'node_modules/.bin/tsx'), ['cli/runbook.ts', ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 170_000 });
      const history = runbook('history', '--replay', file, '--param', `memberAccounts=${MEMBER}`, '--account', MEMBER, '--json');
      expect(history.status).toBe(0);
      expect(history.stderr).toContain(`in account ${MEMBER}`);
      const records = (JSON.parse(history.stdout) as RunbookResult).records!;
      expect(records.length).toBeGreaterThan(0);
      const taskRecords = records.filter((r) => r.target?.startsWith('task:'));
      expect(taskRecords.length).toBeGreaterThan(0);
      expect(taskRecords.filter((r) => !r.target!.includes(`:${MEMBER}:task/`))).toEqual([]);
      const other = runbook('history', '--replay', file, '--param', `memberAccounts=${MEMBER}`, '--account', SECURITY, '--json');
      expect((JSON.parse(other.stdout) as RunbookResult).records).toEqual([]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }, 200_000);
});
