import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runRunbook } from '../shared/runbook';
import type { SimulatedDeployment } from '../sim/deployment';
import { denyEntriesFor, loadEvent, notifications, policyFrom, startDeployment } from './helpers/deployment';
import { FAULT_KINDS, interceptCalls, type FaultKind, type FaultPlan } from './helpers/fault-injection';

// A fault at any AWS or ledger call of a critical Fargate response (a throttle, a 5xx, a timeout, or the call
// succeeding and the function dying before it records it), then Lambda's re-deliveries (3 attempts in all) and a
// person's release. Seeded: the same runs every time.
const FARGATE = loadEvent('gd-ecs-fargate-reverse-shell.json');
const TASK = 'arn:aws:ecs:us-east-1:111122223333:task/prod-cluster/8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a';
const LEDGER_ID = `guardduty:${FARGATE.detail.id}`;
const policy = policyFrom(`
version: 1
rules:
  - name: contain
    match: { severity: [HIGH, CRITICAL] }
    actions:
      - capture-evidence
      - tag
      - isolate-task: { fallback: [network-acl] }
      - notify
`);

type Kind = FaultKind;
type Plan = FaultPlan;

async function run(at: number, kind: Kind): Promise<void> {
  let clock = new Date('2025-06-14T09:00:00Z');
  const d: SimulatedDeployment = await startDeployment({ policy, now: () => clock });
  try {
    d.account.seedFromEvent(FARGATE);
    const eniId = d.account.ecs.tasks.get(TASK)!.eni!.networkInterfaceId;
    const eni = d.account.ec2.networkInterfaces.get(eniId)!;
    const tagsBefore = { task: structuredClone(d.account.ecs.tasks.get(TASK)!.tags), eni: structuredClone(eni.tags) };
    const cidr = `${eni.privateIpAddress}/32`;
    const fault: Plan = { at, kind, seen: 0, dead: false };
    const plan: { current?: Plan } = { current: fault };
    interceptCalls(d.depsFor('runtimeFinding'), plan);

    let finished = false;
    for (let attempt = 1; attempt <= 3 && !finished; attempt++) {
      try {
        await d.invoke('runtimeFinding', FARGATE);
        finished = true;
      } catch {
        // Lambda retries a failed invocation after a minute, then two (past the 90 s lease of one that died).
      }
      plan.current = undefined;
      clock = new Date(clock.getTime() + 3 * 60_000);
    }
    // Every run is a faulted one: its index is below the calls an unfaulted response makes.
    expect(fault.hit, `fault ${kind} at call ${at}: no call was failed`).toBeDefined();
    const denies = denyEntriesFor(d.account, eni.subnetId, cidr);
    const contained = denies.length === 2;
    const told = notifications(d.account).some((n) => /^NOT CONTAINED after 3 attempts/.test(n.headline));
    expect(contained || told, `fault ${kind} at call ${at}: neither contained nor reported`).toBe(true);
    expect(denies.length).toBeLessThanOrEqual(2); // no change twice
    // Before-states kept: the tag record holds the tags as they were, never the responder's own.
    const tagRecord = await d.ledger.actionRecord(LEDGER_ID, 'tag');
    expect(tagRecord, `fault ${kind} at call ${at}: no tag record`).toBeDefined();
    expect(tagRecord!.beforeState).toMatchObject({ taskTags: { 'responder:state': tagsBefore.task['responder:state'] ?? null } });

    const released = await runRunbook({ runbook: 'release', findingId: LEDGER_ID, reason: 'drill' }, d.depsFor('runbook'), 'bob');
    expect(released.actions.filter((a) => a.status === 'failed'), `fault ${kind} at call ${at}: release incomplete`).toEqual([]);
    expect(denyEntriesFor(d.account, eni.subnetId, cidr)).toEqual([]);
    expect(d.account.ecs.tasks.get(TASK)!.tags).toEqual(tagsBefore.task);
    expect(eni.tags).toEqual(tagsBefore.eni);
    const records = await d.ledger.actionRecords(LEDGER_ID);
    for (const r of records.filter((x) => x.beforeState && ['applied', 'intent', 'failed'].includes(x.status))) expect.fail(`${r.step} left ${r.status} after release`);
    expect(records.some((r) => r.status === 'released' && r.releasedBy === 'bob')).toBe(true);
  } finally {
    await d.close();
  }
}

/** How many calls (AWS and ledger) one unfaulted response makes: the range a fault is drawn from. */
async function callsOfOneResponse(): Promise<number> {
  const d = await startDeployment({ policy });
  try {
    d.account.seedFromEvent(FARGATE);
    const counting: Plan = { at: -1, kind: 'server', seen: 0, dead: false };
    interceptCalls(d.depsFor('runtimeFinding'), { current: counting });
    await d.invoke('runtimeFinding', FARGATE);
    return counting.seen;
  } finally {
    await d.close();
  }
}

describe('fault injection: runtime containment of a Fargate task', () => {
  it('a fault at any call, then re-deliveries and a release: contained or told, nothing twice, exact before-state back', async () => {
    const calls = await callsOfOneResponse();
    expect(calls).toBeGreaterThan(20);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: calls - 1 }), fc.constantFrom<Kind>(...FAULT_KINDS), run),
      { seed: 42, numRuns: 24 },
    );
  }, 120_000);
});
