import { describe, expect, it } from 'vitest';
import { packageStack } from '../sim/packaged-template';

describe('operations: queue alarms and the stack outputs the CLIs read', () => {
  const { template } = packageStack({ stage: 'dev' });
  const resources = template.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;

  it('alarms on the dead-letter queue and the failure queue, to the notification topic', () => {
    const alarms = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    const queues = alarms.map((a) => JSON.stringify((a.Properties.Dimensions as unknown[])[0]));
    expect(queues.sort()).toEqual([
      JSON.stringify({ Name: 'QueueName', Value: { 'Fn::GetAtt': ['EventDeadLetterQueue', 'QueueName'] } }),
      JSON.stringify({ Name: 'QueueName', Value: { 'Fn::GetAtt': ['FailedInvocationQueue', 'QueueName'] } }),
    ]);
    for (const alarm of alarms) {
      expect(alarm.Properties).toMatchObject({ Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 0, ComparisonOperator: 'GreaterThanThreshold', AlarmActions: [{ Ref: 'NotificationTopic' }] });
    }
    // The topic is encrypted with the stack's key: CloudWatch may use it to publish.
    const key = resources.ResponderKey!.Properties.KeyPolicy as { Statement: { Sid: string; Principal: unknown }[] };
    expect(key.Statement.find((s) => s.Sid === 'CloudWatchAlarmsPublish')?.Principal).toEqual({ Service: 'cloudwatch.amazonaws.com' });
  });

  it('outputs what `--live --stage` reads: table, bucket, key, topic, switch and the stage settings', () => {
    const outputs = template.Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['LedgerTableName', 'EvidenceBucketName', 'EvidenceKeyArn', 'NotificationTopicArn', 'ObserveSwitchParameterName', 'StageSettings']));
    expect(JSON.parse(outputs.StageSettings!.Value as string)).toEqual({ defaultMode: 'enforce', forceObserve: 'false', quarantineSecurityGroups: '', protectedClusters: '', imageTaskClusters: '' });
  });

  it('routes Inspector2 Scan events of ECR images only', () => {
    const rules = Object.values(resources).filter((r) => r.Type === 'AWS::Events::Rule').map((r) => r.Properties.EventPattern as Record<string, unknown>);
    expect(rules.find((p) => JSON.stringify(p['detail-type']) === '["Inspector2 Scan"]')).toEqual({ source: ['aws.inspector2'], 'detail-type': ['Inspector2 Scan'], detail: { 'repository-name': [{ exists: true }] } });
  });
});
