import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { respondToImageFinding } from '../shared/image-pipeline';
import { imageLedgerId } from '../shared/image/image-reference';
import { guardLaunchOrPush } from '../shared/launch-guard';
import { withMemberAccountAccess } from '../shared/notify/console-access';
import { isLinkable } from '../shared/notify/slack-message';
import { runRunbook } from '../shared/runbook';
import type { SimulatedDeployment } from '../sim/deployment';
import { ROOT, notifications, startDeployment, type Json } from './helpers/deployment';
import { runtimeFindingNotification } from './fixtures/notifications';

/**
 * Image ledger records are keyed by the image's registry (issue 11, item 5): the same repository and digest in two
 * member accounts are two images, quarantined, guarded, released and reported apart.
 */

const SECURITY = '111122223333';
const A = '444455556666';
const B = '555566667777';
const ALICE = 'arn:aws:iam::111122223333:user/alice';

const read = (path: string): Json => JSON.parse(readFileSync(join(ROOT, path), 'utf8'));
const inAccount = (event: Json, accountId: string): Json => JSON.parse(JSON.stringify(event).replaceAll(SECURITY, accountId));
const SCAN = read('events/ecr/01-ecr-image-scan-complete-critical.json');
const LAUNCH = read('events/ecs/ecs-task-launch-quarantined-digest.json');
const PUSH = read('events/ecr/07-ecr-image-action-push-quarantined-digest.json');
const REPOSITORY: string = SCAN.detail['repository-name'];
const DIGEST: string = SCAN.detail['image-digest'];
const image = { repository: REPOSITORY, imageDigest: DIGEST };

let deployment: SimulatedDeployment;
afterEach(() => deployment?.close());

/** A deployment with members A and B, each holding the same repository and digest (and the security account too). */
async function twoMembers() {
  deployment = await startDeployment({ organization: { members: [A, B] } });
  const a = deployment.organization!.account(A, SCAN.region);
  const b = deployment.organization!.account(B, SCAN.region);
  a.seedFromEvent(inAccount(SCAN, A));
  b.seedFromEvent(inAccount(SCAN, B));
  deployment.account.seedFromEvent(SCAN);
  return { a, b };
}

describe('image quarantine per account', () => {
  it("the home account's image keeps its short ledger id; a member's, or another region's, names the registry", () => {
    const home = { account: SECURITY, region: 'us-east-1' };
    expect(imageLedgerId({ ...home, repository: 'team/app', digest: DIGEST }, home)).toBe(`image:team/app@${DIGEST}`);
    expect(imageLedgerId({ account: A, region: 'us-east-1', repository: 'team/app', digest: DIGEST }, home)).toBe(`image:${A}.dkr.ecr.us-east-1.amazonaws.com/team/app@${DIGEST}`);
    expect(imageLedgerId({ account: SECURITY, region: 'eu-west-1', repository: 'team/app', digest: DIGEST }, home)).toBe(`image:${SECURITY}.dkr.ecr.eu-west-1.amazonaws.com/team/app@${DIGEST}`);
  });

  it("quarantined in member A, the same repository and digest in member B is not: B's launch and push go on, A's are guarded", async () => {
    const { a, b } = await twoMembers();
    const scanned = await respondToImageFinding(inAccount(SCAN, A), deployment.depsFor('imageFinding'));
    expect(scanned.containment).toBe('contained (archive)');
    expect(a.ecr.image(REPOSITORY, DIGEST)!.imageStatus).toBe('ARCHIVED');
    expect(b.ecr.image(REPOSITORY, DIGEST)!.imageStatus).toBe('ACTIVE');
    expect(deployment.account.ecr.image(REPOSITORY, DIGEST)!.imageStatus).toBe('ACTIVE');

    const guard = deployment.depsFor('taskLaunchGuard');
    const launchB = inAccount(LAUNCH, B);
    b.seedFromEvent(launchB);
    expect((await guardLaunchOrPush(launchB, guard)).ignored).toBe('no quarantined image among 1 container');
    expect(b.ecs.tasks.get(launchB.detail.taskArn)!.desiredStatus).toBe('RUNNING');
    const pushB = await guardLaunchOrPush(inAccount(PUSH, B), guard);
    expect(pushB.ignored).toMatch(/is not quarantined$/);

    const launchA = inAccount(LAUNCH, A);
    a.seedFromEvent(launchA);
    expect((await guardLaunchOrPush(launchA, guard)).containment).toBe('contained (stop-task)');
    expect(a.ecs.tasks.get(launchA.detail.taskArn)!.desiredStatus).toBe('STOPPED');
  });

  it("release-image --account A releases A's quarantine only; status and history show each account's image records", async () => {
    const { a, b } = await twoMembers();
    const runbook = deployment.depsFor('runbook');
    for (const account of [A, B]) {
      const quarantined = await runRunbook({ runbook: 'quarantine-image', ...image, account, reason: `bad image in ${account}` }, runbook, ALICE);
      expect(quarantined.containment).toBe('contained (archive)');
    }

    const released = await runRunbook({ runbook: 'release-image', ...image, account: A, reason: 'A patched it' }, runbook, ALICE);
    expect(released.containment).toBe('released');
    expect(a.ecr.image(REPOSITORY, DIGEST)!.imageStatus).not.toBe('ARCHIVED');
    expect(b.ecr.image(REPOSITORY, DIGEST)!.imageStatus).toBe('ARCHIVED');
    // B's quarantine still holds: its launches are stopped, A's are not.
    const guard = deployment.depsFor('taskLaunchGuard');
    const launchA = inAccount(LAUNCH, A);
    const launchB = inAccount(LAUNCH, B);
    a.seedFromEvent(launchA);
    b.seedFromEvent(launchB);
    expect((await guardLaunchOrPush(launchA, guard)).ignored).toBe('no quarantined image among 1 container');
    expect((await guardLaunchOrPush(launchB, guard)).containment).toBe('contained (stop-task)');

    const statusA = await runRunbook({ runbook: 'status', ...image, account: A }, runbook, ALICE);
    const statusB = await runRunbook({ runbook: 'status', ...image, account: B }, runbook, ALICE);
    const idA = `image:${A}.dkr.ecr.us-east-1.amazonaws.com/${REPOSITORY}@${DIGEST}`;
    const idB = `image:${B}.dkr.ecr.us-east-1.amazonaws.com/${REPOSITORY}@${DIGEST}`;
    const quarantineRows = (records: typeof statusA.records) => (records ?? []).filter((r) => r.action === 'quarantine-image');
    expect(quarantineRows(statusA.records).map((r) => [r.target, r.status])).toEqual([[idA, 'released']]);
    expect(quarantineRows(statusB.records).map((r) => [r.target, r.status])).toEqual([[idB, 'applied']]);
    // The home account holds nothing for this image: status says so rather than showing a member's.
    expect((await runRunbook({ runbook: 'status', ...image }, runbook, ALICE)).error).toMatch(/^nothing matched/);

    const historyA = await runRunbook({ runbook: 'history', account: A }, runbook, ALICE);
    const historyB = await runRunbook({ runbook: 'history', account: B }, runbook, ALICE);
    expect(new Set(quarantineRows(historyA.records).map((r) => r.target))).toEqual(new Set([idA]));
    expect(new Set(quarantineRows(historyB.records).map((r) => r.target))).toEqual(new Set([idB]));
  });

  it('release --finding of a member quarantine undoes it in that member, through its runbook role', async () => {
    const { a, b } = await twoMembers();
    const runbook = deployment.depsFor('runbook');
    await runRunbook({ runbook: 'quarantine-image', ...image, account: B, reason: 'bad image in B' }, runbook, ALICE);
    const scanned = await respondToImageFinding(inAccount(SCAN, A), deployment.depsFor('imageFinding'));
    expect(scanned.containment).toBe('contained (archive)');

    const released = await runRunbook({ runbook: 'release', findingId: scanned.finding!.id, reason: 'false positive' }, runbook, ALICE);
    expect(released.actions.filter((x) => x.status === 'failed')).toEqual([]);
    expect(a.ecr.image(REPOSITORY, DIGEST)!.imageStatus).toBe('ACTIVATING');
    expect(b.ecr.image(REPOSITORY, DIGEST)!.imageStatus).toBe('ARCHIVED');
    expect(deployment.account.calls.filter((c) => c.service === 'ecr')).toEqual([]);
  });
});

describe("notifications of a member's image", () => {
  it('carry the switch-role link for the member account, say the console cannot switch by link, and a release command with --account', async () => {
    await twoMembers();
    await respondToImageFinding(inAccount(SCAN, A), deployment.depsFor('imageFinding'));
    const [message] = notifications(deployment.account);
    expect(message!.links).toContainEqual({ label: `Switch role into account ${A} (then open the links above)`, url: `https://signin.aws.amazon.com/switchrole?account=${A}` });
    expect(message!.notes.some((n) => n.includes(`these resources are in account ${A}`) && n.includes('AWS has no console link that switches accounts'))).toBe(true);
    expect(message!.releaseCommand).toBe(`npm run runbook -- release-image --repository ${REPOSITORY} --digest ${DIGEST} --account ${A} --reason "<why>" --simulated`);
  });

  it("of the responder's own account stay as they were: no switch-role link, no note, no --account", async () => {
    await twoMembers();
    await respondToImageFinding(SCAN, deployment.depsFor('imageFinding'));
    const [message] = notifications(deployment.account);
    expect(message!.links.map((l) => l.label)).toEqual(['Image scan results']);
    expect(message!.notes.filter((n) => n.includes('switches accounts'))).toEqual([]);
    expect(message!.releaseCommand).toBe(`npm run runbook -- release-image --repository ${REPOSITORY} --digest ${DIGEST} --reason "<why>" --simulated`);
  });
});

describe('withMemberAccountAccess', () => {
  const launch = (taskAccount: string) =>
    runtimeFindingNotification({
      kind: 'launch-guard',
      finding: null,
      resource: { taskArn: `arn:aws:ecs:us-east-1:${taskAccount}:task/prod/0123456789abcdef0123456789abcdef`, images: [] },
      links: [{ label: 'ECS task', url: 'https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/prod/tasks/x/configuration?region=us-east-1' }],
      notes: [],
    });

  it("finds the account of a message without a finding (the launch guard's) from its task, and Slack links the switch-role page", () => {
    const out = withMemberAccountAccess(launch(A), { account: SECURITY, partition: 'aws' });
    expect(out.links.at(-1)).toEqual({ label: `Switch role into account ${A} (then open the links above)`, url: `https://signin.aws.amazon.com/switchrole?account=${A}` });
    expect(isLinkable(out.links.at(-1)!.url)).toBe(true);
    expect(withMemberAccountAccess(launch(SECURITY), { account: SECURITY, partition: 'aws' })).toEqual(launch(SECURITY));
  });

  it('outside the commercial partition gives the note only (its switch-role page is not the one documented here)', () => {
    const out = withMemberAccountAccess(launch(A), { account: SECURITY, partition: 'aws-us-gov' });
    expect(out.links).toEqual(launch(A).links);
    expect(out.notes).toHaveLength(1);
  });
});
