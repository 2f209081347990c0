import { afterEach, describe, expect, it } from 'vitest';
import type { Notification } from '../shared/notification';
import { NotificationSchema } from '../shared/notification-schema';
import { fitForSns, publishNotification, subjectOf } from '../shared/notify/publish-notification';
import { isLinkable, renderSlackMessage } from '../shared/notify/slack-message';
import type { SimulatedDeployment } from '../sim/deployment';
import { expectSafeSlack, expectSnsSafe } from './hostile-corpus';
import { runtimeFindingNotification } from './fixtures/notifications';
import { loadEvent, seedAndRespond, startDeployment, variant, type Json } from './helpers/deployment';

let deployment: SimulatedDeployment | undefined;
afterEach(async () => {
  await deployment?.close();
  deployment = undefined;
});

const BIG = 'x'.repeat(70_000);

/** A notification with every string made huge and every list long: each one alone would break SNS's 256 KB. */
function everythingHuge(): Notification {
  const n = runtimeFindingNotification();
  return {
    ...n,
    headline: `${BIG}\ud800\r\n`,
    finding: { ...n.finding!, title: BIG, type: BIG, id: BIG },
    resource: { cluster: BIG, service: BIG, taskArn: BIG, launchType: BIG, images: Array.from({ length: 50 }, () => BIG) },
    indicators: { process: BIG, executablePath: BIG, commandLine: BIG, domains: Array.from({ length: 50 }, () => BIG), remoteIps: [BIG] },
    actions: Array.from({ length: 40 }, (_, i) => ({ action: `step-${i}`, status: 'applied' as const, detail: BIG, target: BIG, mechanism: BIG })),
    requestedBy: BIG,
    reason: BIG,
    ticket: BIG,
    links: [{ label: BIG, url: `https://console.aws.amazon.com/${BIG}` }],
    releaseCommand: BIG,
    notes: Array.from({ length: 500 }, () => BIG),
    error: BIG,
  };
}

describe('messages stay safe and whole', () => {
  it('fitForSns shortens every field until the message fits, keeps every action, and stays valid', () => {
    const n = everythingHuge();
    const body = fitForSns(n);
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(256 * 1024);
    const fitted = NotificationSchema.parse(JSON.parse(body));
    expect(fitted.actions.map((a) => a.action)).toEqual(n.actions.map((a) => a.action));
    expect(fitted.notes.at(-1)).toMatch(/shortened to fit SNS/);
    expectSnsSafe(n);
    expectSafeSlack(n);
  });

  it('the SNS subject: no control characters, line breaks or lone surrogates, under 100 characters', () => {
    for (const headline of ['a\ud800b', '\udfffstart', 'line\r\nbreak\u2028sep\u0007bell\u0085nel', '😀'.repeat(80), 'y'.repeat(500)]) {
      const subject = subjectOf({ ...runtimeFindingNotification(), headline });
      expect(subject.length).toBeLessThan(100);
      expect(subject).not.toMatch(/[\p{Cc}\u2028\u2029]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/u);
    }
  });

  it('a publish that fails after an action was applied is returned as failed, never thrown', async () => {
    deployment = await startDeployment();
    const { account } = deployment;
    account.faults.inject({ service: 'sns', operation: 'Publish', error: { code: 'AuthorizationError', status: 403, message: 'denied' } });
    const outcome = await publishNotification(deployment.depsFor('runtimeFinding').clients, deployment.config.topicArn, runtimeFindingNotification());
    expect(outcome).toMatchObject({ action: 'notify', status: 'failed', errorCode: 'AuthorizationErrorException' });
    expect(account.sns.published).toHaveLength(0);
    // A lone surrogate and line breaks in the headline: SNS accepts the subject it is given.
    const sent = await publishNotification(deployment.depsFor('runtimeFinding').clients, deployment.config.topicArn, { ...everythingHuge() });
    expect(sent).toMatchObject({ status: 'applied' });
    expect(Buffer.byteLength(account.sns.published.at(-1)!.message)).toBeLessThanOrEqual(256 * 1024);
  });

  it('Slack links only AWS console and documentation hosts', () => {
    expect(isLinkable('https://us-east-1.console.aws.amazon.com/guardduty/home?region=us-east-1')).toBe(true);
    expect(isLinkable('https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-runtime-monitoring.html')).toBe(true);
    // The region `evil.example?` of the issue, and its cousins.
    for (const url of ['https://evil.example/?.console.aws.amazon.com/x', 'https://console.aws.amazon.com.evil.example/', 'https://evil@console.aws.amazon.com/', 'https://console.aws.amazon.com:8443/', 'http://console.aws.amazon.com/', 'javascript:alert(1)']) {
      expect(isLinkable(url), url).toBe(false);
    }
    const message = renderSlackMessage(runtimeFindingNotification({ links: [{ label: 'GuardDuty finding', url: 'https://evil.example/?.console.aws.amazon.com/guardduty' }] }));
    expect(JSON.stringify(message)).not.toContain('<https://evil.example');
    expect(JSON.stringify(message)).toContain('link omitted: not an AWS console or documentation URL');
  });

  it('an accepted finding carrying a value nested 5,000 deep: evidence keeps the event as received, the response goes on', async () => {
    deployment = await startDeployment();
    let deep: Json = 'bottom';
    for (let i = 0; i < 5000; i++) deep = { n: deep };
    const event = variant(loadEvent('gd-ecs-fargate-reverse-shell.json'), (e) => (e.detail.service.evidence = deep));
    const result = await seedAndRespond(deployment, event);
    expect(result.error).toBeUndefined();
    expect(result.actions).toContainEqual(expect.objectContaining({ action: 'capture-evidence', status: 'applied' }));
    const stored = deployment.account.s3.objects(deployment.config.evidenceBucket).find((o) => o.key.endsWith('/event.json'))!;
    // Every level is there, down to the bottom value: the event as it came, not a summary of it.
    expect(stored.body.split('{"n":')).toHaveLength(5001);
    expect(stored.body).toContain(`"bottom"${'}'.repeat(5000)}`);
  });
});
