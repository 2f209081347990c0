import { describe, expect, it, vi } from 'vitest';
import type { ActionOutcome } from '../shared/notification';
import { normaliseGuardDutyFinding } from '../shared/events/guardduty';
import { buildRuntimeNotification, runbookTarget } from '../shared/notify/build-notification';
import type { Decision } from '../shared/policy/decide';
import { loadEvent } from './helpers/deployment';

/** What a person reads after a Fargate service task was contained (issue 9, item 7). */
describe('notifications people can act on', () => {
  const finding = { ...normaliseGuardDutyFinding(loadEvent('gd-ecs-fargate-reverse-shell.json')) };
  finding.task = { ...finding.task, service: 'checkout' };
  const decision: Decision = { policyRule: 'unmistakable-threats', mode: 'enforce', steps: [{ action: 'isolate-task', params: {} }, { action: 'stop-task', params: {} }], notes: [] };
  const outcomes: ActionOutcome[] = [
    { action: 'isolate-task', status: 'unsupported', mechanism: 'security-group', errorCode: 'OperationNotPermitted', target: 'eni-0abc' },
    { action: 'isolate-task', status: 'applied', mechanism: 'network-acl', target: 'acl-0def' },
    { action: 'stop-task', status: 'applied', mechanism: 'stop-task', target: `task:${finding.task.arn}` },
  ];
  const digest = `sha256:${'a'.repeat(64)}`;
  const build = () =>
    buildRuntimeNotification({ finding, decision, outcomes, ledgerId: `guardduty:${finding.id}`, images: [`111122223333.dkr.ecr.us-east-1.amazonaws.com/team/checkout-api:3.2.0@${digest}`], requestedBy: 'automation', at: new Date() });

  it('the headline names every mechanism that held, in order', () => {
    expect(build().headline).toBe(`Contained: network ACL, then stopped: HIGH Execution:Runtime/ReverseShell in prod-cluster/checkout`);
  });

  it('the task once, at the top: no action line repeats it; other targets stay', () => {
    const n = build();
    expect(n.resource.taskArn).toBe(finding.task.arn);
    expect(n.actions.map((a) => a.target)).toEqual(['eni-0abc', 'acl-0def', undefined]);
  });

  it("AWS's refusal of the swap on a Fargate interface is a neutral note saying what held", () => {
    expect(build().notes).toContain('As expected on Fargate and awsvpc tasks, AWS does not let an account change the security groups of an ECS-managed interface (OperationNotPermitted); what held instead: network ACL, then stopped.');
  });

  it('suggested commands are correct: the repository without its tag, and the target of the stage that sent it', () => {
    vi.stubEnv('RESPONDER_STAGE', 'prod');
    vi.stubEnv('AWS_REGION', 'us-east-1');
    try {
      // A finding forwarded from another region: the command goes to the runbook where the responder runs.
      expect(runbookTarget('eu-west-1')).toBe('--via-lambda --stage prod --region us-east-1');
      const n = build();
      expect(n.notes).toContain(
        `ECS will start a replacement for checkout from the same image digest. To stop it: npm run runbook -- quarantine-image --repository team/checkout-api --digest ${digest} --reason "<why>" --via-lambda --stage prod --region us-east-1`,
      );
      expect(n.releaseCommand).toBe(`npm run runbook -- release --finding guardduty:${finding.id} --reason "<why>" --via-lambda --stage prod --region us-east-1`);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
