import { describe, expect, it } from 'vitest';
import { isMutatingAction } from '../shared/actions/registry';
import { deploymentHome, type ResponderConfig } from '../shared/config';
import { parseImagePush } from '../shared/events/ecr-image-action';
import { parseTaskStateChange } from '../shared/events/ecs-task-state';
import { normaliseGuardDutyFinding } from '../shared/events/guardduty';
import { normaliseImageFinding } from '../shared/events/image-finding';
import { InvalidEventError } from '../shared/events/invalid-event';
import type { ImageFinding } from '../shared/finding';
import { respondToImageFinding } from '../shared/image-pipeline';
import { guardLaunchOrPush } from '../shared/launch-guard';
import type { ActionOutcome, Notification } from '../shared/notification';
import { buildImageNotification } from '../shared/notify/build-image-notification';
import { buildRuntimeNotification } from '../shared/notify/build-notification';
import { respondToRuntimeFinding, type EventResult, type PipelineDeps } from '../shared/pipeline';
import { decide, type Decision } from '../shared/policy/decide';
import { decideImage } from '../shared/policy/decide-image';
import { parseRunbookCommand, runRunbook } from '../shared/runbook';
import { cleanUpStoppedTask } from '../shared/task-stopped';
import { expectSafeSlack, expectSnsSafe, hostileEvents, samples, SEED } from './hostile-corpus';
import { mutatingCalls, notifications, shippedPolicy, startDeployment, type Json } from './helpers/deployment';

/** Per intake: generated events on the pure path (parse, decide, build, render), and fewer through a deployment. */
const PURE = 1200;
const DEPLOYED = 150;

const CONFIG: ResponderConfig = {
  stage: 't', tableName: 't', evidenceBucket: 'evidence', evidenceKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000',
  topicArn: 'arn:aws:sns:us-east-1:111122223333:t', quarantineSecurityGroups: {}, protectedClusters: [], defaultMode: 'enforce', forceObserve: false,
};
const HOME = deploymentHome(CONFIG);
const POLICY = shippedPolicy();
const AT = new Date('2025-06-10T10:00:00Z');
const OBSERVED: Decision = { policyRule: 'none', mode: 'observe', steps: [{ action: 'notify', params: {} }], notes: [] };

/** Outcomes that carry the finding's own strings, as actions' details and targets do. */
const outcomesOf = (decision: Decision, target: string, detail: string): ActionOutcome[] =>
  decision.steps.map((s) => ({ action: s.action, status: 'planned', mechanism: 'test', target, detail }));

function imageNotification(finding: ImageFinding): Notification {
  const result = decideImage(finding, POLICY, CONFIG, isMutatingAction, AT);
  const decision = result.act ? result.decision : { ...OBSERVED, severityCounts: {}, vulnerabilities: [], severityRank: 0 };
  return buildImageNotification({
    finding, decision, severityCounts: decision.severityCounts, vulnerabilities: finding.vulnerabilities,
    tasksUsingImage: [{ taskArn: `arn:aws:ecs:us-east-1:111122223333:task/c/${finding.tags[0] ?? 'x'}`, clusterArn: 'arn:aws:ecs:us-east-1:111122223333:cluster/c', containers: finding.tags }],
    outcomes: outcomesOf(decision, `image:${finding.repository}@${finding.digest}`, finding.title), ledgerId: finding.id, requestedBy: 'automation', at: AT,
  });
}

/** Each intake: its samples, and what its pure path does with an event (parse with the home check, then a message). */
const INTAKES: { name: string; samples: Json[]; pure: (event: Json) => Notification | undefined }[] = [
  {
    name: 'GuardDuty finding',
    samples: samples('guardduty', /^gd-ecs/),
    pure: (event) => {
      const finding = normaliseGuardDutyFinding(event, HOME);
      const result = decide(finding, POLICY, CONFIG, isMutatingAction);
      const decision = result.act ? result.decision : OBSERVED;
      return buildRuntimeNotification({
        finding, decision, outcomes: outcomesOf(decision, `task:${finding.task.arn}`, finding.indicators.commandLine ?? finding.title), ledgerId: `guardduty:${finding.id}`,
        images: finding.task.containers.map((c) => c.image), requestedBy: 'automation', evidenceBucket: CONFIG.evidenceBucket, at: AT, notes: [finding.title],
      });
    },
  },
  { name: 'ECR image scan', samples: samples('ecr', /scan/), pure: (event) => imageNotification(normaliseImageFinding(event, HOME)) },
  { name: 'Inspector2 finding', samples: samples('inspector', /finding/), pure: (event) => imageNotification(normaliseImageFinding(event, HOME)) },
  { name: 'Inspector2 scan', samples: samples('inspector', /scan/), pure: (event) => imageNotification(normaliseImageFinding(event, HOME)) },
  {
    name: 'ECR image action',
    samples: samples('ecr', /push/),
    pure: (event) => {
      const push = parseImagePush(event, HOME);
      return imageNotification({ kind: 'image', source: 'ecr-push', id: push.id ?? 'push', account: push.account, region: push.region, repository: push.repository, digest: push.digest, tags: push.tag ? [push.tag] : [], status: 'PUSH', actionable: true, severityCounts: {}, vulnerabilities: [], title: `push ${push.tag ?? ''}`, observedAt: AT.toISOString() });
    },
  },
  {
    name: 'ECS task state change',
    samples: samples('ecs', /./),
    pure: (event) => {
      parseTaskStateChange(event, HOME);
      return undefined;
    },
  },
  {
    name: 'runbook payload',
    samples: [
      { runbook: 'isolate', taskArn: 'arn:aws:ecs:us-east-1:111122223333:task/prod-cluster/8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a', reason: 'reverse shell', ticket: 'INC-1', requestedBy: 'alice', fallback: ['network-acl'] },
      { runbook: 'stop', taskArn: 'arn:aws:ecs:us-east-1:111122223333:task/prod-cluster/8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a', reason: 'mining', ignoreMinHealthy: true },
      { runbook: 'quarantine-image', repository: 'checkout-api', imageDigest: 'sha256:c8be7b03fd5907ed0b6fb8cd0e3f3c31c3c83ed949f136b7754005025271738f', reason: 'CVE', stopRunningTasks: true },
      { runbook: 'release', findingId: 'guardduty:c4e6a8b0d2f44a6c8e0a2c4e6f8a0b1c', reason: 'false positive' },
      { runbook: 'status', taskArn: 'arn:aws:ecs:us-east-1:111122223333:task/prod-cluster/8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a' },
    ],
    pure: (event) => {
      parseRunbookCommand(event, HOME);
      return undefined;
    },
  },
];

describe('the hostile corpus: generated events at every intake, seeded', () => {
  it.each(INTAKES.map((intake, i) => [intake.name, intake, i] as const))(`%s: ${PURE} events on the pure path never crash it, and every message is safe and whole`, (_name, intake, index) => {
    const events = hostileEvents(intake.samples, PURE, SEED + index);
    expect(events).toHaveLength(PURE);
    let refused = 0;
    let rendered = 0;
    for (const event of events) {
      let notification: Notification | undefined;
      try {
        notification = intake.pure(event);
      } catch (error) {
        // The only way an intake may say no: an InvalidEventError that names a field.
        expect(error, String(error)).toBeInstanceOf(InvalidEventError);
        expect((error as InvalidEventError).field).toMatch(/^[\w.-]+$|^\(event\)$/);
        refused += 1;
        continue;
      }
      if (!notification) continue;
      expectSafeSlack(notification);
      expectSnsSafe(notification);
      rendered += 1;
    }
    // The corpus is worth its time only if it reaches both sides.
    expect(refused).toBeGreaterThan(PURE / 10);
    expect(PURE - refused).toBeGreaterThan(PURE / 20);
    if (intake.name !== 'ECS task state change' && intake.name !== 'runbook payload') expect(rendered).toBe(PURE - refused);
  });
});

type Entry = (event: unknown, deps: PipelineDeps) => Promise<EventResult>;
const DEPLOYED_INTAKES: { name: string; fn: 'runtimeFinding' | 'imageFinding' | 'taskLaunchGuard' | 'taskStopped' | 'runbook'; entry: Entry; samples: Json[] }[] = [
  { name: 'GuardDuty finding', fn: 'runtimeFinding', entry: respondToRuntimeFinding, samples: INTAKES[0]!.samples },
  { name: 'image scan results', fn: 'imageFinding', entry: respondToImageFinding, samples: [...INTAKES[1]!.samples, ...INTAKES[2]!.samples, ...INTAKES[3]!.samples] },
  { name: 'ECR push and task launch', fn: 'taskLaunchGuard', entry: guardLaunchOrPush, samples: [...INTAKES[4]!.samples, ...INTAKES[5]!.samples] },
  { name: 'stopped task', fn: 'taskStopped', entry: cleanUpStoppedTask, samples: INTAKES[5]!.samples.map((e) => ({ ...e, detail: { ...e.detail, lastStatus: 'STOPPED', desiredStatus: 'STOPPED' } })) },
  { name: 'runbook payload', fn: 'runbook', entry: (event, deps) => runRunbook(event, deps, 'hostile-corpus'), samples: INTAKES[6]!.samples },
];

describe('the hostile corpus through a simulated deployment', () => {
  it.each(DEPLOYED_INTAKES.map((intake, i) => [intake.name, intake, i] as const))('%s: no unhandled error, no AWS call on a refused event, every message within SNS and Slack limits', async (_name, intake, index) => {
    const deployment = await startDeployment();
    try {
      for (const sample of [...INTAKES[0]!.samples, ...intake.samples]) {
        try {
          deployment.account.seedFromEvent(sample);
        } catch {
          // Not every sample seeds the account (a runbook payload); the responder is what is under test.
        }
      }
      const deps = deployment.depsFor(intake.fn);
      let refused = 0;
      for (const [i, event] of hostileEvents(intake.samples, DEPLOYED, SEED + 100 + index).entries()) {
        // A finding id of its own where the id is well formed, so each acts instead of joining the first one's claim.
        if (intake.fn === 'runtimeFinding' && typeof event?.detail?.id === 'string' && /^[a-f0-9]+$/.test(event.detail.id)) event.detail.id = `${event.detail.id}${i}`;
        const callsBefore = deployment.account.calls.length;
        const published = deployment.account.sns.published.length;
        const result = await intake.entry(event, deps);
        // Refused: nothing changed in the account (an intake refusal makes no call at all: test/intake-refusal.test.ts).
        if (result.error !== undefined) expect(mutatingCalls(deployment.account, callsBefore), result.error).toEqual([]);
        if (result.error !== undefined) refused += 1;
        for (const message of deployment.account.sns.published.slice(published)) expect(Buffer.byteLength(message.message)).toBeLessThanOrEqual(262_144);
      }
      // The corpus reached both sides here too: refusals, and events that went on into the pipeline.
      expect(refused, `${intake.name}: refused`).toBeGreaterThan(DEPLOYED / 10);
      expect(DEPLOYED - refused, `${intake.name}: accepted`).toBeGreaterThan(DEPLOYED / 20);
      for (const notification of notifications(deployment.account)) expectSafeSlack(notification);
    } finally {
      await deployment.close();
    }
  });
});
