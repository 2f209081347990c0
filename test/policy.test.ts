import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ResponderConfig } from '../shared/config';
import { normaliseGuardDutyFinding } from '../shared/events/guardduty';
import { actionNames, findAction } from '../shared/actions/registry';
import { decide } from '../shared/policy/decide';
import { parsePolicy, PolicyError } from '../shared/policy/policy';
import { loadEvent, SHIPPED_POLICY_FILE, shippedPolicy, variant } from './helpers/deployment';

const CONFIG: ResponderConfig = {
  stage: 'test',
  tableName: 't',
  evidenceBucket: 'b',
  evidenceKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000',
  topicArn: 'arn:aws:sns:us-east-1:111122223333:t',
  quarantineSecurityGroups: {},
  protectedClusters: [],
  defaultMode: 'enforce',
  forceObserve: false,
};
const isMutating = (name: string) => findAction(name)?.mutating ?? true;

function policyError(yaml: string): string {
  try {
    parsePolicy(yaml, 'policy.yml');
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    return (error as Error).message;
  }
  throw new Error('expected the policy to be rejected');
}

const rule = (actions: string) => `
version: 1
rules:
  - name: contain
    match: { severity: [HIGH] }
    actions:
${actions}
`;

describe('parsePolicy: the shipped policy.yml', () => {
  it('validates, with every action known to the registry and its parameters parsed', () => {
    const policy = shippedPolicy();
    expect(policy.forceObserve).toBe(false);
    expect(policy.protect.tags).toEqual({ 'responder:protect': 'true' });
    expect(policy.rules.filter((r) => r.match.kind === 'runtime').map((r) => r.name)).toEqual(['crypto-mining', 'critical', 'unmistakable-threats', 'high-isolate', 'medium-notify', 'low-ignored']);
    const first = policy.rules.find((r) => r.name === 'critical')!;
    expect(first.steps.map((s) => s.action)).toEqual(['capture-evidence', 'tag', 'isolate-task', 'stop-task', 'notify']);
    // Defaults filled in by the action's own schema.
    expect(first.steps[2]!.params).toEqual({ fallback: ['network-acl'], hostIsolation: false });
    // Critical stops even below the service's minimum healthy tasks; the unmistakable types respect it.
    expect(first.steps[3]!.params).toEqual({ ignoreMinHealthy: true });
    const unmistakable = policy.rules.find((r) => r.name === 'unmistakable-threats')!;
    expect(unmistakable.steps.map((s) => s.action)).toEqual(first.steps.map((s) => s.action));
    expect(unmistakable.steps[3]!.params).toEqual({ ignoreMinHealthy: false });
    // A miner's image is quarantined before the stop, so the replacement cannot pull it.
    expect(policy.rules.find((r) => r.name === 'crypto-mining')!.steps.map((s) => s.action)).toEqual(['capture-evidence', 'tag', 'isolate-task', 'quarantine-image', 'stop-task', 'notify']);
    expect(policy.rules.find((r) => r.name === 'low-ignored')!.steps).toEqual([]);
  });

  it('names the file in errors when loaded from a path', () => {
    const text = readFileSync(SHIPPED_POLICY_FILE, 'utf8').replace('- stop-task', '- stop-tsak');
    // The first stop-task in the file is crypto-mining's, the 5th action of rule 0.
    expect(() => parsePolicy(text, 'deploy/policy.yml')).toThrow(/^deploy\/policy\.yml rule "crypto-mining" \(rules\[0\]\.actions\[4\]\): unknown action "stop-tsak"/);
  });
});

describe('parsePolicy: invalid policies name the path', () => {
  it('unknown action', () => {
    const message = policyError(rule('      - capture-evidence\n      - tag\n      - quarantine-host\n'));
    expect(message).toBe(`policy.yml rule "contain" (rules[0].actions[2]): unknown action "quarantine-host" (known: ${actionNames().join(', ')})`);
  });

  it('bad parameter value: isolate-task fallback [teleport]', () => {
    const message = policyError(rule('      - capture-evidence\n      - tag\n      - isolate-task: { fallback: [teleport] }\n'));
    expect(message).toMatch(/^policy\.yml rule "contain" \(rules\[0\]\.actions\[2\]\.isolate-task\.fallback\[0\]\): /);
  });

  it('unknown parameter on an action', () => {
    const message = policyError(rule('      - isolate-task: { fallback: [network-acl], force: true }\n'));
    expect(message).toMatch(/^policy\.yml rule "contain" \(rules\[0\]\.actions\[0\]\.isolate-task\): .*force/);
  });

  it('parameter of the wrong type', () => {
    const message = policyError(rule('      - isolate-task: { hostIsolation: "yes" }\n'));
    expect(message).toMatch(/^policy\.yml rule "contain" \(rules\[0\]\.actions\[0\]\.isolate-task\.hostIsolation\): /);
  });

  it('an action entry naming two actions', () => {
    const message = policyError(rule('      - { tag: {}, notify: {} }\n'));
    expect(message).toMatch(/^policy\.yml rule "contain" \(rules\[0\]\.actions\[0\]\): /);
  });

  it('a task action in an image rule', () => {
    const message = policyError('version: 1\nrules:\n  - name: images\n    match: { kind: image }\n    actions:\n      - notify\n      - isolate-task\n');
    expect(message).toMatch(/^policy\.yml rule "images" \(rules\[0\]\.actions\[1\]\): action "isolate-task" does not apply to image findings \(it serves runtime\)/);
  });

  it('duplicate rule name', () => {
    const message = policyError(`
version: 1
rules:
  - name: contain
    actions: [notify]
  - name: contain
    actions: [tag]
`);
    // Every problem at once: the second rule is also hidden by the first.
    expect(message).toContain('\n  policy.yml rule "contain" (rules[1].name): duplicate rule name "contain"');
  });

  it('bad severity label', () => {
    const message = policyError(`
version: 1
rules:
  - name: contain
    match: { severity: [HIGH, SEVERE] }
    actions: [notify]
`);
    expect(message).toMatch(/^policy\.yml rule "contain" \(rules\[0\]\.match\.severity\[1\]\): /);
  });

  it('unknown match key, bad rule name, wrong version, no rules, not YAML', () => {
    expect(policyError('version: 1\nrules:\n  - name: a\n    match: { cluster: [prod] }\n    actions: [notify]\n')).toMatch(/^policy\.yml rule "a" \(rules\[0\]\.match\): .*cluster/);
    expect(policyError('version: 1\nrules:\n  - name: Contain_All\n    actions: [notify]\n')).toMatch(/^policy\.yml rule "Contain_All" \(rules\[0\]\.name\): rule names are lower-case/);
    expect(policyError('version: 2\nrules:\n  - name: a\n    actions: [notify]\n')).toMatch(/^policy\.yml version: /);
    expect(policyError('version: 1\nrules: []\n')).toMatch(/^policy\.yml rules: /);
    expect(policyError('version: 1\nrules: [\n')).toMatch(/^policy\.yml: not valid YAML/);
  });
});

describe('decide with the shipped policy', () => {
  const policy = shippedPolicy();
  const decideOn = (event: unknown) => decide(normaliseGuardDutyFinding(event), policy, CONFIG, isMutating);
  const reverseShell = loadEvent('gd-ecs-fargate-reverse-shell.json');

  it('first matching rule wins: High reverse shell → unmistakable-threats, Critical → critical', () => {
    expect(decideOn(reverseShell)).toMatchObject({ act: true, decision: { policyRule: 'unmistakable-threats', mode: 'enforce' } });
    expect(decideOn(loadEvent('gd-ecs-fargate-reverse-shell-critical.json'))).toMatchObject({ act: true, decision: { policyRule: 'critical' } });
    expect(decideOn(loadEvent('gd-ecs-fargate-process-injection-high.json'))).toMatchObject({ act: true, decision: { policyRule: 'high-isolate' } });
    expect(decideOn(loadEvent('gd-ecs-fargate-new-binary-executed-medium.json'))).toMatchObject({ act: true, decision: { policyRule: 'medium-notify' } });
    expect(decideOn(loadEvent('gd-ecs-fargate-low-severity.json'))).toEqual({ act: false, reason: 'rule low-ignored takes no action' });
  });

  it('ignores samples unless a rule opts in', () => {
    expect(decideOn(loadEvent('gd-ecs-fargate-sample-finding.json'))).toEqual({ act: false, reason: 'GuardDuty sample finding: no rule opts in to samples' });
  });

  it('protection (task tag, cluster tag, configured cluster) keeps only non-mutating steps', () => {
    const byTaskTag = decideOn(loadEvent('gd-ecs-fargate-protected-task.json'));
    expect(byTaskTag).toMatchObject({ act: true });
    if (!byTaskTag.act) return;
    expect(byTaskTag.decision.steps.map((s) => s.action)).toEqual(['capture-evidence', 'notify']);
    expect(byTaskTag.decision.notes.join(' ')).toMatch(/tag responder:protect=true/);

    const byClusterTag = decideOn(variant(reverseShell, (e) => (e.detail.resource.ecsClusterDetails.tags = [{ key: 'responder:protect', value: 'true' }])));
    expect(byClusterTag.act && byClusterTag.decision.steps.map((s) => s.action)).toEqual(['capture-evidence', 'notify']);

    const byConfig = decide(normaliseGuardDutyFinding(reverseShell), policy, { ...CONFIG, protectedClusters: ['prod-cluster'] }, isMutating);
    expect(byConfig.act && byConfig.decision.notes.join(' ')).toMatch(/cluster prod-cluster is protected/);
  });

  it('the global observe switch (config or policy) turns enforce into observe and says so', () => {
    const viaConfig = decide(normaliseGuardDutyFinding(reverseShell), policy, { ...CONFIG, forceObserve: true }, isMutating);
    expect(viaConfig).toMatchObject({ act: true, decision: { mode: 'observe', notes: ['The global observe switch is on: nothing was changed.'] } });
    const viaPolicy = decide(normaliseGuardDutyFinding(reverseShell), { ...policy, forceObserve: true }, CONFIG, isMutating);
    expect(viaPolicy).toMatchObject({ act: true, decision: { mode: 'observe' } });
  });

  it('matches clusters, services and tags by glob', () => {
    const scoped = parsePolicy(`
version: 1
rules:
  - name: orders-only
    match: { clusters: ["prod-*"], services: ["orders-*"], tags: { environment: prod } }
    actions: [notify]
  - name: rest
    actions: [tag]
`);
    const tagged = variant(reverseShell, (e) => (e.detail.resource.ecsClusterDetails.tags = [{ key: 'environment', value: 'prod' }]));
    expect(decide(normaliseGuardDutyFinding(tagged), scoped, CONFIG, isMutating)).toMatchObject({ decision: { policyRule: 'orders-only' } });
    expect(decide(normaliseGuardDutyFinding(reverseShell), scoped, CONFIG, isMutating)).toMatchObject({ decision: { policyRule: 'rest' } });
  });
});
