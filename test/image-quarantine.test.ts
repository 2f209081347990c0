import { PutImageCommand } from '@aws-sdk/client-ecr';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ReplaySession, type ReplayLine } from '../cli/replay-session';
import { quarantineTagFor } from '../shared/actions/quarantine-image';
import { normaliseImageFinding } from '../shared/events/image-finding';
import { respondToImageFinding } from '../shared/image-pipeline';
import { releaseImage } from '../shared/image-release';
import { guardLaunchOrPush } from '../shared/launch-guard';
import type { Notification } from '../shared/notification';
import { decideImage } from '../shared/policy/decide-image';
import { loadPolicyFile, parsePolicy, PolicyError } from '../shared/policy/policy';
import type { SimulatedAccount } from '../sim/account';
import { startSimulatedDeployment, type SimulatedDeployment } from '../sim/deployment';
import { ROOT, type Json } from './helpers/deployment';
import { CHECKOUT, launchEvent } from './helpers/image-events';

const EVENTS = join(ROOT, 'events');
const FOLDERS = ['ecr', 'ecs', 'inspector'];
const BATCH = 'sha256:1fb9f60023ee6442a9d39d742f204a6017c34e581655436ac7a02e17b1437ed6';
const PAYMENTS = 'sha256:3b0f7e5c1a9d2f4e6b8c0a1d3e5f7a9b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f';
const REPORTS = 'sha256:90673131797612f7f9380750234507c07128c29865d2e94fdaacb715d9d6ea91';

const event = (path: string): Json => JSON.parse(readFileSync(join(EVENTS, path), 'utf8'));
const shippedPolicy = () => loadPolicyFile(join(ROOT, 'policy.yml'));
const notificationsOf = (account: SimulatedAccount): Notification[] => account.sns.published.map((m) => JSON.parse(m.message) as Notification);
const WRITES = /^(UpdateImageStorageClass|PutImage|BatchDeleteImage|StopTask)$/;
const writesSince = (account: SimulatedAccount, from: number) => account.calls.slice(from).filter((c) => c.ok && WRITES.test(c.operation)).map((c) => `${c.service}:${c.operation}`);
const status = (account: SimulatedAccount, repository: string, digest: string) => account.ecr.image(repository, digest)?.imageStatus;

function critical(overrides: { repository?: string; digest?: string; tags?: string[]; id?: string } = {}): Json {
  const scan = event('ecr/01-ecr-image-scan-complete-critical.json');
  scan.id = overrides.id ?? scan.id;
  scan.detail['repository-name'] = overrides.repository ?? scan.detail['repository-name'];
  scan.detail['image-digest'] = overrides.digest ?? scan.detail['image-digest'];
  scan.detail['image-tags'] = overrides.tags ?? scan.detail['image-tags'];
  return scan;
}

const launch = launchEvent;

/**
 * Every event file under events/{ecr,ecs,inspector}, replayed in `npm start`'s order through one ReplaySession
 * (routed by serverless.yml's rules, seeded into one simulated account), each with the outcome it must have.
 */
describe('the image events in events/, replayed as npm start replays them', () => {
  let session: ReplaySession;
  let account: SimulatedAccount;
  const lines = new Map<string, ReplayLine[]>();
  const writes = new Map<string, string[]>();

  const files = FOLDERS.flatMap((folder) =>
    readdirSync(join(EVENTS, folder))
      .filter((name) => name.endsWith('.json'))
      .sort()
      .map((name) => `${folder}/${name}`),
  );

  beforeAll(async () => {
    session = await ReplaySession.start({ policyFile: join(ROOT, 'policy.yml') });
    account = session.account!;
    for (const file of files) {
      const from = account.calls.length;
      lines.set(file, await session.replayFile(join(EVENTS, file)));
      writes.set(file, writesSince(account, from));
    }
  });
  afterAll(() => session.close());

  const first = (file: string) => lines.get(file)![0]!;

  const expectations: Record<string, () => void | Promise<void>> = {
    'ecr/01-ecr-image-scan-complete-critical.json': () => {
      expect(first('ecr/01-ecr-image-scan-complete-critical.json')).toMatchObject({ rule: 'imageFinding', containment: 'contained (archive)', notifications: 1 });
      expect(writes.get('ecr/01-ecr-image-scan-complete-critical.json')).toEqual(['ecr:UpdateImageStorageClass']);
    },
    'ecr/02-ecr-image-scan-complete-critical-rescan.json': () => {
      expect(first('ecr/02-ecr-image-scan-complete-critical-rescan.json')).toMatchObject({ notifications: 0, ignored: expect.stringMatching(/already handled for this image/) });
      expect(writes.get('ecr/02-ecr-image-scan-complete-critical-rescan.json')).toEqual([]);
    },
    'ecr/03-ecr-image-scan-complete-untagged-critical.json': () => {
      expect(first('ecr/03-ecr-image-scan-complete-untagged-critical.json')).toMatchObject({ containment: 'contained (archive)' });
      expect(account.ecr.image('batch-worker', BATCH)).toMatchObject({ imageStatus: 'ARCHIVED', imageTags: [] });
    },
    'ecr/04-ecr-image-scan-complete-tagged-high.json': () => {
      const line = first('ecr/04-ecr-image-scan-complete-tagged-high.json');
      expect(line.decision).toEqual({ policyRule: 'image-high-notify', mode: 'enforce' });
      expect(line.actions.map((a) => a.action)).toEqual(['notify']);
      expect(writes.get('ecr/04-ecr-image-scan-complete-tagged-high.json')).toEqual([]);
    },
    'ecr/05-ecr-image-scan-complete-no-findings.json': () => {
      expect(first('ecr/05-ecr-image-scan-complete-no-findings.json')).toMatchObject({ ignored: 'no image rule matches', notifications: 0 });
    },
    'ecr/06-ecr-image-scan-failed.json': async () => {
      const line = first('ecr/06-ecr-image-scan-failed.json');
      expect(line).toMatchObject({ decision: { policyRule: 'image-scan-incomplete' }, notifications: 1 });
      expect(line.actions.map((a) => a.action)).toEqual(['notify']);
      expect(writes.get('ecr/06-ecr-image-scan-failed.json')).toEqual([]);
      const records = await session.ledger.actionRecords('image:legacy-app@sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9');
      expect(records).toEqual(expect.arrayContaining([expect.objectContaining({ step: 'scan-status:FAILED', action: 'record-scan', status: 'skipped' })]));
    },
    'ecr/07-ecr-image-action-push-quarantined-digest.json': () => {
      const line = first('ecr/07-ecr-image-action-push-quarantined-digest.json');
      expect(line.rule).toBe('taskLaunchGuard');
      // The push restored the archived digest (as ECR does); the guard archives it again and says so.
      expect(line.actions[0]).toMatchObject({ action: 'quarantine-image', status: 'applied', mechanism: 'archive' });
      expect(line.notifications).toBe(1);
      expect(status(account, 'checkout-api', CHECKOUT)).toBe('ARCHIVED');
    },
    'ecr/08-ecr-image-action-push-new-image.json': () => {
      expect(first('ecr/08-ecr-image-action-push-new-image.json')).toMatchObject({ rule: 'taskLaunchGuard', ignored: expect.stringMatching(/is not quarantined/) });
      expect(writes.get('ecr/08-ecr-image-action-push-new-image.json')).toEqual([]);
    },
    'ecs/ecs-task-launch-pending-without-digest.json': () => {
      // No imageDigest in the event: DescribeTasks says the task runs checkout-api:latest = the quarantined digest.
      const line = first('ecs/ecs-task-launch-pending-without-digest.json');
      expect(line).toMatchObject({ rule: 'taskLaunchGuard', containment: 'contained (stop-task)', notifications: 1 });
      const task = account.ecs.tasks.get('arn:aws:ecs:us-east-1:111122223333:task/staging-cluster/9f8e7d6c5b4a39281706f5e4d3c2b1a0')!;
      expect(task.desiredStatus).toBe('STOPPED');
      expect(task.stoppedReason).toMatch(/quarantined image checkout-api/);
      expect(task.stoppedReason).toContain(`image:checkout-api@${CHECKOUT}`);
    },
    'ecs/ecs-task-launch-quarantined-digest.json': () => {
      const [line, ...emitted] = lines.get('ecs/ecs-task-launch-quarantined-digest.json')!;
      expect(line).toMatchObject({ containment: 'contained (stop-task)' });
      expect(account.ecs.tasks.get('arn:aws:ecs:us-east-1:111122223333:task/prod-cluster/4e8a1c2b3d4f5a6b7c8d9e0f1a2b3c4d')!.desiredStatus).toBe('STOPPED');
      // ECS's replacement from the same digest cannot pull the archived image; the guard finds it already stopped.
      const replacement = emitted.find((l) => l.rule === 'taskLaunchGuard')!;
      expect(replacement.ignored).toMatch(/already stopped: CannotPullContainerError.*archived/);
      expect(writes.get('ecs/ecs-task-launch-quarantined-digest.json')).toEqual(['ecs:StopTask']);
    },
    'ecs/ecs-task-state-change-running-fargate.json': () => {
      expect(first('ecs/ecs-task-state-change-running-fargate.json')).toMatchObject({ rule: 'taskLaunchGuard', ignored: 'no quarantined image among 1 container' });
      expect(account.ecs.tasks.get('arn:aws:ecs:us-east-1:111122223333:task/prod-cluster/7c2f9d3b1e0a4f5c9b8a7d6e5f4c3b2a')!.lastStatus).toBe('RUNNING');
      expect(writes.get('ecs/ecs-task-state-change-running-fargate.json')).toEqual([]);
    },
    'inspector/inspector2-finding-ecr-critical-active.json': () => {
      // The HIGH scan of this image only notified; a CRITICAL finding raises the severity, so it acts now.
      expect(first('inspector/inspector2-finding-ecr-critical-active.json')).toMatchObject({ rule: 'imageFinding', containment: 'contained (archive)' });
      expect(status(account, 'payments-api', PAYMENTS)).toBe('ARCHIVED');
      const message = notificationsOf(account).find((n) => n.kind === 'image-response' && n.image?.digest === PAYMENTS && n.containment.state === 'contained')!;
      expect(message.image!.topVulnerabilities[0]).toMatchObject({ id: 'CVE-2025-00000', package: 'libexample', fixedVersion: '2.4.1', exploitAvailable: true, epss: 0.91234 });
      expect(message.image!.severityCounts).toEqual({ CRITICAL: 1 });
    },
    'inspector/inspector2-finding-ecr-critical-another-cve.json': () => {
      // One message per image, not one per CVE.
      expect(first('inspector/inspector2-finding-ecr-critical-another-cve.json')).toMatchObject({ notifications: 0, ignored: expect.stringMatching(/one message per image/) });
    },
    'inspector/inspector2-finding-ecr-critical-closed.json': () => {
      expect(first('inspector/inspector2-finding-ecr-critical-closed.json')).toMatchObject({ notifications: 0, ignored: expect.stringMatching(/^CLOSED: recorded, never acted on/) });
      expect(writes.get('inspector/inspector2-finding-ecr-critical-closed.json')).toEqual([]);
    },
    'inspector/inspector2-scan-ecr-critical-repository-arn.json': () => {
      expect(first('inspector/inspector2-scan-ecr-critical-repository-arn.json')).toMatchObject({ containment: 'contained (archive)' });
      expect(status(account, 'reports-job', REPORTS)).toBe('ARCHIVED');
    },
    'inspector/inspector2-scan-ecr-initial.json': () => {
      expect(first('inspector/inspector2-scan-ecr-initial.json')).toMatchObject({ ignored: 'no image rule matches' });
    },
  };

  it('has an expected outcome for every event file (and no stale expectation)', () => {
    expect(Object.keys(expectations).sort()).toEqual([...files].sort());
  });

  for (const [file, check] of Object.entries(expectations)) {
    it(`${file}`, async () => {
      expect(lines.get(file)?.[0]?.error).toBeUndefined();
      await check();
    });
  }

  it('sent one message per image per scan, each with the release command and the scan console link when quarantined', () => {
    const quarantined = notificationsOf(account).filter((n) => n.kind === 'image-response' && n.containment.state === 'contained' && !/^(Push|Re-quarantined)/.test(n.headline));
    expect(quarantined.map((n) => n.image!.repository).sort()).toEqual(['batch-worker', 'checkout-api', 'payments-api', 'reports-job']);
    const checkout = quarantined.find((n) => n.image!.repository === 'checkout-api')!;
    expect(checkout).toMatchObject({
      ledgerId: `image:checkout-api@${CHECKOUT}`,
      releaseCommand: `npm run runbook -- release-image --repository checkout-api --digest ${CHECKOUT} --reason "<why>" --simulated`,
      image: { tags: ['2.7.0', 'latest'], severityCounts: { CRITICAL: 10, MEDIUM: 9 }, mechanism: 'archive' },
    });
    expect(checkout.image!.scanConsoleUrl).toContain(`/ecr/repositories/private/111122223333/checkout-api/_/image/${CHECKOUT}/scan-results`);
    expect(checkout.headline).toMatch(/^Quarantined \(archive\): checkout-api@sha256:c8be7b03fd59… \(10 CRITICAL, 9 MEDIUM\)$/);
    const guard = notificationsOf(account).filter((n) => n.kind === 'launch-guard');
    expect(guard).toHaveLength(2);
    expect(guard[0]!.headline).toMatch(/^Stopped: task in staging-cluster\/.* started from quarantined image checkout-api@/);
  });
});

describe('image quarantine on the simulated deployment', () => {
  let deployment: SimulatedDeployment;
  afterEach(() => deployment?.close());

  async function deploy(policy = shippedPolicy(), config = {}) {
    deployment = await startSimulatedDeployment({ policy, config });
    return { account: deployment.account, runbook: deployment.depsFor('runbook'), launchGuard: deployment.depsFor('taskLaunchGuard') };
  }

  async function seedAndHandle(raw: Json) {
    deployment.account.seedFromEvent(raw);
    const handle = raw['detail-type'] === 'ECR Image Scan' || String(raw['detail-type']).startsWith('Inspector2') ? respondToImageFinding : guardLaunchOrPush;
    return handle(raw, deployment.depsFor(handle === respondToImageFinding ? 'imageFinding' : 'taskLaunchGuard'));
  }

  it('a critical scan, then a task launch from that digest: image archived, task stopped; a clean launch untouched', async () => {
    const { account } = await deploy();
    await seedAndHandle(critical());
    expect(status(account, 'checkout-api', CHECKOUT)).toBe('ARCHIVED');
    const result = await seedAndHandle(launch());
    expect(result.containment).toBe('contained (stop-task)');
    expect(account.ecs.tasks.get(launch().detail.taskArn)!.desiredStatus).toBe('STOPPED');

    const clean = launch(`sha256:${'ab'.repeat(32)}`, 'fedcba9876543210fedcba9876543210');
    clean.detail.containers[0].image = '111122223333.dkr.ecr.us-east-1.amazonaws.com/checkout-api:2.8.0';
    const from = account.calls.length;
    expect((await seedAndHandle(clean)).ignored).toMatch(/no quarantined image/);
    expect(account.ecs.tasks.get(clean.detail.taskArn)!.lastStatus).toBe('RUNNING');
    expect(writesSince(account, from)).toEqual([]);
  });

  it('repeated scans are idempotent: one archive call, one message; a stopped launch is handled once', async () => {
    const { account } = await deploy();
    for (const id of ['a', 'b', 'c']) await seedAndHandle(critical({ id: `scan-${id}` }));
    expect(account.callsTo('ecr', 'UpdateImageStorageClass')).toHaveLength(1);
    expect(notificationsOf(account)).toHaveLength(1);
    await seedAndHandle(launch());
    expect((await guardLaunchOrPush(launch(), deployment.depsFor('taskLaunchGuard'))).ignored).toMatch(/already stopped/);
    expect(account.callsTo('ecs', 'StopTask')).toHaveLength(1);
  });

  it('lists the tasks running the digest in the message, and stops them when the rule says stopRunningTasks', async () => {
    const yaml = readFileSync(join(ROOT, 'policy.yml'), 'utf8').replace('stopRunningTasks: false', 'stopRunningTasks: true');
    const { account } = await deploy(parsePolicy(yaml));
    const running = launch(CHECKOUT, '11111111111111111111111111111111');
    account.seedFromEvent(running);
    await seedAndHandle(critical());
    const [message] = notificationsOf(account);
    expect(message!.image!.tasksUsingImage).toContain(running.detail.taskArn);
    expect(account.ecs.tasks.get(running.detail.taskArn)!).toMatchObject({ desiredStatus: 'STOPPED', stoppedReason: expect.stringContaining('image:checkout-api@') });
  });

  it('stopRunningTasks leaves a protected task running, and says so', async () => {
    const yaml = readFileSync(join(ROOT, 'policy.yml'), 'utf8').replace('stopRunningTasks: false', 'stopRunningTasks: true');
    const { account } = await deploy(parsePolicy(yaml));
    const running = launch(CHECKOUT, '22222222222222222222222222222222');
    account.seedFromEvent(running);
    account.ecs.tasks.get(running.detail.taskArn)!.tags['responder:protect'] = 'true';
    const result = await seedAndHandle(critical());
    expect(account.ecs.tasks.get(running.detail.taskArn)!.lastStatus).toBe('RUNNING');
    expect(result.actions).toContainEqual(expect.objectContaining({ status: 'skipped', mechanism: 'safety', detail: 'Protected resource (tag responder:protect=true protects it): not stopped' }));
    expect(status(account, 'checkout-api', CHECKOUT)).toBe('ARCHIVED');
  });

  it('stopRunningTasks with the safety counter throttled: the stop is failed with the code, not skipped as if the limit were reached', async () => {
    const yaml = readFileSync(join(ROOT, 'policy.yml'), 'utf8').replace('stopRunningTasks: false', 'stopRunningTasks: true');
    const { account } = await deploy(parsePolicy(yaml));
    const running = launch(CHECKOUT, '33333333333333333333333333333333');
    account.seedFromEvent(running);
    const ledger = deployment.depsFor('imageFinding').ledger;
    const takeSlot = ledger.takeSlot.bind(ledger);
    // The per-cluster counter of the task's stop is throttled; the image's own (account) slot is not.
    ledger.takeSlot = (scope, ...rest) => (scope.startsWith('cluster#') ? Promise.reject(Object.assign(new Error('throttled'), { name: 'ThrottlingException', $metadata: {} })) : takeSlot(scope, ...rest));
    const result = await seedAndHandle(critical());
    const stop = result.actions.find((a) => a.target === `task:${running.detail.taskArn}`);
    expect(stop).toMatchObject({ status: 'failed', mechanism: 'safety', errorCode: 'ThrottlingException', detail: expect.stringMatching(/^SAFETY CHECK FAILED/) });
    expect(account.ecs.tasks.get(running.detail.taskArn)!.lastStatus).toBe('RUNNING');
  });

  it('release-image restores the storage class, records who and why, and lets the digest launch again', async () => {
    const { account, runbook } = await deploy();
    await seedAndHandle(critical());
    const released = await releaseImage({ repository: 'checkout-api', digest: CHECKOUT, by: 'alice@example.com', reason: 'false positive: CVE not reachable' }, runbook);
    expect(released.containment).toBe('released');
    // A restore takes time (restore-image.html): pulls work once ECR finishes it.
    expect(status(account, 'checkout-api', CHECKOUT)).toBe('ACTIVATING');
    account.ecr.settle();
    expect(status(account, 'checkout-api', CHECKOUT)).toBe('ACTIVE');
    const [record] = (await runbook.ledger.recordsForTarget(`image:checkout-api@${CHECKOUT}`)).filter((r) => r.action === 'quarantine-image');
    expect(record).toMatchObject({ status: 'released', releasedBy: 'alice@example.com', releaseReason: 'false positive: CVE not reachable', beforeState: { imageStatus: 'ACTIVE', tags: ['2.7.0', 'latest'] } });
    expect((await seedAndHandle(launch())).ignored).toMatch(/no quarantined image/);
    expect(notificationsOf(account).at(-1)).toMatchObject({ kind: 'runbook', containment: { state: 'released' }, requestedBy: 'alice@example.com' });
    expect((await releaseImage({ repository: 'checkout-api', digest: CHECKOUT, by: 'alice', reason: 'again' }, runbook)).ignored).toMatch(/not quarantined/);
  });

  it('a push that restores an archived, quarantined digest is quarantined again and reported', async () => {
    const { account, launchGuard } = await deploy();
    await seedAndHandle(critical());
    account.drainEvents();
    // A CI job re-pushes the manifest: ECR restores the archived image to standard storage (archive-image.html).
    const manifest = account.ecr.image('checkout-api', CHECKOUT)!.manifest;
    await account.clients().ecr.send(new PutImageCommand({ repositoryName: 'checkout-api', imageManifest: manifest, imageTag: 'hotfix' }));
    expect(status(account, 'checkout-api', CHECKOUT)).toBe('ACTIVE');
    const [push] = account.drainEvents().filter((e) => e['detail-type'] === 'ECR Image Action');
    const result = await guardLaunchOrPush(push, launchGuard);
    expect(result.actions[0]).toMatchObject({ action: 'quarantine-image', status: 'applied', mechanism: 'archive' });
    expect(status(account, 'checkout-api', CHECKOUT)).toBe('ARCHIVED');
    expect(notificationsOf(account).at(-1)!.headline).toMatch(/^Re-quarantined \(archive\) after a push restored it: checkout-api@/);
    // The same delivery again does nothing more.
    expect((await guardLaunchOrPush(push, launchGuard)).ignored).toMatch(/^already handled for this image/);
  });

  it('where archiving is refused, keeps only a quarantine tag (recording the removed tags), and release puts them back', async () => {
    const { account, runbook, launchGuard } = await deploy();
    account.faults.inject({ service: 'ecr', operation: 'UpdateImageStorageClass', error: { code: 'ValidationException', status: 400, message: 'archive is not supported for this image' }, times: 5 });
    const result = await seedAndHandle(critical());
    expect(result.actions.slice(0, 2)).toEqual([
      expect.objectContaining({ action: 'quarantine-image', status: 'unsupported', mechanism: 'archive', errorCode: 'ValidationException' }),
      expect.objectContaining({ action: 'quarantine-image', status: 'applied', mechanism: 'image-tags', detail: expect.stringContaining('removed 2.7.0, latest') }),
    ]);
    expect(result.containment).toBe('partially-contained (image-tags)');
    const tag = quarantineTagFor(CHECKOUT);
    expect(account.ecr.image('checkout-api', CHECKOUT)).toMatchObject({ imageStatus: 'ACTIVE', imageTags: [tag] });
    // The responder's own retag is reported by ECR as a push: the guard knows it for its own.
    const own = account.drainEvents().find((e) => e['detail-type'] === 'ECR Image Action')!;
    expect((await guardLaunchOrPush(own, launchGuard)).ignored).toBe("the responder's own quarantine tag");
    // Pulls by digest still work, so the launch guard is what stops a task.
    expect((await seedAndHandle(launch())).containment).toBe('contained (stop-task)');

    await releaseImage({ repository: 'checkout-api', digest: CHECKOUT, by: 'bob', reason: 'fixed upstream' }, runbook);
    expect(account.ecr.image('checkout-api', CHECKOUT)!.imageTags.sort()).toEqual(['2.7.0', 'latest']);
  });

  it('never removes the last tag: an untagged image keeps its quarantine tag and is not deleted', async () => {
    const { account } = await deploy();
    account.faults.inject({ service: 'ecr', operation: 'UpdateImageStorageClass', error: { code: 'ValidationException', status: 400 }, times: 5 });
    await seedAndHandle(critical({ repository: 'batch-worker', digest: BATCH, tags: [] }));
    expect(account.ecr.image('batch-worker', BATCH)).toMatchObject({ imageTags: [quarantineTagFor(BATCH)] });
    expect(account.callsTo('ecr', 'BatchDeleteImage')).toHaveLength(0);
  });

  it('observe mode: quarantine and launch guard describe and notify, change nothing', async () => {
    const { account } = await deploy(shippedPolicy(), { forceObserve: true });
    const scan = await seedAndHandle(critical());
    expect(scan).toMatchObject({ containment: 'observed', decision: { mode: 'observe' } });
    expect(scan.actions[0]).toMatchObject({ action: 'quarantine-image', status: 'planned' });
    const guard = await seedAndHandle(launch());
    expect(guard.actions[0]).toMatchObject({ action: 'launch-guard', status: 'planned', mechanism: 'stop-task' });
    expect(writesSince(account, 0)).toEqual([]);
    expect(status(account, 'checkout-api', CHECKOUT)).toBe('ACTIVE');
    expect(notificationsOf(account).map((n) => [n.kind, n.containment.state])).toEqual([
      ['image-response', 'observed'],
      ['launch-guard', 'observed'],
    ]);
  });

  it('a failed scan and a CLOSED finding change nothing; a malformed scan is rejected naming the field', async () => {
    const { account } = await deploy();
    await seedAndHandle(event('ecr/06-ecr-image-scan-failed.json'));
    await seedAndHandle(event('inspector/inspector2-finding-ecr-critical-closed.json'));
    expect(writesSince(account, 0)).toEqual([]);
    const bad = critical();
    delete bad.detail['image-digest'];
    expect((await respondToImageFinding(bad, deployment.depsFor('imageFinding'))).error).toBe('detail.image-digest: is required');
  });
});

describe('image policy (pure)', () => {
  const config = { stage: 't', tableName: 't', evidenceBucket: 'b', evidenceKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000', topicArn: 'arn:aws:sns:us-east-1:111122223333:t', quarantineSecurityGroups: {}, protectedClusters: [], defaultMode: 'enforce' as const, forceObserve: false };
  const isMutating = (name: string) => name !== 'notify';
  const active = () => normaliseImageFinding(event('inspector/inspector2-finding-ecr-critical-active.json'));
  const policy = (extra: string) =>
    parsePolicy(`version: 1
rules:
  - name: exploitable
    match: { kind: image, exploitAvailable: true, minEpss: 0.5, minCounts: { CRITICAL: 1 }, excludeRepositories: ["sandbox-*"] }
    actions: [quarantine-image, notify]
${extra}`);

  it('normalises Inspector findings: CVE, package, fixed version, exploit, EPSS; a repository ARN in Inspector2 Scan', () => {
    expect(active()).toMatchObject({ kind: 'image', repository: 'payments-api', digest: PAYMENTS, tags: ['1.4.2', 'latest'], actionable: true, severityCounts: { CRITICAL: 1 } });
    expect(active().vulnerabilities).toEqual([{ id: 'CVE-2025-00000', severity: 'CRITICAL', package: 'libexample', fixedVersion: '2.4.1', exploitAvailable: true, fixAvailable: true, epss: 0.91234 }]);
    expect(normaliseImageFinding(event('inspector/inspector2-scan-ecr-critical-repository-arn.json'))).toMatchObject({ repository: 'reports-job', severityCounts: { CRITICAL: 2, HIGH: 4, MEDIUM: 1 } });
  });

  it('applies Inspector filters and repository excludes', () => {
    const today = new Date('2025-06-10');
    expect(decideImage(active(), policy(''), config, isMutating, today)).toMatchObject({ act: true, decision: { policyRule: 'exploitable', severityRank: 4 } });
    const noExploit = { ...active(), vulnerabilities: [{ ...active().vulnerabilities[0]!, exploitAvailable: false }] };
    expect(decideImage(noExploit, policy(''), config, isMutating, today)).toMatchObject({ act: false });
    expect(decideImage({ ...active(), repository: 'sandbox-x' }, policy(''), config, isMutating, today)).toMatchObject({ act: false });
    // A basic scan has no per-CVE data: an Inspector-filtered rule never matches it.
    expect(decideImage(normaliseImageFinding(critical()), policy(''), config, isMutating, today)).toMatchObject({ act: false });
  });

  it('sets accepted risks aside until they expire', () => {
    const accepted = policy(`acceptedRisks:\n  - { id: CVE-2025-00000, expires: "2025-06-30", reason: not reachable }`);
    expect(decideImage(active(), accepted, config, isMutating, new Date('2025-06-30T23:00:00Z'))).toEqual(expect.objectContaining({ act: false, reason: 'accepted risk CVE-2025-00000 until 2025-06-30: not reachable' }));
    expect(decideImage(active(), accepted, config, isMutating, new Date('2025-07-01'))).toMatchObject({ act: true });
  });

  it('accepts quarantine-image in a runtime rule, rejects a task action in an image rule and a malformed accepted risk', () => {
    expect(parsePolicy('version: 1\nrules:\n  - name: r\n    actions: [quarantine-image]\n').rules[0]!.steps[0]!.action).toBe('quarantine-image');
    expect(() => parsePolicy('version: 1\nrules:\n  - name: r\n    match: { kind: image }\n    actions: [stop-task]\n')).toThrow(PolicyError);
    expect(() => parsePolicy('version: 1\nrules:\n  - name: r\n    actions: [notify]\nacceptedRisks: [{ id: CVE-1, expires: soon, reason: x }]\n')).toThrow(/expires is a date/);
  });
});
