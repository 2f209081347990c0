import { afterEach, describe, expect, it } from 'vitest';
import { ResponseIncomplete } from '../shared/pipeline';
import { runRunbook } from '../shared/runbook';
import type { SimulatedAccount } from '../sim/account';
import type { SimulatedDeployment } from '../sim/deployment';
import { denyEntriesFor, isolatePolicy, loadEvent, notifications, policyFrom, startDeployment } from './helpers/deployment';
import { imageEvent, NACL_POLICY_YAML } from './helpers/image-events';

// Transient failures are retried with the event (Lambda's asynchronous retries: 3 attempts in all) until the task is
// contained or people are told it is not; AWS's refusals stay final. People's commands repeated change nothing.
const FARGATE = loadEvent('gd-ecs-fargate-reverse-shell.json');
const TASK = 'arn:aws:ecs:us-east-1:111122223333:task/prod-cluster/8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a';
const LEDGER_ID = `guardduty:${FARGATE.detail.id}`;

const naclOnly = policyFrom(NACL_POLICY_YAML);

let d: SimulatedDeployment;
afterEach(async () => d?.close());

function taskNetwork(account: SimulatedAccount) {
  const eni = account.ec2.networkInterfaces.get(account.ecs.tasks.get(TASK)!.eni!.networkInterfaceId)!;
  return { subnetId: eni.subnetId, cidr: `${eni.privateIpAddress}/32`, eni };
}

describe('retry to containment', () => {
  it('CreateNetworkAclEntry throttled through every SDK attempt: recorded, the invocation fails, the re-delivery contains', async () => {
    d = await startDeployment({ policy: naclOnly });
    d.account.seedFromEvent(FARGATE);
    // Both directions are asked at once, each with the SDK's 3 attempts: 6 throttles exhaust them.
    d.account.faults.inject({ service: 'ec2', operation: 'CreateNetworkAclEntry', error: 'throttle', times: 6 });
    const first = d.invoke('runtimeFinding', FARGATE);
    await expect(first).rejects.toBeInstanceOf(ResponseIncomplete);
    expect(await d.ledger.getClaim(LEDGER_ID)).toMatchObject({ state: 'retry', attempts: 1 });
    expect((await d.ledger.actionRecord(LEDGER_ID, 'isolate-task:network-acl'))!.status).toBe('failed');
    expect(notifications(d.account)[0]!.headline).toMatch(/^NOT CONTAINED/);
    expect(notifications(d.account)[0]!.notes.join(' ')).toMatch(/attempt 1 of 3/);

    // Lambda's retry: not "already handled"; the failed rung runs again and holds, the applied tag step is not repeated.
    const retry = await d.invoke('runtimeFinding', FARGATE);
    expect(retry.containment).toBe('contained (network-acl)');
    expect(retry.actions.find((a) => a.action === 'tag')).toMatchObject({ status: 'skipped' });
    const net = taskNetwork(d.account);
    expect(denyEntriesFor(d.account, net.subnetId, net.cidr)).toHaveLength(2);
    expect(await d.ledger.getClaim(LEDGER_ID)).toMatchObject({ state: 'done' });
    // A later duplicate is a duplicate again.
    expect((await d.invoke('runtimeFinding', FARGATE)).ignored).toMatch(/already handled/);
  });

  it('still failing after the last attempt: "NOT CONTAINED after 3 attempts", with what held and what did not', async () => {
    d = await startDeployment({ policy: naclOnly });
    d.account.seedFromEvent(FARGATE);
    d.account.faults.inject({ service: 'ec2', operation: 'DescribeNetworkAcls', error: 'server', times: 1000 });
    for (let attempt = 1; attempt <= 3; attempt++) await expect(d.invoke('runtimeFinding', FARGATE)).rejects.toBeInstanceOf(ResponseIncomplete);
    const last = notifications(d.account).at(-1)!;
    expect(last.headline).toMatch(/^NOT CONTAINED after 3 attempts/);
    expect(last.actions.map((a) => `${a.action}/${a.mechanism ?? ''}/${a.status}`)).toEqual(
      expect.arrayContaining(['isolate-task/security-group/unsupported', 'isolate-task/network-acl/failed']),
    );
    expect(last.notes.join(' ')).toMatch(/failure queue/);
  });

  it('a transient StopTask failure is retried; the stop is sent once', async () => {
    d = await startDeployment({ policy: isolatePolicy({ fallback: 'stop-task' }) });
    d.account.seedFromEvent(FARGATE);
    d.account.faults.inject({ service: 'ecs', operation: 'StopTask', error: 'timeout', times: 3 });
    await expect(d.invoke('runtimeFinding', FARGATE)).rejects.toBeInstanceOf(ResponseIncomplete);
    expect(d.account.ecs.tasks.get(TASK)!.desiredStatus).toBe('RUNNING');
    const retry = await d.invoke('runtimeFinding', FARGATE);
    expect(retry.containment).toBe('contained (stop-task)');
    expect(d.account.callsTo('ecs', 'StopTask').filter((c) => c.ok)).toHaveLength(1);
  });
});

describe('retry to containment: image quarantine and the launch guard', () => {
  const SCAN = imageEvent('ecr/01-ecr-image-scan-complete-critical.json');
  const IMAGE_ID = `image:${SCAN.detail['repository-name']}@${SCAN.detail['image-digest']}`;
  const imageOf = (account: SimulatedAccount) => account.ecr.image(SCAN.detail['repository-name'], SCAN.detail['image-digest'])!;

  it('DescribeImages failing through every SDK attempt: recorded, told, the invocation fails, the re-delivery archives', async () => {
    d = await startDeployment();
    d.account.seedFromEvent(SCAN);
    d.account.faults.inject({ service: 'ecr', operation: 'DescribeImages', error: 'server', times: 3 });
    await expect(d.invoke('imageFinding', SCAN)).rejects.toBeInstanceOf(ResponseIncomplete);
    expect(imageOf(d.account).imageStatus).toBe('ACTIVE');
    expect(await d.ledger.getClaim(IMAGE_ID)).toMatchObject({ state: 'retry', attempts: 1 });
    expect(notifications(d.account)[0]!.headline).toMatch(/^NOT QUARANTINED/);
    expect(notifications(d.account)[0]!.notes.join(' ')).toMatch(/attempt 1 of 3/);

    const retry = await d.invoke('imageFinding', SCAN);
    expect(retry.containment).toBe('contained (archive)');
    expect(imageOf(d.account).imageStatus).toBe('ARCHIVED');
    expect(await d.ledger.getClaim(IMAGE_ID)).toMatchObject({ state: 'done' });
    expect((await d.invoke('imageFinding', SCAN)).ignored).toMatch(/already handled/);
  });

  it('still failing after the last attempt: "NOT CONTAINED after 3 attempts"', async () => {
    d = await startDeployment();
    d.account.seedFromEvent(SCAN);
    d.account.faults.inject({ service: 'ecr', operation: 'DescribeImages', error: 'throttle', times: 1000 });
    for (let attempt = 1; attempt <= 3; attempt++) await expect(d.invoke('imageFinding', SCAN)).rejects.toBeInstanceOf(ResponseIncomplete);
    const last = notifications(d.account).at(-1)!;
    expect(last.headline).toMatch(/^NOT CONTAINED after 3 attempts: checkout-api@/);
    expect(last.notes.join(' ')).toMatch(/failure queue/);
  });

  it("a person's quarantine-image that fails transiently is not retried by Lambda: it says to run the command again", async () => {
    d = await startDeployment();
    d.account.seedFromEvent(SCAN);
    d.account.faults.inject({ service: 'ecr', operation: 'DescribeImages', error: 'server', times: 3 });
    const result = await runRunbook({ runbook: 'quarantine-image', repository: SCAN.detail['repository-name'], imageDigest: SCAN.detail['image-digest'], reason: 'drill' }, d.depsFor('runbook'), 'alice');
    expect(result.containment).toBe('not-contained');
    expect(result.notes?.join(' ')).toMatch(/Run the command again/);
  });
});

describe("people's commands, repeated", () => {
  it('isolate twice: one deny pair, and the second says nothing changed', async () => {
    d = await startDeployment({ policy: naclOnly });
    d.account.seedFromEvent(FARGATE);
    const net = taskNetwork(d.account);
    const first = await runRunbook({ runbook: 'isolate', taskArn: TASK, reason: 'SRE saw a shell' }, d.depsFor('runbook'), 'alice');
    expect(first.containment).toBe('contained (network-acl)');
    const second = await runRunbook({ runbook: 'isolate', taskArn: TASK, reason: 'again' }, d.depsFor('runbook'), 'alice');
    expect(denyEntriesFor(d.account, net.subnetId, net.cidr)).toHaveLength(2);
    expect(second.containment).toBe('contained (network-acl)');
    expect(second.actions.find((a) => a.mechanism === 'network-acl')?.detail).toMatch(/already applied.*nothing changed/);
    expect(notifications(d.account).at(-1)!.notes.join(' ')).toMatch(/already applied.*nothing changed/);
  });

  it('release restores the previous tags exactly and, repeated, changes nothing', async () => {
    d = await startDeployment({ policy: naclOnly });
    d.account.seedFromEvent(FARGATE);
    const { eni } = taskNetwork(d.account);
    const taskTagsBefore = structuredClone(d.account.ecs.tasks.get(TASK)!.tags);
    const eniTagsBefore = structuredClone(eni.tags);
    await d.invoke('runtimeFinding', FARGATE);
    expect(eni.tags['responder:state']).toBe('responding');
    const released = await runRunbook({ runbook: 'release', findingId: LEDGER_ID, reason: 'false positive' }, d.depsFor('runbook'), 'bob');
    expect(released.actions.filter((a) => a.status === 'failed')).toEqual([]);
    expect(d.account.ecs.tasks.get(TASK)!.tags).toEqual(taskTagsBefore);
    expect(eni.tags).toEqual(eniTagsBefore);
    const net = taskNetwork(d.account);
    expect(denyEntriesFor(d.account, net.subnetId, net.cidr)).toEqual([]);
    expect((await d.ledger.actionRecord(LEDGER_ID, 'tag'))).toMatchObject({ status: 'released', releasedBy: 'bob' });

    const calls = d.account.calls.length;
    const again = await runRunbook({ runbook: 'release', findingId: LEDGER_ID, reason: 'again' }, d.depsFor('runbook'), 'bob');
    expect(d.account.calls.slice(calls).filter((c) => !/^(Describe|List|Get|Publish)/.test(c.operation))).toEqual([]);
    expect(again.actions.filter((a) => a.action !== 'notify').length).toBeGreaterThan(0);
    expect(again.actions.filter((a) => a.action !== 'notify' && a.status !== 'skipped')).toEqual([]);
    expect(notifications(d.account).at(-1)!.headline).toMatch(/^Nothing changed \(already released\) by bob: /);
  });

  for (const refused of [false, true]) {
    it(`quarantine-image twice${refused ? ' (archiving refused: the quarantine tag)' : ''}: the second changes nothing and says so; release-image gives the image back`, async () => {
      const SCAN = imageEvent('ecr/01-ecr-image-scan-complete-critical.json');
      const repository = SCAN.detail['repository-name'];
      const digest = SCAN.detail['image-digest'];
      d = await startDeployment();
      d.account.seedFromEvent(SCAN);
      if (refused) d.account.faults.inject({ service: 'ecr', operation: 'UpdateImageStorageClass', error: { code: 'ValidationException', status: 400 }, times: 1000 });
      const before = structuredClone(d.account.ecr.image(repository, digest)!);
      const command = { runbook: 'quarantine-image', repository, imageDigest: digest, reason: 'drill' };
      const first = await runRunbook(command, d.depsFor('runbook'), 'alice');
      expect(first.containment).toBe(refused ? 'partially-contained (image-tags)' : 'contained (archive)');
      const calls = d.account.calls.length;
      const second = await runRunbook({ ...command, reason: 'again' }, d.depsFor('runbook'), 'alice');
      expect(second.containment).toBe(first.containment);
      expect(d.account.calls.slice(calls).filter((c) => c.ok && !/^(Describe|List|Get|BatchGet|Publish)/.test(c.operation))).toEqual([]);
      expect(second.actions.find((a) => a.action === 'quarantine-image' && a.mechanism === (refused ? 'image-tags' : 'archive'))).toMatchObject({ status: 'skipped', detail: expect.stringMatching(/already applied.*nothing changed/) });
      expect(notifications(d.account).at(-1)!.actions.map((a) => a.detail).join(' ')).toMatch(/nothing changed/);

      d.account.faults.clear();
      const released = await runRunbook({ runbook: 'release-image', repository, imageDigest: digest, reason: 'drill over' }, d.depsFor('runbook'), 'bob');
      expect(released.actions.filter((a) => a.status === 'failed')).toEqual([]);
      d.account.ecr.settle();
      const after = d.account.ecr.image(repository, digest)!;
      expect(after.imageStatus).toBe(before.imageStatus);
      expect([...after.imageTags].sort()).toEqual([...before.imageTags].sort());
    });
  }
});

