import { describe, expect, it } from 'vitest';
import { createMetrics, recordResponseMetrics } from '../shared/response-metrics';
import type { EventResult } from '../shared/pipeline';

/** The EMF document Powertools would print: metric names with their values, and the dimensions. */
function emitted(result: EventResult, eventTime?: string, now?: number) {
  const metrics = createMetrics('runtimeFinding', 'prod');
  recordResponseMetrics(metrics, result, eventTime, now);
  const emf = metrics.serializeMetrics() as unknown as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } };
  const [directive] = emf._aws.CloudWatchMetrics;
  return { directive: directive!, value: (name: string) => emf[name] };
}

describe('metrics through Powertools Metrics (EMF)', () => {
  const contained: EventResult = {
    finding: { id: 'f1', type: 'Execution:Runtime/ReverseShell', severity: 8 },
    decision: { policyRule: 'unmistakable-threats', mode: 'enforce' },
    actions: [
      { action: 'isolate-task', status: 'unsupported', mechanism: 'security-group', errorCode: 'OperationNotPermitted' },
      { action: 'isolate-task', status: 'applied', mechanism: 'network-acl' },
      { action: 'stop-task', status: 'applied', mechanism: 'stop-task' },
    ],
    notifications: 1,
    containment: 'contained (network-acl)',
  };

  it('a contained finding: handled, each outcome by mechanism, the refusal, and the time from the event to containment', () => {
    const { directive, value } = emitted(contained, '2026-11-29T00:00:00Z', Date.parse('2026-11-29T00:00:04.5Z'));
    expect(directive.Namespace).toBe('ecs-threat-responder');
    expect(directive.Dimensions[0]).toEqual(expect.arrayContaining(['stage', 'function']));
    expect(value('stage')).toBe('prod');
    expect(value('FindingsHandled')).toBe(1);
    expect(value('ActionOutcome.security-group.unsupported')).toBe(1);
    expect(value('ActionOutcome.network-acl.applied')).toBe(1);
    expect(value('ActionOutcome.stop-task.applied')).toBe(1);
    expect(value('Refusals')).toBe(1);
    expect(value('TimeToContainment')).toBe(4.5);
    expect(directive.Metrics).toContainEqual({ Name: 'TimeToContainment', Unit: 'Seconds' });
    expect(value('SafetyLimitHits')).toBeUndefined();
  });

  it('a safety-limit hit and a rejected event are counted; nothing contained, no time to containment', () => {
    const limited = emitted({ ...contained, actions: [], containment: 'not-contained', notes: ['BLAST-RADIUS LIMIT: 20 destructive actions in 60 minutes already taken; downgraded to notify'] }, '2026-11-29T00:00:00Z');
    expect(limited.value('SafetyLimitHits')).toBe(1);
    expect(limited.value('TimeToContainment')).toBeUndefined();
    const rejected = emitted({ finding: null, decision: null, actions: [], notifications: 0, error: 'detail.id: is required' });
    expect(rejected.value('EventsRejected')).toBe(1);
    expect(rejected.value('FindingsHandled')).toBeUndefined();
  });
});
