import { StopTaskCommand } from '@aws-sdk/client-ecs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { quarantineTagFor } from '../shared/actions/quarantine-image';
import type { EventResult } from '../shared/pipeline';
import { runRunbook } from '../shared/runbook';
import type { SimulatedAccount } from '../sim/account';
import type { FunctionName, SimulatedDeployment } from '../sim/deployment';
import { denyEntriesFor, loadEvent, notifications, policyFrom, startDeployment } from './helpers/deployment';
import { imageEvent, launchEvent, NACL_POLICY_YAML } from './helpers/image-events';
import { FAULT_KINDS, interceptCalls, type FaultKind, type FaultPlan } from './helpers/fault-injection';

// One fault (a throttle, a 5xx, a timeout, or the call succeeding and the function dying) at the N-th AWS or ledger
// call of each flow other than the runtime response (test/fault-injection.test.ts): image quarantine, the launch
// guard, release, and the stopped-task clean-up. Then Lambda's re-deliveries (3 attempts in all), or a person's
// command run again. Seeded: the same runs every time.
const SCAN = imageEvent('ecr/01-ecr-image-scan-complete-critical.json');
const REPOSITORY: string = SCAN.detail['repository-name'];
const DIGEST: string = SCAN.detail['image-digest'];
const FARGATE = loadEvent('gd-ecs-fargate-reverse-shell.json');
const FARGATE_TASK = 'arn:aws:ecs:us-east-1:111122223333:task/prod-cluster/8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a';
const FARGATE_LEDGER_ID = `guardduty:${FARGATE.detail.id}`;
const ATTEMPTS = 3;
const naclPolicy = policyFrom(NACL_POLICY_YAML);

/** Figures for the closing note: runs, faults that hit a call, outcomes. */
const figures = new Map<string, { runs: number; hit: number; outcomes: Record<string, number> }>();
function count(flow: string, plan: FaultPlan, outcome: string): void {
  const f = figures.get(flow) ?? { runs: 0, hit: 0, outcomes: {} };
  f.runs++;
  if (plan.hit) f.hit++;
  f.outcomes[outcome] = (f.outcomes[outcome] ?? 0) + 1;
  figures.set(flow, f);
}
afterAll(() => {
  for (const [flow, f] of figures) console.log(`fault injection, ${flow}: ${f.runs} runs, ${f.hit} faults hit a call, outcomes ${JSON.stringify(f.outcomes)}`);
});

interface Run {
  d: SimulatedDeployment;
  advance: () => void;
}

async function withDeployment(policy: ReturnType<typeof policyFrom> | undefined, body: (run: Run) => Promise<void>): Promise<void> {
  let clock = new Date('2025-06-14T09:00:00Z');
  const d = await startDeployment({ ...(policy ? { policy } : {}), now: () => clock });
  try {
    // Lambda retries a failed invocation after a minute, then two (past the 90 s lease of one that died).
    await body({ d, advance: () => (clock = new Date(clock.getTime() + 3 * 60_000)) });
  } finally {
    await d.close();
  }
}

/** The fault armed for the first delivery only; re-deliveries until one succeeds (Lambda's asynchronous retries). */
async function deliver(run: Run, fn: FunctionName, event: unknown, plan: { current?: FaultPlan }): Promise<EventResult | undefined> {
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      return await run.d.invoke(fn, event);
    } catch {
      // failed: delivered again
    } finally {
      plan.current = undefined;
      run.advance();
    }
  }
  return undefined;
}

function armed(run: Run, fn: FunctionName, at: number, kind: FaultKind): { plan: FaultPlan; holder: { current?: FaultPlan } } {
  const plan: FaultPlan = { at, kind, seen: 0, dead: false };
  const holder = { current: plan };
  interceptCalls(run.d.depsFor(fn), holder);
  return { plan, holder };
}

const image = (account: SimulatedAccount) => account.ecr.image(REPOSITORY, DIGEST)!;
const okCalls = (account: SimulatedAccount, service: 'ecr' | 'ecs' | 'ec2', operation: string, input?: (i: Record<string, unknown>) => boolean) =>
  account.callsTo(service, operation).filter((c) => c.ok && (!input || input(c.input)));
const archiveCalls = (account: SimulatedAccount) => okCalls(account, 'ecr', 'UpdateImageStorageClass', (i) => i.targetStorageClass === 'ARCHIVE');

/** release-image, as a person runs it, then ECR finishing the restore: the image as it was before the quarantine. */
async function expectImageReleased(d: SimulatedDeployment, before: { imageStatus: string; imageTags: string[] }, why: string): Promise<void> {
  const released = await runRunbook({ runbook: 'release-image', repository: REPOSITORY, imageDigest: DIGEST, reason: 'drill' }, d.depsFor('runbook'), 'bob');
  expect(released.actions.filter((a) => a.status === 'failed'), `${why}: release-image incomplete`).toEqual([]);
  d.account.ecr.settle();
  expect(image(d.account).imageStatus, why).toBe(before.imageStatus);
  expect([...image(d.account).imageTags].sort(), why).toEqual(before.imageTags);
}

async function imageQuarantine(at: number, kind: FaultKind): Promise<void> {
  await withDeployment(undefined, async (run) => {
    const { d } = run;
    d.account.seedFromEvent(SCAN);
    const before = { imageStatus: image(d.account).imageStatus, imageTags: [...image(d.account).imageTags].sort() };
    const { plan, holder } = armed(run, 'imageFinding', at, kind);
    await deliver(run, 'imageFinding', SCAN, holder);
    const why = `fault ${kind} at call ${at} (${plan.hit ?? 'none'})`;

    const now = image(d.account);
    const archived = now.imageStatus === 'ARCHIVED';
    const tagOnly = now.imageTags.length === 1 && now.imageTags[0] === quarantineTagFor(DIGEST);
    const told = notifications(d.account).some((n) => new RegExp(`^NOT CONTAINED after ${ATTEMPTS} attempts`).test(n.headline));
    expect(archived || tagOnly || told, `${why}: neither quarantined nor reported`).toBe(true);
    count('image quarantine', plan, archived ? 'archived' : tagOnly ? 'quarantine tag only' : 'NOT CONTAINED reported');
    // No change twice: one archive, at most one retag.
    expect(archiveCalls(d.account).length, why).toBeLessThanOrEqual(1);
    expect(okCalls(d.account, 'ecr', 'PutImage').length, why).toBeLessThanOrEqual(1);
    // The before-state recorded is the image as it was, never the quarantine's.
    for (const r of (await d.ledger.recordsForTarget(`image:${REPOSITORY}@${DIGEST}`)).filter((x) => x.beforeState)) {
      expect(r.beforeState, `${why}: ${r.step}`).toMatchObject({ imageStatus: before.imageStatus, tags: SCAN.detail['image-tags'] });
    }
    // The claim is finished: a later scan of the same image is a duplicate, not a new response.
    expect((await d.ledger.getClaim(`image:${REPOSITORY}@${DIGEST}`))?.state, why).toBe('done');
    await expectImageReleased(d, before, why);
  });
}

async function launchGuard(at: number, kind: FaultKind): Promise<void> {
  await withDeployment(undefined, async (run) => {
    const { d } = run;
    d.account.seedFromEvent(SCAN);
    const before = { imageStatus: image(d.account).imageStatus, imageTags: [...image(d.account).imageTags].sort() };
    expect((await d.invoke('imageFinding', SCAN)).containment).toBe('contained (archive)');
    const launch = launchEvent(DIGEST);
    d.account.seedFromEvent(launch);
    const { plan, holder } = armed(run, 'taskLaunchGuard', at, kind);
    await deliver(run, 'taskLaunchGuard', launch, holder);
    const why = `fault ${kind} at call ${at} (${plan.hit ?? 'none'})`;

    const task = d.account.ecs.tasks.get(launch.detail.taskArn)!;
    const stopped = task.desiredStatus === 'STOPPED';
    const told = notifications(d.account).some((n) => n.kind === 'launch-guard' && new RegExp(`^NOT CONTAINED after ${ATTEMPTS} attempts`).test(n.headline));
    expect(stopped || told, `${why}: the launch neither stopped nor reported`).toBe(true);
    count('launch guard', plan, stopped ? 'stopped' : 'NOT STOPPED reported');
    expect(okCalls(d.account, 'ecs', 'StopTask').length, `${why}: stopped twice`).toBeLessThanOrEqual(1);
    for (const r of (await d.ledger.recordsForTarget(`task:${launch.detail.taskArn}`)).filter((x) => x.beforeState)) {
      expect((r.beforeState as { lastStatus?: string }).lastStatus, `${why}: ${r.step}`).not.toBe('STOPPED');
    }
    // The quarantine itself is untouched by the guard's fault, and a release still gives the image back exactly.
    expect(archiveCalls(d.account)).toHaveLength(1);
    await expectImageReleased(d, before, why);
  });
}

async function releaseTask(at: number, kind: FaultKind): Promise<void> {
  await withDeployment(naclPolicy, async (run) => {
    const { d } = run;
    d.account.seedFromEvent(FARGATE);
    const eni = d.account.ec2.networkInterfaces.get(d.account.ecs.tasks.get(FARGATE_TASK)!.eni!.networkInterfaceId)!;
    const cidr = `${eni.privateIpAddress}/32`;
    const tagsBefore = { task: structuredClone(d.account.ecs.tasks.get(FARGATE_TASK)!.tags), eni: structuredClone(eni.tags) };
    expect((await d.invoke('runtimeFinding', FARGATE)).containment).toBe('contained (network-acl)');
    const refused = (await d.ledger.actionRecords(FARGATE_LEDGER_ID)).filter((r) => ['refused', 'unsupported'].includes(r.status)).map((r) => r.mechanism);

    const { plan, holder } = armed(run, 'runbook', at, kind);
    const command = { runbook: 'release', findingId: FARGATE_LEDGER_ID, reason: 'drill' };
    const results: EventResult[] = [];
    let first = 'failed as a whole, completed by the repeat';
    try {
      results.push(await runRunbook(command, d.depsFor('runbook'), 'bob'));
      first = results[0]!.actions.some((a) => a.status === 'failed') ? 'incomplete, completed by the repeat' : 'released, the repeat changed nothing';
    } catch {
      // the release failed as a whole (a ledger read, or the function died): run again
    }
    holder.current = undefined;
    run.advance();
    const again = await runRunbook(command, d.depsFor('runbook'), 'bob');
    results.push(again);
    const why = `fault ${kind} at call ${at} (${plan.hit ?? 'none'})`;
    count('release (task)', plan, first);

    expect(again.actions.filter((a) => a.status === 'failed'), `${why}: the repeated release is incomplete`).toEqual([]);
    // A step AWS refused changed nothing: never reported as a release that failed.
    for (const r of results) expect(r.actions.filter((a) => a.status === 'failed' && refused.includes(a.mechanism ?? null as never)), why).toEqual([]);
    expect(denyEntriesFor(d.account, eni.subnetId, cidr), why).toEqual([]);
    expect(d.account.ecs.tasks.get(FARGATE_TASK)!.tags, why).toEqual(tagsBefore.task);
    expect(eni.tags, why).toEqual(tagsBefore.eni);
    // Nothing removed twice: the two deny entries, once each.
    expect(okCalls(d.account, 'ec2', 'DeleteNetworkAclEntry').length, why).toBeLessThanOrEqual(2);
    const records = await d.ledger.actionRecords(FARGATE_LEDGER_ID);
    for (const r of records.filter((x) => x.beforeState && ['applied', 'intent', 'failed'].includes(x.status))) expect.fail(`${why}: ${r.step} left ${r.status}`);
    const released = records.filter((r) => r.status === 'released');
    expect(released.length, `${why}: nothing released`).toBeGreaterThan(0);
    expect(released.map((r) => r.releasedBy), why).toEqual(released.map(() => 'bob'));
  });
}

async function releaseImage(at: number, kind: FaultKind): Promise<void> {
  await withDeployment(undefined, async (run) => {
    const { d } = run;
    d.account.seedFromEvent(SCAN);
    const before = { imageStatus: image(d.account).imageStatus, imageTags: [...image(d.account).imageTags].sort() };
    await d.invoke('imageFinding', SCAN);
    const { plan, holder } = armed(run, 'runbook', at, kind);
    const command = { runbook: 'release-image', repository: REPOSITORY, imageDigest: DIGEST, reason: 'drill' };
    let first: EventResult | undefined;
    try {
      first = await runRunbook(command, d.depsFor('runbook'), 'bob');
    } catch {
      // run again
    }
    holder.current = undefined;
    const why = `fault ${kind} at call ${at} (${plan.hit ?? 'none'})`;
    const again = await runRunbook(command, d.depsFor('runbook'), 'bob');
    count('release (image)', plan, first ? 'released, the repeat changed nothing' : 'failed, completed by the repeat');
    expect(again.actions.filter((a) => a.status === 'failed'), why).toEqual([]);
    expect(okCalls(d.account, 'ecr', 'UpdateImageStorageClass', (i) => i.targetStorageClass === 'STANDARD').length, `${why}: restored twice`).toBeLessThanOrEqual(1);
    d.account.ecr.settle();
    expect(image(d.account).imageStatus, why).toBe(before.imageStatus);
    expect([...image(d.account).imageTags].sort(), why).toEqual(before.imageTags);
    const records = (await d.ledger.recordsForTarget(`image:${REPOSITORY}@${DIGEST}`)).filter((r) => r.action === 'quarantine-image');
    expect(records.length, `${why}: no quarantine record`).toBeGreaterThan(0);
    expect(records.map((r) => r.status), why).toEqual(records.map(() => 'released'));
  });
}

async function stoppedTaskCleanUp(at: number, kind: FaultKind): Promise<void> {
  await withDeployment(naclPolicy, async (run) => {
    const { d } = run;
    d.account.seedFromEvent(FARGATE);
    const eni = d.account.ec2.networkInterfaces.get(d.account.ecs.tasks.get(FARGATE_TASK)!.eni!.networkInterfaceId)!;
    const cidr = `${eni.privateIpAddress}/32`;
    await d.invoke('runtimeFinding', FARGATE);
    expect(denyEntriesFor(d.account, eni.subnetId, cidr)).toHaveLength(2);
    d.account.drainEvents();
    // The task stops (its service scaled in, or a person stopped it): ECS sends STOPPED once it has.
    await d.account.clients().ecs.send(new StopTaskCommand({ cluster: 'prod-cluster', task: FARGATE_TASK, reason: 'scaled in' }));
    d.account.ecs.settle();
    const stopped = d.account.drainEvents().find((e) => e['detail-type'] === 'ECS Task State Change' && (e.detail as { lastStatus?: string }).lastStatus === 'STOPPED')!;
    expect(stopped).toBeDefined();

    const { plan, holder } = armed(run, 'taskStopped', at, kind);
    const result = await deliver(run, 'taskStopped', stopped, holder);
    const why = `fault ${kind} at call ${at} (${plan.hit ?? 'none'})`;
    let outcome = result ? 'cleaned up' : 'failed 3 times';
    if (denyEntriesFor(d.account, eni.subnetId, cidr).length) {
      // Not completed within Lambda's retries: the event from the failure queue, run again, completes it.
      await d.invoke('taskStopped', stopped);
      outcome = 'completed by a re-run';
    }
    count('stopped-task clean-up', plan, outcome);
    expect(denyEntriesFor(d.account, eni.subnetId, cidr), why).toEqual([]);
    expect(okCalls(d.account, 'ec2', 'DeleteNetworkAclEntry').length, `${why}: removed twice`).toBeLessThanOrEqual(2);
    const nacl = (await d.ledger.actionRecords(FARGATE_LEDGER_ID)).filter((r) => r.mechanism === 'network-acl');
    expect(nacl.length, `${why}: no network-ACL record`).toBeGreaterThan(0);
    expect(nacl.map((r) => r.status), why).toEqual(nacl.map(() => 'released'));
    expect(nacl.every((r) => r.beforeState), `${why}: before-state lost`).toBe(true);
    // Another delivery changes nothing.
    const deletes = okCalls(d.account, 'ec2', 'DeleteNetworkAclEntry').length;
    expect((await d.invoke('taskStopped', stopped)).ignored, why).toMatch(/holds no network-ACL entry/);
    expect(okCalls(d.account, 'ec2', 'DeleteNetworkAclEntry')).toHaveLength(deletes);
  });
}

const kinds = fc.constantFrom<FaultKind>(...FAULT_KINDS);

describe('fault injection, every flow: contained or told, nothing twice, the exact before-state back', () => {
  it('image quarantine (a critical ECR scan)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 16 }), kinds, imageQuarantine), { seed: 8101, numRuns: 20 });
  }, 120_000);

  it('the launch guard (a launch of the quarantined digest)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 16 }), kinds, launchGuard), { seed: 8102, numRuns: 16 });
  }, 120_000);

  it('release after a containment, the fault during the release, then the release repeated', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 20 }), kinds, releaseTask), { seed: 8103, numRuns: 14 });
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 10 }), kinds, releaseImage), { seed: 8104, numRuns: 10 });
  }, 120_000);

  it('stopped-task clean-up after a network-ACL containment', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 6 }), kinds, stoppedTaskCleanUp), { seed: 8105, numRuns: 14 });
  }, 120_000);

  // Runs whose index lies past a flow's last call are unfaulted controls: most runs must really fail a call, or a
  // property could pass while testing nothing.
  it('most runs of every flow failed a call', () => {
    expect(figures.size).toBe(5);
    for (const [flow, f] of figures) expect(f.hit, `${flow}: ${f.hit} of ${f.runs} runs hit a call`).toBeGreaterThanOrEqual(Math.ceil(f.runs * 0.6));
  });
});
