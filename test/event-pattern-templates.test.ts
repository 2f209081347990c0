import { describe, expect, it } from 'vitest';
import { validatePattern } from '../cli/event-pattern';
import { loadEventRoutes, routeEvent } from '../cli/event-routes';
import { packageStack, README_PRODUCTION_PARAMS, type PackageOptions } from '../sim/packaged-template';

/**
 * Every EventBridge rule of the packaged stack, rendered as osls renders it (a --param is a string), has a pattern
 * EventBridge accepts: validated as aws/event-ruler validates it (cli/event-pattern.ts).
 */
const PARAMETER_SETS: [string, PackageOptions][] = [
  ['the default stage', {}],
  ["the README's production parameters", { stage: 'prod', params: README_PRODUCTION_PARAMS }],
  ['a fractional minimum severity', { stage: 'frac', params: { minSeverity: '7.5', forceObserve: 'true' } }],
];

describe.each(PARAMETER_SETS)('EventBridge patterns of the packaged stack (%s)', (_name, options) => {
  it('are all valid, and the GuardDuty bound is a number', () => {
    const rules = Object.entries<any>(packageStack(options).template.Resources).filter(([, r]) => r.Type === 'AWS::Events::Rule');
    expect(rules).toHaveLength(7);
    for (const [name, rule] of rules) expect(() => validatePattern(rule.Properties.EventPattern), name).not.toThrow();
    const guardDuty = rules.find(([, r]) => r.Properties.EventPattern.source.includes('aws.guardduty'))![1];
    expect(guardDuty.Properties.EventPattern.detail.severity).toEqual([{ numeric: ['>=', Number(options.params?.minSeverity ?? 4)] }]);
  }, 120_000);
});

it('refuses the rendering the README deploy produced before (a string bound), as EventBridge does', () => {
  expect(() => validatePattern({ detail: { severity: [{ numeric: ['>=', '4'] }] } })).toThrow('Value of >= must be numeric');
});

describe('replay routing (cli/event-routes.ts)', () => {
  it('routes by the packaged rules, as EventBridge would', () => {
    const routes = loadEventRoutes();
    expect([...new Set(routes.map((r) => r.functionName))].sort()).toEqual(['imageFinding', 'runtimeFinding', 'taskLaunchGuard', 'taskStopped']);
    const finding = (severity: unknown) => ({ source: 'aws.guardduty', 'detail-type': 'GuardDuty Finding', detail: { severity, resource: { resourceType: 'ECSCluster' } } });
    expect(routeEvent(finding(8), routes)).toBe('runtimeFinding');
    expect(routeEvent(finding(4.0), routes)).toBe('runtimeFinding');
    expect(routeEvent(finding(3.9), routes)).toBeNull();
    expect(routeEvent(finding('8'), routes)).toBeNull(); // numeric matching needs a JSON number in the event too
    const stopped = { source: 'aws.ecs', 'detail-type': 'ECS Task State Change', detail: { lastStatus: 'STOPPED', desiredStatus: 'STOPPED' } };
    expect(routeEvent(stopped, routes)).toBe('taskStopped');
  }, 120_000);
});
