import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ReplaySession } from '../cli/replay-session';
import type { ActionRecord } from '../shared/ledger';
import { respondToRuntimeFinding } from '../shared/pipeline';
import { runRunbook } from '../shared/runbook';
import type { SimulatedDeployment } from '../sim/deployment';
import { ROOT, loadEvent, mutatingCalls, policyFrom, seedAndRespond, startDeployment, type Json } from './helpers/deployment';

const REVERSE_SHELL = 'gd-ecs-fargate-reverse-shell.json';
const BRIDGE_TASK = 'gd-ecs-ec2-bridge-reverse-shell.json';

/** Isolation only, so the task keeps running and there is something to release. */
const isolateOnlyPolicy = policyFrom(`
version: 1
rules:
  - name: isolate-only
    match: { severity: [MEDIUM, HIGH, CRITICAL] }
    actions:
      - capture-evidence
      - tag
      - isolate-task: { fallback: [network-acl] }
      - notify
`);

let deployment: SimulatedDeployment | undefined;
afterEach(async () => {
  await deployment?.close();
  deployment = undefined;
});

function taskArnOf(event: Json): string {
  return event.detail.resource.ecsClusterDetails.taskDetails.arn as string;
}

function aclSnapshot(d: SimulatedDeployment) {
  return JSON.stringify([...d.account.ec2.networkAcls.values()].map((acl) => acl.entries));
}

describe('runbook commands', () => {
  it('refuses a mutating command without a reason, naming the field, and changes nothing', async () => {
    deployment = await startDeployment();
    const event = loadEvent(REVERSE_SHELL);
    deployment.account.seedFromEvent(event);
    const before = deployment.account.calls.length;
    for (const reason of [undefined, '', '   ']) {
      const result = await runRunbook({ runbook: 'isolate', taskArn: taskArnOf(event), reason }, deployment.depsFor('runbook'), 'arn:aws:iam::111122223333:user/oncall');
      expect(result.error).toMatch(/^reason: is required for isolate/);
      expect(result.actions).toEqual([]);
    }
    expect(mutatingCalls(deployment.account, before)).toEqual([]);
  });

  it('rejects a bad target with the field named', async () => {
    deployment = await startDeployment();
    const result = await runRunbook({ runbook: 'stop', taskArn: 'not-an-arn', reason: 'x' }, deployment.depsFor('runbook'));
    expect(result.error).toMatch(/^taskArn: must be a long-format ECS task ARN/);
  });

  it('isolates an EC2 bridge-mode task by host swap and release restores the exact groups', async () => {
    deployment = await startDeployment({ policy: isolateOnlyPolicy });
    const event = loadEvent(BRIDGE_TASK);
    deployment.account.seedFromEvent(event);
    const taskArn = taskArnOf(event);
    const instanceEni = [...deployment.account.ec2.networkInterfaces.values()].find((eni) => !eni.requesterManaged && eni.attachment?.instanceId);
    expect(instanceEni).toBeDefined();
    const originalGroups = [...instanceEni!.groupIds];

    const isolated = await runRunbook({ runbook: 'isolate', taskArn, reason: 'crypto miner seen by SRE', hostIsolation: true, ticket: 'INC-7' }, deployment.depsFor('runbook'), 'arn:aws:iam::111122223333:user/alice');
    expect(isolated.error).toBeUndefined();
    expect(isolated.containment).toBe('contained (security-group)');
    const quarantined = deployment.account.ec2.networkInterfaces.get(instanceEni!.networkInterfaceId)!;
    expect(quarantined.groupIds).toHaveLength(1);
    expect(quarantined.groupIds).not.toEqual(originalGroups);
    expect(quarantined.tags['responder:original-groups']).toBe(originalGroups.join(','));

    const notification = JSON.parse(deployment.account.sns.published.at(-1)!.message);
    expect(notification).toMatchObject({ kind: 'runbook', requestedBy: 'arn:aws:iam::111122223333:user/alice', reason: 'crypto miner seen by SRE', ticket: 'INC-7' });

    const released = await runRunbook({ runbook: 'release', taskArn, reason: 'false positive: mining benchmark' }, deployment.depsFor('runbook'), 'arn:aws:iam::111122223333:user/bob');
    expect(released.actions.filter((a) => a.status === 'failed')).toEqual([]);
    const restored = deployment.account.ec2.networkInterfaces.get(instanceEni!.networkInterfaceId)!;
    expect(restored.groupIds).toEqual(originalGroups);
    expect(restored.tags['responder:original-groups']).toBeUndefined();
    expect(restored.tags['responder:state']).toBeUndefined(); // previous tags back exactly (it had none)

    const records = await deployment.ledger.recordsForTarget(`task:${taskArn}`);
    const swap = records.find((r) => r.mechanism === 'security-group')!;
    expect(swap).toMatchObject({ status: 'released', releasedBy: 'arn:aws:iam::111122223333:user/bob', releaseReason: 'false positive: mining benchmark', requestedBy: 'arn:aws:iam::111122223333:user/alice' });
    const releaseNote = JSON.parse(deployment.account.sns.published.at(-1)!.message);
    expect(releaseNote).toMatchObject({ kind: 'runbook', containment: { state: 'released' }, requestedBy: 'arn:aws:iam::111122223333:user/bob' });
  });

  it('release after an automatic NACL containment removes exactly the entries that were added', async () => {
    deployment = await startDeployment({ policy: isolateOnlyPolicy });
    const event = loadEvent(REVERSE_SHELL);
    deployment.account.seedFromEvent(event);
    const before = aclSnapshot(deployment);
    const contained = await seedAndRespond(deployment, event);
    expect(contained.containment).toBe('contained (network-acl)');
    expect(aclSnapshot(deployment)).not.toBe(before);

    const released = await runRunbook({ runbook: 'release', findingId: `guardduty:${event.detail.id}`, reason: 'load test' }, deployment.depsFor('runbook'), 'oncall');
    expect(released.actions.map((a) => [a.action, a.mechanism, a.status])).toEqual(
      expect.arrayContaining([
        ['isolate-task', 'network-acl', 'applied'],
        ['tag', 'tags', 'applied'],
      ]),
    );
    expect(aclSnapshot(deployment)).toBe(before);

    // A second release is a no-op that says so.
    const again = await runRunbook({ runbook: 'release', findingId: `guardduty:${event.detail.id}`, reason: 'load test' }, deployment.depsFor('runbook'), 'oncall');
    expect(again.actions.filter((a) => a.action !== 'notify').every((a) => a.status === 'skipped' && /already released/.test(a.detail ?? ''))).toBe(true);
    expect(aclSnapshot(deployment)).toBe(before);
  });

  it('release after a stop says the task cannot be restarted and releases the rest', async () => {
    deployment = await startDeployment();
    const event = loadEvent(REVERSE_SHELL);
    await seedAndRespond(deployment, event);
    expect(deployment.account.ecs.tasks.get(taskArnOf(event))?.desiredStatus).toBe('STOPPED');
    const released = await runRunbook({ runbook: 'release', findingId: `guardduty:${event.detail.id}`, reason: 'review done' }, deployment.depsFor('runbook'), 'oncall');
    expect(released.actions).toContainEqual(expect.objectContaining({ action: 'stop-task', status: 'unsupported', detail: expect.stringMatching(/cannot be restarted/) }));
    expect(released.actions.filter((a) => a.status === 'failed')).toEqual([]);
  });

  it('release after a crash between write-ahead and change restores the original state', async () => {
    deployment = await startDeployment({ policy: isolateOnlyPolicy });
    const event = loadEvent(BRIDGE_TASK);
    deployment.account.seedFromEvent(event);
    const instanceEni = [...deployment.account.ec2.networkInterfaces.values()].find((eni) => !eni.requesterManaged && eni.attachment?.instanceId)!;
    const originalGroups = [...instanceEni.groupIds];
    // The outcome of the swap is never recorded (as if the process died right after the change): the record stays `intent`.
    const ledger = deployment.depsFor('runbook').ledger;
    const recordOutcome = ledger.recordOutcome.bind(ledger);
    ledger.recordOutcome = (audit, step, outcome, target) =>
      step === 'isolate-task:security-group' || step === 'isolate-task' ? Promise.reject(new Error('crash')) : recordOutcome(audit, step, outcome, target);
    await runRunbook({ runbook: 'isolate', taskArn: taskArnOf(event), reason: 'suspicious', hostIsolation: true }, deployment.depsFor('runbook'), 'oncall').catch(() => undefined);
    ledger.recordOutcome = recordOutcome;
    expect(deployment.account.ec2.networkInterfaces.get(instanceEni.networkInterfaceId)!.groupIds).not.toEqual(originalGroups);
    const intent = (await ledger.recordsForTarget(`task:${taskArnOf(event)}`)).find((r: ActionRecord) => r.mechanism === 'security-group')!;
    expect(intent.status).toBe('intent');
    expect(intent.beforeState).toMatchObject({ groups: originalGroups });

    await runRunbook({ runbook: 'release', taskArn: taskArnOf(event), reason: 'recover after crash' }, deployment.depsFor('runbook'), 'oncall');
    expect(deployment.account.ec2.networkInterfaces.get(instanceEni.networkInterfaceId)!.groupIds).toEqual(originalGroups);
  });

  it('status lists what was done, with mode, mechanism, who and why', async () => {
    deployment = await startDeployment();
    const event = loadEvent(REVERSE_SHELL);
    await seedAndRespond(deployment, event);
    const status = await runRunbook({ runbook: 'status', taskArn: taskArnOf(event) }, deployment.depsFor('runbook'), 'oncall');
    const rows = status.records!.map((r) => [r.action, r.mechanism, r.status, r.mode, r.requestedBy]);
    expect(rows).toEqual(
      expect.arrayContaining([
        ['isolate-task', 'security-group', 'unsupported', 'enforce', 'automation'],
        ['isolate-task', 'network-acl', 'applied', 'enforce', 'automation'],
        ['stop-task', 'stop-task', 'applied', 'enforce', 'automation'],
      ]),
    );
    const history = await runRunbook({ runbook: 'history', since: '2000-01-01T00:00:00Z' }, deployment.depsFor('runbook'), 'oncall');
    expect(history.records!.length).toBeGreaterThanOrEqual(status.records!.length);
  });
});

describe('one path: replay files, the CLI and the Lambda handler', () => {
  const HIGH = 'gd-ecs-fargate-process-injection-high.json';
  const PRINCIPAL = 'arn:aws:sts::111122223333:assumed-role/ecs-threat-responder/simulated';

  function payloadFile(payload: object): string {
    const file = join(mkdtempSync(join(tmpdir(), 'runbook-')), 'release.json');
    writeFileSync(file, JSON.stringify(payload));
    return file;
  }
  const shape = (result: Json) => (result.actions as Json[]).map((a) => `${a.action}/${a.mechanism ?? ''}/${a.status}`).sort();

  it('a scenario replays in one account: the finding contains the task, the release payload file undoes it, by the local caller', async () => {
    const event = loadEvent(HIGH);
    const session = await ReplaySession.start();
    try {
      const [contained] = await session.replayFile(join(ROOT, 'events/guardduty', HIGH));
      expect(contained!.containment).toBe('contained (network-acl)');
      const denyEntries = () => [...session.account!.ec2.networkAcls.values()].flatMap((acl) => acl.entries).filter((e) => e.ruleAction === 'deny' && e.ruleNumber < 100);
      expect(denyEntries()).toHaveLength(2);
      const [released] = await session.replayFile(payloadFile({ runbook: 'release', findingId: `guardduty:${event.detail.id}`, reason: 'pen test PT-7' }));
      expect(released!.rule).toBe('runbook');
      expect(denyEntries()).toEqual([]);
      const records = await session.ledger.actionRecords(`guardduty:${event.detail.id}`);
      expect(records.find((r) => r.mechanism === 'network-acl')).toMatchObject({ status: 'released', releasedBy: PRINCIPAL, releaseReason: 'pen test PT-7' });
    } finally {
      await session.close();
    }
  });

  it('the CLI (--json) and the Lambda handler give the same result for the same payload', async () => {
    const event = loadEvent(HIGH);
    const payload = { runbook: 'release', findingId: `guardduty:${event.detail.id}`, reason: 'false positive' };
    const cli = execFileSync(
      join(ROOT, 'node_modules/.bin/tsx'),
      ['cli/runbook.ts', 'release', '--finding', payload.findingId, '--reason', payload.reason, '--json', '--replay', `events/guardduty/${HIGH}`],
      { cwd: ROOT, env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }, encoding: 'utf8' },
    );
    const fromCli = JSON.parse(cli.trim().split('\n').at(-1)!);

    deployment = await startDeployment();
    await seedAndRespond(deployment, event);
    const d = deployment;
    vi.doMock('../shared/lambda-deps', () => ({ lambdaDeps: () => Promise.resolve(d.depsFor('runbook')) }));
    const { handler } = await import('../functions/runbook');
    const fromLambda = (await handler(payload)) as Json;
    vi.doUnmock('../shared/lambda-deps');

    expect(shape(fromLambda)).toEqual(shape(fromCli));
    expect(shape(fromCli)).toEqual(['isolate-task/network-acl/applied', 'notify/sns/applied', 'tag/tags/applied']);
    // Who: the CLI knows its STS identity; a direct invoke states nothing, and is recorded as unattributed.
    const records = await d.ledger.actionRecords(payload.findingId);
    expect(records.find((r) => r.mechanism === 'network-acl')).toMatchObject({ status: 'released', releasedBy: 'unattributed (direct invoke)' });
  });
});

describe('runbook on images', () => {
  const REPOSITORY = 'orders-web';
  const DIGEST = `sha256:${'ab'.repeat(32)}`;

  it('quarantine-image by a person archives the digest, and release-image restores it; both recorded with who and why', async () => {
    deployment = await startDeployment();
    deployment.account.putImage({ repository: REPOSITORY, digest: DIGEST, tags: ['1.0.0', 'latest'] });
    const quarantined = await runRunbook({ runbook: 'quarantine-image', repository: REPOSITORY, imageDigest: DIGEST, reason: 'malware found by a scan outside AWS', ticket: 'SEC-9' }, deployment.depsFor('runbook'), 'arn:aws:iam::111122223333:user/carol');
    expect(quarantined.error).toBeUndefined();
    expect(quarantined.containment).toBe('contained (archive)');
    expect(deployment.account.ecr.image(REPOSITORY, DIGEST)!.imageStatus).toBe('ARCHIVED');
    const message = JSON.parse(deployment.account.sns.published.at(-1)!.message);
    expect(message).toMatchObject({ kind: 'runbook', reason: 'malware found by a scan outside AWS', ticket: 'SEC-9', requestedBy: 'arn:aws:iam::111122223333:user/carol' });

    const refused = await runRunbook({ runbook: 'release-image', repository: REPOSITORY, imageDigest: DIGEST }, deployment.depsFor('runbook'), 'dave');
    expect(refused.error).toMatch(/^reason: is required for release-image/);
    expect(deployment.account.ecr.image(REPOSITORY, DIGEST)!.imageStatus).toBe('ARCHIVED');

    const released = await runRunbook({ runbook: 'release-image', repository: REPOSITORY, imageDigest: DIGEST, reason: 'false positive' }, deployment.depsFor('runbook'), 'dave');
    expect(released.containment).toBe('released');
    const image = deployment.account.ecr.image(REPOSITORY, DIGEST)!;
    // A restore takes time (restore-image.html): ACTIVATING until ECR finishes it.
    expect(image.imageStatus).toBe('ACTIVATING');
    deployment.account.ecr.settle();
    expect(image.imageStatus).toBe('ACTIVE');
    expect([...image.imageTags].sort()).toEqual(['1.0.0', 'latest']);
    // A person may quarantine it again after the release (their request is not a repeated scan).
    const again = await runRunbook({ runbook: 'quarantine-image', repository: REPOSITORY, imageDigest: DIGEST, reason: 'it was malware after all' }, deployment.depsFor('runbook'), 'carol');
    expect(again.containment).toBe('contained (archive)');
    expect(deployment.account.ecr.image(REPOSITORY, DIGEST)!.imageStatus).toBe('ARCHIVED');
    await runRunbook({ runbook: 'release-image', repository: REPOSITORY, imageDigest: DIGEST, reason: 'fixed upstream' }, deployment.depsFor('runbook'), 'dave');
    deployment.account.ecr.settle();
    expect(deployment.account.ecr.image(REPOSITORY, DIGEST)!.imageStatus).toBe('ACTIVE');

    const status = await runRunbook({ runbook: 'status', repository: REPOSITORY, imageDigest: DIGEST }, deployment.depsFor('runbook'), 'dave');
    const archives = status.records!.filter((r) => r.mechanism === 'archive');
    expect(archives).toHaveLength(2);
    expect(archives[0]).toMatchObject({ status: 'released', requestedBy: 'arn:aws:iam::111122223333:user/carol', releasedBy: 'dave', releaseReason: 'false positive' });
    expect(archives[1]).toMatchObject({ status: 'released', requestedBy: 'carol', releasedBy: 'dave', releaseReason: 'fixed upstream' });
  });
});

describe('what the notification tells on-call after a stop', () => {
  it('without a quarantine: the exact command that keeps ECS from starting the same digest again', async () => {
    deployment = await startDeployment();
    const event = loadEvent(REVERSE_SHELL);
    await seedAndRespond(deployment, event);
    const digest = deployment.account.ecs.tasks.get(taskArnOf(event))!.containers[0]!.imageDigest!;
    const message = JSON.parse(deployment.account.sns.published.at(-1)!.message);
    expect(message.notes).toContain(`ECS will start a replacement for orders-web from the same image digest. To stop it: npm run runbook -- quarantine-image --repository orders-web --digest ${digest} --reason "<why>" --simulated`);
  });

  it('with the crypto-mining rule: that the image is quarantined, so the replacement cannot pull it', async () => {
    deployment = await startDeployment();
    await seedAndRespond(deployment, loadEvent('gd-ecs-fargate-cryptocurrency-bitcointool-dns.json'));
    const message = JSON.parse(deployment.account.sns.published.at(-1)!.message);
    expect(message.notes).toContain('The image is quarantined: the replacement ECS starts for payments-api cannot pull it.');
  });
});

describe('release after a crash at every step of a containment', () => {
  const everything = policyFrom(`
version: 1
rules:
  - name: contain
    match: { severity: [HIGH] }
    actions:
      - capture-evidence
      - tag
      - isolate-task: { fallback: [network-acl] }
      - quarantine-image
      - notify
`);

  /** The account state a release must give back (the responder's state tag aside, which says "released"). */
  function snapshot(d: SimulatedDeployment, taskArn: string) {
    const task = d.account.ecs.tasks.get(taskArn)!;
    const eni = d.account.ec2.networkInterfaces.get(task.eni!.networkInterfaceId)!;
    const container = task.containers[0]!;
    const repository = container.image.split('/').slice(1).join('/').split(/[:@]/)[0]!;
    const withoutState = (tags: Record<string, string>) => Object.fromEntries(Object.entries(tags).filter(([k]) => k !== 'responder:state'));
    return {
      taskTags: withoutState(task.tags ?? {}),
      eniTags: withoutState(eni.tags),
      eniGroups: eni.groupIds,
      acls: [...d.account.ec2.networkAcls.values()].map((acl) => acl.entries),
      image: d.account.ecr.image(repository, container.imageDigest!)?.imageStatus,
    };
  }

  for (const crashAt of ['tag', 'isolate-task:network-acl', 'quarantine-image:archive']) {
    it(`crash after the change at ${crashAt}: release restores the exact before-state`, async () => {
      deployment = await startDeployment({ policy: everything });
      const event = loadEvent('gd-ecs-fargate-process-injection-high.json');
      deployment.account.seedFromEvent(event);
      const taskArn = taskArnOf(event);
      const before = snapshot(deployment, taskArn);

      const ledger = deployment.depsFor('runtimeFinding').ledger;
      const recordOutcome = ledger.recordOutcome.bind(ledger);
      ledger.recordOutcome = (audit, step, outcome, target) => (step.startsWith(crashAt) ? Promise.reject(new Error('crash')) : recordOutcome(audit, step, outcome, target));
      await respondToRuntimeFinding(event, deployment.depsFor('runtimeFinding')).catch(() => undefined);
      ledger.recordOutcome = recordOutcome;
      expect(snapshot(deployment, taskArn)).not.toEqual(before);
      const crashed = (await ledger.actionRecords(`guardduty:${event.detail.id}`)).find((r) => r.step.startsWith(crashAt))!;
      expect(crashed.status).toBe('intent');

      const released = await runRunbook({ runbook: 'release', findingId: `guardduty:${event.detail.id}`, reason: 'recover after crash' }, deployment.depsFor('runbook'), 'oncall');
      expect(released.actions.filter((a) => a.status === 'failed')).toEqual([]);
      // An image restore takes up to 20 minutes (ACTIVATING): the before-state is back once it completes.
      deployment.account.ecr.settle();
      expect(snapshot(deployment, taskArn)).toEqual(before);
    });
  }
});

describe('status after a release and a re-evaluation', () => {
  it('shows both episodes of a step: the released one (who, why) and the new one', async () => {
    deployment = await startDeployment();
    const event = loadEvent('gd-ecs-fargate-process-injection-high.json');
    await seedAndRespond(deployment, event);
    const findingId = `guardduty:${event.detail.id}`;
    await runRunbook({ runbook: 'release', findingId, reason: 'looked benign' }, deployment.depsFor('runbook'), 'alice');
    // GuardDuty re-publishes the finding as Critical: it is re-evaluated and isolated again.
    const worse = structuredClone(event);
    worse.detail.severity = 9.5;
    expect((await respondToRuntimeFinding(worse, deployment.depsFor('runtimeFinding'))).decision).toMatchObject({ policyRule: 'critical' });

    const status = await runRunbook({ runbook: 'status', findingId }, deployment.depsFor('runbook'), 'alice');
    const nacl = status.records!.filter((r) => r.mechanism === 'network-acl');
    expect(nacl.map((r) => [r.status, r.releasedBy ?? null, r.policyRule])).toEqual([
      ['released', 'alice', 'high-isolate'],
      ['applied', null, 'critical'],
    ]);
  });
});
