import { describe, expect, it } from 'vitest';
import { SIMULATED_STAGE } from '../sim/deployment';
import { packageStack } from '../sim/packaged-template';
import { recordedDecisions } from './helpers/iam-records';

/**
 * Runs after every other test file (vitest project "iam-coverage", groupOrder 1) and reads the IAM decisions their
 * simulated deployments recorded: every call a function made was evaluated against that function's role from the
 * packaged template. Here: no call under the shipped roles was refused, and every grant of every role was used.
 */

type Json = any;

/**
 * Grants the Lambda service, not the function's code, uses with the execution role: the runtime writes the function's
 * logs (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html), and asynchronous invocation
 * sends failed events to the on-failure destination (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
 */
const PLATFORM_ACTIONS = new Set(['logs:CreateLogStream', 'logs:PutLogEvents', 'sqs:SendMessage']);

function grants(): { functionName: string; grant: string; action: string }[] {
  const { template } = packageStack({ stage: SIMULATED_STAGE }) as { template: Json };
  const out: { functionName: string; grant: string; action: string }[] = [];
  for (const [logicalId, resource] of Object.entries<Json>(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const base = logicalId.replace(/LambdaFunction$/, '');
    const functionName = base.charAt(0).toLowerCase() + base.slice(1);
    const role = template.Resources[resource.Properties.Role['Fn::GetAtt'][0]];
    for (const policy of role.Properties.Policies) {
      for (const [index, statement] of (policy.PolicyDocument.Statement as Json[]).entries()) {
        const actions: string[] = [statement.Action].flat();
        for (const action of actions) out.push({ functionName, grant: `${policy.PolicyName}/${statement.Sid ?? index}`, action });
      }
    }
  }
  return out;
}

describe('IAM across the whole test run', () => {
  const all = recordedDecisions().filter((d) => !d.synthetic);
  // The responder's functions; member roles (organization/member-role.yml) act in member accounts as `member:<role>`.
  const decisions = all.filter((d) => !d.functionName.startsWith('member:'));

  it('evaluated the calls of every function', () => {
    const perFunction = new Map<string, Set<string>>();
    for (const d of decisions) {
      const seen = perFunction.get(d.functionName) ?? new Set<string>();
      seen.add(d.action);
      perFunction.set(d.functionName, seen);
    }
    // The list the closing note quotes: per function, the distinct actions its calls needed.
    console.log(
      [`IAM decisions recorded (distinct call shapes): ${decisions.length}`, ...[...perFunction].sort().map(([fn, actions]) => `  ${fn}: ${[...actions].sort().join(', ')}`)].join('\n'),
    );
    expect([...perFunction.keys()].sort()).toEqual(['imageFinding', 'runbook', 'runtimeFinding', 'slackNotifier', 'taskLaunchGuard', 'taskStopped']);
  });

  it('refused no call a function or a member role made under the shipped roles', () => {
    const denied = all.filter((d) => !d.allowed).map((d) => `${d.functionName}: ${d.action} on ${d.resource}`);
    expect([...new Set(denied)]).toEqual([]);
  });

  it('used every grant of every role (but the Lambda service’s own: logs and the failure destination)', () => {
    const used = new Set(decisions.flatMap((d) => d.allowedBy.map((by) => `${d.functionName} ${by} ${d.action}`)));
    const unused = grants()
      .filter((g) => !PLATFORM_ACTIONS.has(g.action))
      .filter((g) => !used.has(`${g.functionName} ${g.grant} ${g.action}`))
      .map((g) => `${g.functionName} ${g.grant} ${g.action}`);
    expect(unused).toEqual([]);
  });
});
