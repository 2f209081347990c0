import { afterEach, describe, expect, it } from 'vitest';
import { ClaimBusyError } from '../shared/ledger';
import { respondToRuntimeFinding } from '../shared/pipeline';
import { runRunbook } from '../shared/runbook';
import type { SimulatedDeployment } from '../sim/deployment';
import { isolatePolicy, loadEvent, notifications, rawLedgerItem, startDeployment, variant, type Json } from './helpers/deployment';

/** One containment per task (issue 10): findings about the same task share its episode in the ledger. */
const CRITICAL = loadEvent('gd-ecs-fargate-reverse-shell-critical.json');
const TASK_ARN = CRITICAL.detail.resource.ecsClusterDetails.taskDetails.arn as string;

/** Another finding id (GuardDuty gives each behaviour its own) about the same task, with its own type and severity. */
function otherFinding(id: string, change: (e: Json) => void = () => undefined): Json {
  return variant(CRITICAL, (e) => {
    e.id = `0e8f8a1c-${id.padStart(4, '0')}-4c1a-9d1e-2b3c4d5e6f70`;
    e.detail.id = `episode${id.padStart(25, '0')}`;
    change(e);
  });
}

let deployment: SimulatedDeployment | undefined;
afterEach(async () => {
  await deployment?.close();
  deployment = undefined;
});

const denyPairs = (d: SimulatedDeployment) => d.account.callsTo('ec2', 'CreateNetworkAclEntry').filter((c) => c.ok).length / 2;
const stops = (d: SimulatedDeployment) => d.account.callsTo('ecs', 'StopTask').filter((c) => c.ok).length;
const slotsUsed = async (d: SimulatedDeployment) => {
  const { Items = [] } = await d.ledger['doc'].send(new (await import('@aws-sdk/lib-dynamodb')).ScanCommand({ TableName: d.config.tableName, FilterExpression: 'begins_with(pk, :blast)', ExpressionAttributeValues: { ':blast': 'BLAST#' } }));
  return Object.fromEntries(Items.map((i) => [String(i.pk).replace(/^BLAST#/, ''), Number(i.used)]));
};

describe('one containment per task', () => {
  it('a second finding about a contained task joins its episode: nothing repeated, recorded and notified as part of it', async () => {
    deployment = await startDeployment();
    deployment.account.seedFromEvent(CRITICAL);
    const first = await respondToRuntimeFinding(CRITICAL, deployment.depsFor('runtimeFinding'));
    expect(first.containment).toBe('contained (network-acl)');
    expect([denyPairs(deployment), stops(deployment)]).toEqual([1, 1]);

    // StopTask leaves the task on its way down (DEACTIVATING): a finding about it now must not contain it again.
    const second = await respondToRuntimeFinding(otherFinding('2'), deployment.depsFor('runtimeFinding'));
    expect([denyPairs(deployment), stops(deployment)]).toEqual([1, 1]);
    for (const action of ['tag', 'isolate-task', 'stop-task']) {
      expect(second.actions.find((a) => a.action === action), action).toMatchObject({ status: 'skipped', detail: expect.stringMatching(/already applied in this task's episode, opened by guardduty:/) });
    }
    expect(second.actions.find((a) => a.action === 'capture-evidence')).toMatchObject({ status: 'applied' });
    expect(second.containment).toMatch(/^contained/);
    expect(notifications(deployment.account)).toHaveLength(2);
    const episode = await deployment.ledger.episode(`task:${TASK_ARN}`);
    expect(episode).toMatchObject({ state: 'done', openedBy: `guardduty:${CRITICAL.detail.id}`, counted: true });
    expect([...(episode!.held as Set<string>)].sort()).toEqual(['isolate-task/network-acl', 'stop-task/stop-task', 'tag/tags']);
    expect(second.actions.find((a) => a.action === 'isolate-task')!.mechanism).toBe('network-acl');
    expect(second.containment).toBe('contained (network-acl)');
    expect([...(episode!.findings as Set<string>)].sort()).toEqual([`guardduty:${CRITICAL.detail.id}`, `guardduty:${otherFinding('2').detail.id}`].sort());
  });

  it('a later finding escalates only with what its rule adds: a stop after an isolation, under the same slot', async () => {
    deployment = await startDeployment();
    const high = otherFinding('3', (e) => {
      e.detail.severity = 8;
      e.detail.type = 'Execution:Runtime/NewBinaryExecuted';
    });
    deployment.account.seedFromEvent(high);
    const isolated = await respondToRuntimeFinding(high, deployment.depsFor('runtimeFinding'));
    expect(isolated.decision!.policyRule).toBe('high-isolate');
    expect([denyPairs(deployment), stops(deployment)]).toEqual([1, 0]);

    const critical = await respondToRuntimeFinding(CRITICAL, deployment.depsFor('runtimeFinding'));
    expect(critical.decision!.policyRule).toBe('critical');
    expect(critical.actions.find((a) => a.action === 'isolate-task')).toMatchObject({ status: 'skipped', mechanism: 'network-acl', detail: expect.stringMatching(/episode/) });
    expect(critical.actions.find((a) => a.action === 'stop-task')).toMatchObject({ status: 'applied' });
    expect([denyPairs(deployment), stops(deployment)]).toEqual([1, 1]);
    // One task disrupted: one slot in the account and one in the cluster, for the isolation and the stop together.
    expect(Object.values(await slotsUsed(deployment))).toEqual([1, 1]);
  });

  it('findings about one task at the same time: one acts, the others are retried (ClaimBusyError), then join', async () => {
    deployment = await startDeployment();
    deployment.account.seedFromEvent(CRITICAL);
    const d = deployment;
    const events = [CRITICAL, otherFinding('4'), otherFinding('5')];
    const settled = await Promise.allSettled(events.map((e) => respondToRuntimeFinding(e, d.depsFor('runtimeFinding'))));
    const busy = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    expect(busy.length).toBeGreaterThan(0);
    for (const s of busy) expect(s.reason).toBeInstanceOf(ClaimBusyError);
    // Lambda's retry of each: the episode is done now, so they join it.
    for (const [i, s] of settled.entries()) if (s.status === 'rejected') await respondToRuntimeFinding(events[i], d.depsFor('runtimeFinding'));
    expect([denyPairs(deployment), stops(deployment)]).toEqual([1, 1]);
    expect(notifications(deployment.account)).toHaveLength(3);
    for (const event of events) expect(await rawLedgerItem(deployment, `FINDING#guardduty:${event.detail.id}`, '#CLAIM')).toMatchObject({ state: 'done' });
  });

  it("a person's isolate while automation runs the task's episode: refused, naming who holds it; once it is done, it joins", async () => {
    deployment = await startDeployment();
    deployment.account.seedFromEvent(CRITICAL);
    // An automatic response in flight: it opened the task's episode and has not closed it.
    await deployment.ledger.openEpisode(`task:${TASK_ARN}`, 'guardduty:in-flight');
    const command = { runbook: 'isolate' as const, taskArn: TASK_ARN, reason: 'attacker active' };
    await expect(runRunbook(command, deployment.depsFor('runbook'), 'oncall')).rejects.toThrow(/being contained by guardduty:in-flight .*retry later/);
    expect(denyPairs(deployment)).toBe(0);

    await deployment.ledger.closeEpisode(`task:${TASK_ARN}`, 'guardduty:in-flight', { held: [], counted: false, retry: false });
    const isolated = await runRunbook(command, deployment.depsFor('runbook'), 'oncall');
    expect(isolated.containment).toBe('contained (network-acl)');
    expect(denyPairs(deployment)).toBe(1);
  });

  it('a release ends the episode: a later finding about the task contains it afresh', async () => {
    deployment = await startDeployment({ policy: isolatePolicy() });
    deployment.account.seedFromEvent(CRITICAL);
    await respondToRuntimeFinding(CRITICAL, deployment.depsFor('runtimeFinding'));
    const released = await runRunbook({ runbook: 'release', findingId: `guardduty:${CRITICAL.detail.id}`, reason: 'false positive' }, deployment.depsFor('runbook'), 'oncall');
    expect(released.actions.some((a) => a.status === 'applied')).toBe(true);
    expect(await deployment.ledger.episode(`task:${TASK_ARN}`)).toMatchObject({ state: 'released' });

    const again = await respondToRuntimeFinding(otherFinding('6'), deployment.depsFor('runtimeFinding'));
    expect(again.containment).toBe('contained (network-acl)');
    expect(denyPairs(deployment)).toBe(2);
  });

  it('a slot is given back when the action changed nothing, and kept when it may have changed something', async () => {
    const isolateOnly = isolatePolicy();
    deployment = await startDeployment({ policy: isolateOnly });
    deployment.account.seedFromEvent(CRITICAL);
    // AWS refuses both rungs: the swap (ECS-managed interface) and the network ACL's read: nothing changed.
    deployment.account.faults.inject({ service: 'ec2', operation: 'DescribeNetworkAcls', error: { code: 'UnauthorizedOperation', status: 403 }, times: 10 });
    const refused = await respondToRuntimeFinding(CRITICAL, deployment.depsFor('runtimeFinding'));
    expect(refused.actions.map((a) => `${a.mechanism}/${a.status}`)).toEqual(['security-group/unsupported', 'network-acl/unsupported', 'sns/applied']);
    // Taken (the swap was admitted: the counters exist) and given back (zero), account and cluster alike.
    expect(await slotsUsed(deployment)).toEqual({ 'account#111122223333': 0, 'cluster#111122223333#prod-cluster': 0 });
    expect((await deployment.ledger.episode(`task:${TASK_ARN}`))!.counted).toBeUndefined();
    await deployment.close();

    // Half a deny pair: the egress entry refused, the ingress one in place. That is a change: failed, and the slot kept.
    deployment = await startDeployment({ policy: isolateOnly });
    deployment.account.seedFromEvent(CRITICAL);
    deployment.account.faults.inject({ service: 'ec2', operation: 'CreateNetworkAclEntry', error: { code: 'UnauthorizedOperation', status: 403 }, afterCalls: 1, times: 1 });
    const half = await respondToRuntimeFinding(CRITICAL, deployment.depsFor('runtimeFinding'));
    expect(half.actions.find((a) => a.mechanism === 'network-acl')).toMatchObject({ status: 'failed', errorCode: 'UnauthorizedOperation', detail: expect.stringMatching(/^half made, only the ingress deny is in place/) });
    expect(deployment.account.callsTo('ec2', 'CreateNetworkAclEntry').filter((c) => c.ok).map((c) => c.input.Egress)).toEqual([false]);
    expect(await slotsUsed(deployment)).toEqual({ 'account#111122223333': 1, 'cluster#111122223333#prod-cluster': 1 });
  });

  it('a release while another finding runs the episode leaves its owner in charge', async () => {
    deployment = await startDeployment();
    const target = `task:${TASK_ARN}`;
    await deployment.ledger.openEpisode(target, 'guardduty:owner');
    await deployment.ledger.markReleased({ ledgerId: 'guardduty:earlier', step: 'tag', target } as never, { by: 'oncall', reason: 'r', detail: 'd' });
    expect(await deployment.ledger.episode(target)).toMatchObject({ state: 'running', ownerId: 'guardduty:owner' });
    await expect(deployment.ledger.openEpisode(target, 'guardduty:third')).rejects.toBeInstanceOf(ClaimBusyError);
    // A task with no episode: a release creates none.
    await deployment.ledger.markReleased({ ledgerId: 'guardduty:earlier', step: 'tag', target: 'task:arn:aws:ecs:us-east-1:111122223333:task/c/none' } as never, { by: 'oncall', reason: 'r', detail: 'd' });
    expect(await deployment.ledger.episode('task:arn:aws:ecs:us-east-1:111122223333:task/c/none')).toBeUndefined();
  });
});

describe('the live observe switch, read beside the claim', () => {
  it('observe now: nothing changes; once the switch is off, the next delivery of the same finding acts', async () => {
    deployment = await startDeployment();
    deployment.account.seedFromEvent(CRITICAL);
    deployment.account.ssm.putParameter('/ecs-threat-responder/simulated/observe-switch', 'observe');
    const observed = await deployment.invoke('runtimeFinding', CRITICAL);
    expect(observed.decision).toMatchObject({ mode: 'observe' });
    expect(observed.notes).toContain('The observe switch (SSM parameter) is on: nothing was changed.');
    expect([denyPairs(deployment), stops(deployment)]).toEqual([0, 0]);
    expect(await rawLedgerItem(deployment, `FINDING#guardduty:${CRITICAL.detail.id}`, '#CLAIM')).toMatchObject({ mode: 'observe', state: 'done' });

    // Duplicates while the switch stays on are duplicates: nothing re-run, nobody told again.
    for (const delivery of [2, 3]) expect((await deployment.invoke('runtimeFinding', CRITICAL)).ignored, `delivery ${delivery}`).toMatch(/^duplicate delivery .*observe switch is still on/);
    expect(notifications(deployment.account)).toHaveLength(1);

    deployment.account.ssm.putParameter('/ecs-threat-responder/simulated/observe-switch', 'policy');
    const enforced = await deployment.invoke('runtimeFinding', CRITICAL);
    expect(enforced.decision).toMatchObject({ mode: 'enforce' });
    expect([denyPairs(deployment), stops(deployment)]).toEqual([1, 1]);
  });
});
