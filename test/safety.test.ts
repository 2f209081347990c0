import { afterEach, describe, expect, it } from 'vitest';
import { ClaimBusyError } from '../shared/ledger';
import { respondToRuntimeFinding } from '../shared/pipeline';
import { runRunbook } from '../shared/runbook';
import type { SimulatedDeployment } from '../sim/deployment';
import { isolatePolicy, loadEvent, mutatingCalls, policyFrom, startDeployment, type Json } from './helpers/deployment';

const TEMPLATE = loadEvent('gd-ecs-fargate-reverse-shell.json');

/** The same finding on `n` different tasks of the cluster, each with its own finding id. */
function burst(n: number): Json[] {
  return Array.from({ length: n }, (_, i) => {
    const event = structuredClone(TEMPLATE);
    event.detail.id = `burst${i.toString().padStart(27, '0')}`;
    const task = event.detail.resource.ecsClusterDetails.taskDetails;
    task.arn = task.arn.replace(/\w+$/, `b${i.toString(16).padStart(31, '0')}`);
    return event;
  });
}


let deployment: SimulatedDeployment | undefined;
afterEach(async () => {
  await deployment?.close();
  deployment = undefined;
});

function denyEntries(d: SimulatedDeployment): number {
  return [...d.account.ec2.networkAcls.values()].flatMap((acl) => acl.entries).filter((e) => e.ruleAction === 'deny' && e.ruleNumber < 100).length;
}

describe('blast-radius limit', () => {
  it('a concurrent burst of findings: exactly the limit acts, the rest are downgraded to notify and say so', async () => {
    deployment = await startDeployment({ policy: isolatePolicy({ safety: { maxDestructivePerAccount: 3, maxDestructivePerCluster: 10 } }) });
    const events = burst(8);
    for (const event of events) deployment.account.seedFromEvent(event);
    const d = deployment;
    const results = await Promise.all(events.map((event) => respondToRuntimeFinding(event, d.depsFor('runtimeFinding'))));

    const contained = results.filter((r) => r.containment === 'contained (network-acl)');
    const withheld = results.filter((r) => r.actions.some((a) => a.mechanism === 'safety'));
    expect(contained).toHaveLength(3);
    expect(withheld).toHaveLength(5);
    expect(denyEntries(deployment)).toBe(3 * 2);
    for (const result of withheld) {
      expect(result.containment).toBe('not-contained');
      expect(result.actions.find((a) => a.mechanism === 'safety')!.detail).toMatch(/^BLAST-RADIUS LIMIT: 3 tasks already disrupted in 60 min in account 111122223333/);
      expect(result.notifications).toBe(1);
    }
    const messages = deployment.account.sns.published.map((p) => JSON.parse(p.message));
    expect(messages.filter((m) => m.headline.startsWith('NOT CONTAINED') && m.notes.some((n: string) => n.startsWith('BLAST-RADIUS LIMIT')))).toHaveLength(5);
  });

  it('the per-cluster limit applies too, and gives the account slot back', async () => {
    deployment = await startDeployment({ policy: isolatePolicy({ safety: { maxDestructivePerAccount: 10, maxDestructivePerCluster: 1 } }) });
    const [first, second] = burst(2);
    deployment.account.seedFromEvent(first);
    deployment.account.seedFromEvent(second);
    expect((await respondToRuntimeFinding(first, deployment.depsFor('runtimeFinding'))).containment).toBe('contained (network-acl)');
    const limited = await respondToRuntimeFinding(second, deployment.depsFor('runtimeFinding'));
    expect(limited.actions[0]).toMatchObject({ status: 'skipped', mechanism: 'safety', detail: expect.stringMatching(/in cluster prod-cluster/) });
  });

  it('a person can exceed the limit only with force and a reason, and it is recorded', async () => {
    deployment = await startDeployment({ policy: isolatePolicy({ safety: { maxDestructivePerAccount: 0 } }) });
    const [event] = burst(1);
    deployment.account.seedFromEvent(event);
    const taskArn = event.detail.resource.ecsClusterDetails.taskDetails.arn as string;
    const refused = await runRunbook({ runbook: 'isolate', taskArn, reason: 'attacker active' }, deployment.depsFor('runbook'), 'oncall');
    expect(refused.containment).toBe('not-contained');
    const forced = await runRunbook({ runbook: 'isolate', taskArn, reason: 'attacker active, limit reached by a storm', force: true }, deployment.depsFor('runbook'), 'oncall');
    expect(forced.containment).toBe('contained (network-acl)');
    const message = JSON.parse(deployment.account.sns.published.at(-1)!.message);
    expect(message.notes).toContain('Forced past the automatic safety rails by oncall.');
  });

  it('fails closed: an error while counting means no destructive action now, a notification saying so, and a retry of the event', async () => {
    deployment = await startDeployment({ policy: isolatePolicy({ safety: { maxDestructivePerAccount: 5 } }) });
    const [event] = burst(1);
    deployment.account.seedFromEvent(event);
    deployment.depsFor('runtimeFinding').ledger.takeSlot = () => Promise.reject(Object.assign(new Error('table throttled'), { name: 'ProvisionedThroughputExceededException' }));
    // A throttled counter is transient: nothing destructive now, people are told, and the invocation fails so Lambda
    // delivers the event again (shared/pipeline.ts ResponseIncomplete).
    await expect(respondToRuntimeFinding(event, deployment.depsFor('runtimeFinding'))).rejects.toThrow(/isolate-task\/safety \(ProvisionedThroughputExceededException\) failed transiently/);
    expect(denyEntries(deployment)).toBe(0);
    expect(deployment.account.callsTo('ec2', 'ModifyNetworkInterfaceAttribute')).toEqual([]);
    const message = JSON.parse(deployment.account.sns.published.at(-1)!.message);
    expect(message.notes).toContainEqual(expect.stringMatching(/^SAFETY CHECK FAILED \(ProvisionedThroughputExceededException/));
  });
});

describe('minimum healthy tasks', () => {
  const stopPolicy = (stop: string) =>
    policyFrom(`
version: 1
safety: { minHealthyTasks: 2 }
rules:
  - name: stop
    match: { severity: [HIGH] }
    actions:
      - ${stop}
      - notify
`);

  it('does not stop a task when its service would drop below the minimum', async () => {
    deployment = await startDeployment({ policy: stopPolicy('stop-task') });
    deployment.account.seedFromEvent(TEMPLATE);
    const taskArn = TEMPLATE.detail.resource.ecsClusterDetails.taskDetails.arn as string;
    const result = await respondToRuntimeFinding(TEMPLATE, deployment.depsFor('runtimeFinding'));
    expect(result.actions[0]).toMatchObject({ action: 'stop-task', status: 'skipped', mechanism: 'safety', detail: expect.stringMatching(/^MIN-HEALTHY: service orders-web has 2 running tasks/) });
    expect(deployment.account.ecs.tasks.get(taskArn)!.lastStatus).toBe('RUNNING');
  });

  it('a rule may override it (ignoreMinHealthy: true)', async () => {
    deployment = await startDeployment({ policy: stopPolicy('stop-task: { ignoreMinHealthy: true }') });
    deployment.account.seedFromEvent(TEMPLATE);
    const result = await respondToRuntimeFinding(TEMPLATE, deployment.depsFor('runtimeFinding'));
    expect(result.actions[0]).toMatchObject({ action: 'stop-task', status: 'applied' });
    expect(deployment.account.ecs.tasks.get(TEMPLATE.detail.resource.ecsClusterDetails.taskDetails.arn as string)!.desiredStatus).toBe('STOPPED');
  });
});

describe('concurrent deliveries of one finding', () => {
  it('one acts; the other is failed for a later retry (not dropped); the retry is then a duplicate', async () => {
    deployment = await startDeployment();
    deployment.account.seedFromEvent(TEMPLATE);
    const d = deployment;
    const results = await Promise.allSettled([respondToRuntimeFinding(TEMPLATE, d.depsFor('runtimeFinding')), respondToRuntimeFinding(structuredClone(TEMPLATE), d.depsFor('runtimeFinding'))]);
    const acted = results.filter((r) => r.status === 'fulfilled');
    const busy = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(acted).toHaveLength(1);
    expect(busy).toHaveLength(1);
    expect(busy[0]!.reason).toBeInstanceOf(ClaimBusyError);
    expect(deployment.account.callsTo('ecs', 'StopTask')).toHaveLength(1);
    expect((await respondToRuntimeFinding(TEMPLATE, d.depsFor('runtimeFinding'))).ignored).toMatch(/^duplicate delivery 3/);
  });
});

describe('protection by cluster tag on paths without a GuardDuty finding', () => {
  it('a person cannot isolate a task in a protected cluster, and nothing changes', async () => {
    deployment = await startDeployment();
    deployment.account.seedFromEvent(TEMPLATE);
    const cluster = [...deployment.account.ecs.clusters.values()].find((c) => c.clusterName === 'prod-cluster')!;
    cluster.tags['responder:protect'] = 'true';
    const before = deployment.account.calls.length;
    const result = await runRunbook({ runbook: 'isolate', taskArn: TEMPLATE.detail.resource.ecsClusterDetails.taskDetails.arn, reason: 'suspicious' }, deployment.depsFor('runbook'), 'oncall');
    expect(result.error).toBe('taskArn: tag responder:protect=true protects it: protected resources are never touched; remove the protection first');
    expect(mutatingCalls(deployment.account, before)).toEqual([]);
  });
});

describe('network-ACL deny placement', () => {
  const isolateOnlyNacl = policyFrom(`
version: 1
rules:
  - name: isolate
    match: { severity: [HIGH] }
    actions:
      - isolate-task: { fallback: [network-acl] }
`);

  function aclOf(d: SimulatedDeployment) {
    const task = d.account.ecs.tasks.get(TEMPLATE.detail.resource.ecsClusterDetails.taskDetails.arn)!;
    const subnet = d.account.ec2.networkInterfaces.get(task.eni!.networkInterfaceId)!.subnetId;
    return { acl: [...d.account.ec2.networkAcls.values()].find((a) => a.subnetIds.includes(subnet))!, ip: task.eni!.privateIpAddress };
  }

  it('goes below an allow rule that matches the task address, so the deny is the one ACLs apply', async () => {
    deployment = await startDeployment({ policy: isolateOnlyNacl });
    deployment.account.seedFromEvent(TEMPLATE);
    const { acl, ip } = aclOf(deployment);
    for (const egress of [false, true]) {
      acl.entries.push({ ruleNumber: 1, egress, protocol: '6', ruleAction: 'allow', cidrBlock: '192.168.0.0/16', portRange: { from: 443, to: 443 } });
      acl.entries.push({ ruleNumber: 5, egress, protocol: '-1', ruleAction: 'allow', cidrBlock: `${ip.split('.').slice(0, 2).join('.')}.0.0/16` });
    }
    const result = await respondToRuntimeFinding(TEMPLATE, deployment.depsFor('runtimeFinding'));
    expect(result.actions.find((a) => a.mechanism === 'network-acl')).toMatchObject({ status: 'applied' });
    const denies = acl.entries.filter((e) => e.ruleAction === 'deny' && e.cidrBlock === `${ip}/32`);
    expect(denies.map((e) => e.ruleNumber)).toEqual([2, 2]);
  });

  it('fails, and says why, when a matching allow leaves no lower number', async () => {
    deployment = await startDeployment({ policy: isolateOnlyNacl });
    deployment.account.seedFromEvent(TEMPLATE);
    const { acl, ip } = aclOf(deployment);
    for (const egress of [false, true]) acl.entries.push({ ruleNumber: 1, egress, protocol: '-1', ruleAction: 'allow', cidrBlock: '0.0.0.0/0' });
    const result = await respondToRuntimeFinding(TEMPLATE, deployment.depsFor('runtimeFinding'));
    expect(result.actions.find((a) => a.mechanism === 'network-acl')).toMatchObject({ status: 'failed', detail: expect.stringContaining(`below allow rule 1, which matches ${ip}`) });
    expect(result.containment).toBe('not-contained');
    expect(acl.entries.filter((e) => e.ruleAction === 'deny' && e.ruleNumber < 100)).toEqual([]);
  });
});
