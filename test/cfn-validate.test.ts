import { RegoEngine, TemplateFile, type StandardDiagnostic } from '@aws/cloudformation-validate';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageStack, README_PRODUCTION_PARAMS, type PackageOptions } from '../sim/packaged-template';

/**
 * The packaged templates checked with AWS's offline validator (@aws/cloudformation-validate: the CloudFormation
 * resource provider schemas and the cfn-lint rules): no error, and no warning but the ones accepted below.
 */
const ACCEPTED_WARNINGS: { ruleId: string; logicalId: RegExp; reason: string }[] = [
  {
    ruleId: 'W3005',
    logicalId: /^[A-Z]\w+LambdaFunction$/,
    reason: 'osls adds DependsOn on the role it also names in Fn::GetAtt (osls lib/plugins/aws/package/compile/functions.js): redundant, harmless',
  },
  {
    ruleId: 'W9002',
    logicalId: /^[A-Z]\w+EventBridgeLambdaPermission\d+$/,
    reason: "osls builds each rule's ARN for its Lambda permission from AWS::Partition, AWS::Region, AWS::AccountId and the rule name: nothing is hard-coded",
  },
];

const engine = new RegoEngine();
afterAll(() => engine.free());

function findings(options: PackageOptions): StandardDiagnostic[] {
  const { dir } = packageStack(options);
  const report = engine.validateStandard(new TemplateFile(join(dir, 'cloudformation-template-update-stack.json')), { severityLevel: 'WARN' });
  expect(report.status).toBe('OK');
  return report.diagnostics;
}

const describeFinding = (d: StandardDiagnostic) => `${d.severity} ${d.ruleId} ${d.entity?.logicalId ?? '-'}: ${d.message}`;

describe.each([
  ['the default stage', {}],
  ["the README's production parameters", { stage: 'prod', params: README_PRODUCTION_PARAMS }],
])('AWS CloudFormation validator on the packaged template (%s)', (_name, options: PackageOptions) => {
  it('finds no error and no warning that is not accepted with a reason', () => {
    const all = findings(options);
    const unaccepted = all.filter((d) => d.severity !== 'INFO' && !ACCEPTED_WARNINGS.some((a) => a.ruleId === d.ruleId && a.logicalId.test(d.entity?.logicalId ?? '')));
    expect(unaccepted.map(describeFinding)).toEqual([]);
    // Each accepted warning still occurs (remove it from the list when osls stops producing it).
    for (const accepted of ACCEPTED_WARNINGS) expect(all.some((d) => d.ruleId === accepted.ruleId), accepted.ruleId).toBe(true);
  }, 120_000);
});
