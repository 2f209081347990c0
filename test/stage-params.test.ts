import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageStack, README_PRODUCTION_PARAMS, ROOT } from '../sim/packaged-template';

/** deploy/stage-params.cjs: every stage parameter checked (type, enum, format) before packaging, typed for the template. */
type Resolver = (r: { options: { param?: string[] }; resolveVariable: (address: string) => Promise<unknown> }) => Promise<unknown>;
const DEFAULTS: Record<string, string | number> = {
  minSeverity: 4,
  defaultMode: 'enforce',
  forceObserve: 'false',
  quarantineSecurityGroups: '',
  protectedClusters: '',
  actOnClusters: '*',
  quarantineRepositories: '*',
  imageTaskClusters: '',
  slackWebhookSecretName: 'ecs-threat-responder/dev/slack-webhook',
  memberAccounts: '',
  organizationId: '',
  memberRoleName: 'ecs-threat-responder-member',
  memberExternalId: '',
};

/** A fresh copy of the module (it keeps its verdict per process, as osls runs once), resolving the given --param values. */
async function resolve(name: string, params: Record<string, string> = {}, stage = 'dev'): Promise<unknown> {
  const path = join(ROOT, 'deploy/stage-params.cjs');
  const load = createRequire(import.meta.url);
  delete load.cache[load.resolve(path)];
  const resolvers = load(path) as Record<string, Resolver>;
  const resolveVariable = (address: string) => Promise.resolve(address === 'sls:stage' ? stage : (params[address.slice('param:'.length)] ?? DEFAULTS[address.slice('param:'.length)]));
  return resolvers[name]!({ options: { param: Object.entries(params).map(([k, v]) => `${k}=${v}`) }, resolveVariable });
}

describe('stage parameters', () => {
  it('give minSeverity as a number, whatever osls passes (a --param is a string)', async () => {
    expect(await resolve('minSeverity')).toBe(4);
    expect(await resolve('minSeverity', { minSeverity: '7.5' })).toBe(7.5);
    expect(await resolve('minSeverity', { minSeverity: '10' })).toBe(10);
  });

  it.each([
    ['minSeverity', 'four', 'minSeverity: "four" must be a number from 1 to 10'],
    ['minSeverity', '0.5', 'minSeverity: "0.5" must be a number from 1 to 10'],
    ['minSeverity', '11', 'minSeverity: "11" must be a number from 1 to 10'],
    ['defaultMode', 'enforced', 'defaultMode: "enforced" must be observe or enforce'],
    ['forceObserve', 'yes', 'forceObserve: "yes" must be true or false'],
    ['quarantineSecurityGroups', 'vpc-0abc:sg-0def', 'quarantineSecurityGroups: "vpc-0abc:sg-0def" must be vpc-id=sg-id pairs'],
    ['quarantineSecurityGroups', 'vpc-0abc=sg-1,vpc-0abc=sg-2', 'names a VPC twice: vpc-0abc'],
    ['protectedClusters', 'payments prod', 'protectedClusters: "payments prod" must be a comma-separated list of cluster names'],
    ['actOnClusters', 'prod-*,dev-*', 'actOnClusters: "prod-*,dev-*" must be one cluster name pattern'],
    ['quarantineRepositories', 'Team/App', 'quarantineRepositories: "Team/App" must be one repository name pattern'],
    ['imageTaskClusters', 'prod-*', 'imageTaskClusters: "prod-*" must be a comma-separated list of cluster names'],
    ['slackWebhookSecretName', 'slack webhook', 'slackWebhookSecretName: "slack webhook" must be a Secrets Manager secret name'],
    ['minSeverty', '4', 'minSeverty: not a stage parameter of this service'],
    ['memberAccounts', '4444-5555-6666', 'memberAccounts: "4444-5555-6666" must be a comma-separated list of 12-digit account ids'],
    ['organizationId', 'r-abcd', 'organizationId: "r-abcd" must be empty or an organization id'],
    ['memberRoleName', 'a role', 'memberRoleName: "a role" must be an IAM role name'],
    ['memberAccounts', '444455556666', 'memberExternalId: is required with memberAccounts or organizationId'],
  ])('refuse %s=%s, naming it', async (name, value, message) => {
    await expect(resolve('defaultMode', { [name]: value })).rejects.toThrow(message);
  });

  it('refuse a stage whose rule names osls would hash (the dead-letter policy names the rules)', async () => {
    await expect(resolve('defaultMode', {}, 'a-very-long-stage-name-x')).rejects.toThrow('stage: "a-very-long-stage-name-x" is longer than 20 characters');
  });

  it("accept the README's production parameters", async () => {
    for (const name of Object.keys(DEFAULTS)) await resolve(name, { ...README_PRODUCTION_PARAMS });
  });

  it('stop `osls package` before any template exists, naming every bad parameter', () => {
    expect(() => packageStack({ stage: 'badparams', params: { minSeverity: '"4"', defaultMode: 'Observe' } })).toThrow(
      /Invalid stage parameters:\s+minSeverity: ""4"" must be a number from 1 to 10 \(GuardDuty severity\)\s+defaultMode: "Observe" must be observe or enforce/,
    );
  }, 120_000);

  it("package the README's production deploy with a numeric severity in the GuardDuty rule", () => {
    const { template } = packageStack({ stage: 'prod', params: README_PRODUCTION_PARAMS });
    const guardDuty = Object.values<any>(template.Resources).find((r) => r.Type === 'AWS::Events::Rule' && r.Properties.EventPattern.source?.includes('aws.guardduty'));
    expect(guardDuty.Properties.EventPattern.detail.severity).toEqual([{ numeric: ['>=', 4] }]);
    expect(template.Resources.RuntimeFindingLambdaFunction.Properties.Environment.Variables).toMatchObject({
      RESPONDER_DEFAULT_MODE: 'observe',
      QUARANTINE_SECURITY_GROUPS: 'vpc-0abc=sg-0def',
      PROTECTED_CLUSTERS: 'payments-prod',
    });
  }, 120_000);
});
