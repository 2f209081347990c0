import { describe, expect, it } from 'vitest';
import { parsePolicy, PolicyError } from '../shared/policy/policy';
import { GUARDDUTY_ECS_FINDING_TYPES } from '../shared/policy/guardduty-finding-types';
import { shippedPolicy } from './helpers/deployment';

/** The message of the PolicyError a policy is refused with. */
function problems(yaml: string): string {
  const outcome = (() => {
    try {
      return parsePolicy(yaml, 'policy.yml');
    } catch (error) {
      return error;
    }
  })();
  expect(outcome).toBeInstanceOf(PolicyError);
  return (outcome as PolicyError).message;
}

describe('policy validation for people (issue 9, item 6)', () => {
  it('reports every problem at once, each by rule name', () => {
    const message = problems(`
version: 1
rules:
  - name: first
    match: { severity: [HIGH] }
    actions: [capture-evidence, stop-tsak]
  - name: second
    match: { severity: [MEDIUM] }
    actions: [notify, { isolate-task: { fallback: [teleport] } }]
`);
    expect(message.split('\n')[0]).toBe('policy.yml: 2 problems');
    expect(message).toContain('policy.yml rule "first" (rules[0].actions[1]): unknown action "stop-tsak"');
    expect(message).toMatch(/policy\.yml rule "second" \(rules\[1\]\.actions\[1\]\.isolate-task\.fallback\[0\]\): /);
  });

  it('refuses a finding-type pattern that matches no known GuardDuty type (a case typo), and accepts the real ones', () => {
    const message = problems('version: 1\nrules:\n  - name: shells\n    match: { types: ["Execution:Runtime/Reverseshell", "Execution:Runtime/*"] }\n    actions: [notify]\n');
    expect(message).toBe(
      'policy.yml rule "shells" (rules[0].match.types): "Execution:Runtime/Reverseshell" matches no GuardDuty Runtime Monitoring or ECS finding type (types are case-sensitive; the list: shared/policy/guardduty-finding-types.ts)',
    );
    expect(GUARDDUTY_ECS_FINDING_TYPES).toContain('Execution:Runtime/ReverseShell');
    expect(() => parsePolicy('version: 1\nrules:\n  - name: c2\n    match: { types: ["Backdoor:Runtime/C&CActivity.B*", "AttackSequence:ECS/*"] }\n    actions: [notify]\n')).not.toThrow();
  });

  it('refuses a rule that an earlier rule hides completely, and keeps rules that are only narrower in part', () => {
    const hidden = problems(`
version: 1
rules:
  - name: all-high
    match: { severity: [HIGH] }
    actions: [notify]
  - name: high-shells
    match: { types: ["Execution:Runtime/ReverseShell"], severity: [HIGH], clusters: ["prod-*"] }
    actions: [stop-task]
`);
    expect(hidden).toBe('policy.yml rule "high-shells" (rules[1].match): never decides anything: rule "all-high" comes first and matches every finding this rule matches');
    expect(problems('version: 1\nrules:\n  - name: any\n    actions: [notify]\n  - name: later\n    match: { clusters: [prod] }\n    actions: [tag]\n')).toMatch(/rule "later" .*rule "any" comes first/);
    // Narrower first, wider after: both decide something.
    expect(() =>
      parsePolicy('version: 1\nrules:\n  - name: prod-high\n    match: { severity: [HIGH], clusters: ["prod-*"] }\n    actions: [notify]\n  - name: high\n    match: { severity: [HIGH] }\n    actions: [tag]\n'),
    ).not.toThrow();
    // Samples, another kind, different image conditions: not hidden.
    expect(() => parsePolicy('version: 1\nrules:\n  - name: a\n    actions: [notify]\n  - name: b\n    match: { samples: true }\n    actions: [notify]\n')).not.toThrow();
    expect(() => parsePolicy('version: 1\nrules:\n  - name: crit\n    match: { kind: image, minCounts: { CRITICAL: 1 } }\n    actions: [notify]\n  - name: high\n    match: { kind: image, minCounts: { HIGH: 1 } }\n    actions: [notify]\n')).not.toThrow();
  });

  it('the shipped policy passes every check', () => {
    expect(shippedPolicy().rules.length).toBeGreaterThan(5);
  });
});
