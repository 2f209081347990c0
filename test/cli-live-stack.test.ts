import { describe, expect, it } from 'vitest';
import { configFromStackOutputs } from '../cli/live-stack';
import { packageStack } from '../sim/packaged-template';

describe('--live reads the deployed stack, not environment variables (issue 9, item 1)', () => {
  it("builds the functions' configuration from the stack's outputs for the stage", () => {
    const outputs = {
      LedgerTableName: 'ecs-threat-responder-prod-LedgerTable-1ABC',
      EvidenceBucketName: 'ecs-threat-responder-prod-evidencebucket-1abc',
      EvidenceKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/0f0f0f0f-0000-4000-8000-000000000000',
      NotificationTopicArn: 'arn:aws:sns:eu-west-1:123456789012:ecs-threat-responder-prod-notifications',
      ObserveSwitchParameterName: '/ecs-threat-responder/prod/observe-switch',
      StageSettings: '{"defaultMode":"observe","forceObserve":"false","quarantineSecurityGroups":"vpc-0abc=sg-0def","protectedClusters":"payments-prod","imageTaskClusters":""}',
    };
    expect(configFromStackOutputs('prod', outputs)).toMatchObject({
      stage: 'prod',
      tableName: outputs.LedgerTableName,
      evidenceBucket: outputs.EvidenceBucketName,
      evidenceKeyArn: outputs.EvidenceKeyArn,
      topicArn: outputs.NotificationTopicArn,
      switchParameter: outputs.ObserveSwitchParameterName,
      defaultMode: 'observe',
      forceObserve: false,
      quarantineSecurityGroups: { 'vpc-0abc': 'sg-0def' },
      protectedClusters: ['payments-prod'],
    });
    expect(() => configFromStackOutputs('prod', { LedgerTableName: 't' })).toThrow('stack ecs-threat-responder-prod has no output EvidenceBucketName, EvidenceKeyArn, NotificationTopicArn, StageSettings: redeploy it with this version');
  });

  it('the stage settings output carries the parameters the stack was packaged with', () => {
    const { template } = packageStack({ stage: 'dev' });
    const settings = JSON.parse((template.Outputs as Record<string, { Value: string }>).StageSettings!.Value);
    expect(Object.keys(settings).sort()).toEqual(['defaultMode', 'forceObserve', 'imageTaskClusters', 'protectedClusters', 'quarantineSecurityGroups']);
  });
});
