/**
 * Generates organization/member-role.yml: the roles the responder assumes in a member account (issue 11, item 2).
 * Their permissions come from the action registry, scoped as the responder's own roles in infrastructure.yml scope
 * them (test/organization-templates.test.ts checks both agree). Run `npx tsx cli/member-template.ts` after changing an
 * action's permissions; `--check` exits 1 when the committed file differs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Document, isMap, visit } from 'yaml';
import { ACTIONS } from '../shared/actions/registry';
import type { IamGrant } from '../shared/actions/response-action';
import { TASK_STATE_READS } from '../shared/task-state';
import { ROOT } from '../sim/packaged-template';

export const MEMBER_ROLE_FILE = join(ROOT, 'organization', 'member-role.yml');

/** Which member role a statement goes to: the automatic functions' role, or the runbook's (a person's hands). */
export type MemberRole = 'automatic' | 'runbook';

export interface MemberStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** Scopes whose resources live in the security account (ledger, evidence bucket, topic, key): never granted here. */
export const SECURITY_ACCOUNT_SCOPES: readonly IamGrant['scope'][] = ['evidence-bucket', 'topic'];

/** Reads the pipeline makes before any action: the task's state, and the isolation ladder's lookups. */
export const PIPELINE_READS: readonly string[] = [...TASK_STATE_READS, 'ec2:DescribeSecurityGroups', 'ec2:DescribeNetworkAcls'];

/** Grants only an undo needs (release runs in the runbook alone): the automatic role goes without them. */
export const UNDO_ONLY = { actions: ['ecs:UntagResource', 'ec2:DeleteTags'], sids: ['RestoreOriginalGroups'] } as const;

/** Statements the runbook's undo grants make redundant (any group includes the quarantine groups), as in RunbookRole. */
const SUBSUMED_IN_RUNBOOK = ['IntoQuarantineGroupsOnly'];

// A member role acts in every region of its account (IAM is global): the ARNs name any region, this account only.
const arn = (service: string, resource: string) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:${service}:*:\${AWS::AccountId}:${resource}` });
const responderTagsOnly = { 'ForAllValues:StringLike': { 'aws:TagKeys': ['responder:*'] }, Null: { 'aws:TagKeys': 'false' } };
const quarantineGroupsOnly = { StringEquals: { 'aws:ResourceTag/responder:quarantine': 'true' } };

/** Where each read is authorized (Service Authorization Reference); a read not listed supports no resource type. */
const READ_RESOURCES: Record<string, string> = {
  'ecs:DescribeTasks': 'task/*',
  'ecs:DescribeContainerInstances': 'container-instance/*',
  'ecs:ListTasks': 'container-instance/*',
  'ecs:DescribeServices': 'service/*',
  'ecs:DescribeClusters': 'cluster/*',
};

interface Placement {
  Sid: string;
  Resource: unknown;
  Condition?: MemberStatement['Condition'];
  /** Why the statement is there, and its source: written above it in the template. */
  why?: string;
}

/** The statements an action of a scope needs, each with its resource and conditions (as infrastructure.yml has them). */
function placements(action: string, scope: IamGrant['scope']): Placement[] {
  const [service] = action.split(':') as [string];
  switch (scope) {
    case 'ecs-task-in-cluster':
      if (action === 'ecs:StopTask') {
        return [{
          Sid: 'StopTasksInAllowedClusters',
          Resource: arn('ecs', 'task/*'),
          Condition: { ArnLike: { 'ecs:cluster': arn('ecs', 'cluster/${ActOnClusters}') } },
          why: 'StopTask supports ecs:cluster (Service Authorization Reference, Amazon ECS).',
        }];
      }
      if (action === 'ecs:TagResource' || action === 'ecs:UntagResource') {
        return [{
          Sid: action === 'ecs:TagResource' ? 'TagTasksInAllowedClusters' : 'UntagTasksInAllowedClusters',
          Resource: arn('ecs', 'task/${ActOnClusters}/*'),
          Condition: responderTagsOnly,
          why: "TagResource/UntagResource support no ecs:cluster key: the cluster is in the task ARN's path, and only the responder's tag keys.",
        }];
      }
      break;
    case 'network-interface':
      if (action === 'ec2:CreateTags' || action === 'ec2:DeleteTags') {
        return [{ Sid: 'TagInterfaces', Resource: arn('ec2', 'network-interface/*'), Condition: responderTagsOnly }];
      }
      if (action === 'ec2:ModifyNetworkInterfaceAttribute') {
        return [
          { Sid: 'SwapInterfaces', Resource: arn('ec2', 'network-interface/*') },
          {
            Sid: 'IntoQuarantineGroupsOnly',
            Resource: arn('ec2', 'security-group/*'),
            Condition: quarantineGroupsOnly,
            why: 'The automatic swap may put an interface only into a group tagged as the quarantine group.',
          },
          { Sid: 'RestoreOriginalGroups', Resource: arn('ec2', 'security-group/*'), why: "Release puts an interface back into its original groups, which carry no responder tag." },
        ];
      }
      break;
    case 'security-group':
      if (action === 'ec2:CreateSecurityGroup') {
        return [
          {
            Sid: 'CreateQuarantineGroup',
            Resource: arn('ec2', 'security-group/*'),
            Condition: { StringEquals: { 'aws:RequestTag/responder:quarantine': 'true' }, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['responder:quarantine'] } },
            why: 'A new group must be tagged as the quarantine group when it is created, and with nothing else.',
          },
          { Sid: 'CreateQuarantineGroupInVpcs', Resource: arn('ec2', 'vpc/*') },
        ];
      }
      if (action === 'ec2:CreateTags') {
        return [{
          Sid: 'TagQuarantineGroupOnCreate',
          Resource: arn('ec2', 'security-group/*'),
          Condition: { StringEquals: { 'ec2:CreateAction': 'CreateSecurityGroup' } },
          why: 'Tag on create: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html',
        }];
      }
      if (action === 'ec2:RevokeSecurityGroupEgress' || action === 'ec2:RevokeSecurityGroupIngress') {
        return [{ Sid: 'EmptyOnlyQuarantineGroups', Resource: arn('ec2', 'security-group/*'), Condition: quarantineGroupsOnly }];
      }
      break;
    case 'network-acl':
      return [{ Sid: 'NetworkAclDeny', Resource: arn('ec2', 'network-acl/*') }];
    case 'ecr-repository':
      return [{ Sid: 'QuarantineImagesInAllowedRepositories', Resource: arn('ecr', 'repository/${QuarantineRepositories}') }];
    case 'read-only':
      return [readPlacement(action)];
    case 'evidence-bucket':
    case 'topic':
      return [];
  }
  throw new Error(`cli/member-template.ts: no member-account scoping for ${action} (scope ${scope}, service ${service}); add one beside infrastructure.yml's`);
}

function readPlacement(action: string): Placement {
  const resource = READ_RESOURCES[action];
  if (resource) return { Sid: `Read${resource.split('/')[0]!.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase())}s`, Resource: arn(action.split(':')[0]!, resource) };
  return {
    Sid: 'ReadWithoutResourceTypes',
    Resource: '*',
    why: 'These reads support no resource-level permissions (Service Authorization Reference). Evidence of a member task is captured by reading it.',
  };
}

/** The statements of a member role, generated from the action registry and the pipeline's reads. */
export function memberStatements(role: MemberRole): (MemberStatement & { why?: string })[] {
  const grants: [string, IamGrant['scope']][] = [
    ...PIPELINE_READS.map((action): [string, IamGrant['scope']] => [action, 'read-only']),
    ...ACTIONS.flatMap((a) => a.permissions.flatMap((p) => p.actions.map((action): [string, IamGrant['scope']] => [action, p.scope]))),
  ];
  const bySid = new Map<string, MemberStatement & { why?: string }>();
  for (const [action, scope] of grants) {
    if (role === 'automatic' && (UNDO_ONLY.actions as readonly string[]).includes(action)) continue;
    for (const { Sid, Resource, Condition, why } of placements(action, scope)) {
      if (role === 'automatic' && (UNDO_ONLY.sids as readonly string[]).includes(Sid)) continue;
      if (role === 'runbook' && SUBSUMED_IN_RUNBOOK.includes(Sid)) continue;
      const statement = bySid.get(Sid) ?? { Sid, Effect: 'Allow' as const, Action: [], Resource, ...(Condition ? { Condition } : {}), ...(why ? { why } : {}) };
      if (!statement.Action.includes(action)) statement.Action.push(action);
      bySid.set(Sid, statement);
    }
  }
  return [...bySid.values()];
}

/** The responder's functions whose roles a member role trusts (logical ids of infrastructure.yml's roles). */
export const TRUSTED_FUNCTION_ROLES: Record<MemberRole, readonly string[]> = {
  automatic: ['RuntimeFindingRole', 'ImageFindingRole', 'TaskLaunchGuardRole', 'TaskStoppedRole'],
  runbook: ['RunbookRole'],
};

const indent = (text: string, spaces: number) => text.replace(/^(?=.)/gm, ' '.repeat(spaces));

function statementsYaml(role: MemberRole): string {
  return memberStatements(role)
    .map(({ why, ...statement }) => {
      // Lists and ARNs on one line each, as infrastructure.yml writes them.
      const document = new Document([statement]);
      visit(document, { Seq: (_key, node, path) => void (path.length > 2 && (node.flow = true)), Map: (_key, node) => void (isMap(node) && node.items.some((i) => String(i.key) === 'Fn::Sub') && (node.flow = true)) });
      const body = document.toString({ lineWidth: 0, flowCollectionPadding: true }).trimEnd();
      return indent(`${why ? `# ${why}\n` : ''}${body}`, 14);
    })
    .join('\n');
}

function trustYaml(role: MemberRole): string {
  const patterns = TRUSTED_FUNCTION_ROLES[role].map((id) => `                  - { Fn::Sub: "arn:\${AWS::Partition}:iam::\${SecurityAccountId}:role/\${ResponderStackName}-${id}-*" }`);
  return `        Version: "2012-10-17"
        Statement:
          - Sid: ResponderFunctionsOnly
            Effect: Allow
            Principal: { AWS: { Fn::Sub: "arn:\${AWS::Partition}:iam::\${SecurityAccountId}:root" } }
            Action: sts:AssumeRole
            Condition:
              StringEquals: { sts:ExternalId: { Ref: ExternalId } }
              StringLike: { sts:RoleSessionName: { Ref: SessionNamePattern } }
              ArnLike:
                aws:PrincipalArn:
${patterns.join('\n')}`;
}

function roleYaml(logicalId: string, role: MemberRole, roleName: string, description: string): string {
  return `  ${logicalId}:
    Type: AWS::IAM::Role
    Properties:
      RoleName: ${roleName}
      Description: ${description}
      MaxSessionDuration: 3600
      AssumeRolePolicyDocument:
${trustYaml(role)}
      Policies:
        - PolicyName: ecs-threat-responder-${role}
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
${statementsYaml(role)}`;
}

/** The whole member-role template, as committed in organization/member-role.yml. */
export function memberRoleTemplate(): string {
  return `# GENERATED by cli/member-template.ts from the action registry (shared/actions): do not edit by hand.
# The roles the ecs-threat-responder in the security account assumes in a member account. Deploy once per member
# account, in ONE region (IAM is global: a second stack instance of the same account would collide on the role names),
# with StackSets (README, "Organization"). Permissions: what acting on the member's tasks, interfaces, network ACLs and
# images needs, scoped as infrastructure.yml scopes the responder's own roles. The ledger, the evidence bucket, the
# topic and the key stay in the security account and are not granted here.
AWSTemplateFormatVersion: "2010-09-09"
Description: ecs-threat-responder member roles (assumed from the security account with an external id)
Parameters:
  SecurityAccountId:
    Type: String
    AllowedPattern: "^\\\\d{12}$"
    Description: The account the responder runs in (the GuardDuty delegated administrator)
  ResponderStackName:
    Type: String
    Default: ecs-threat-responder-prod
    AllowedPattern: "^[A-Za-z][A-Za-z0-9-]{0,127}$"
    Description: >-
      The responder's stack (ecs-threat-responder-<stage>). CloudFormation names its roles
      <stack>-<logical id>-<suffix>; only those roles may assume the member roles.
  ExternalId:
    Type: String
    NoEcho: true
    MinLength: 2
    MaxLength: 1224
    AllowedPattern: "^[\\\\w+=,.@:/-]+$"
    Description: Required in every AssumeRole (sts:ExternalId); the responder's memberExternalId
  SessionNamePattern:
    Type: String
    Default: ecs-threat-responder-*
    Description: Session names the responder may use (sts:RoleSessionName), so member CloudTrail names the responder
  RoleName:
    Type: String
    Default: ecs-threat-responder-member
    AllowedPattern: "^[\\\\w+=,.@-]{1,56}$"
    Description: The automatic functions' role; the runbook's is <RoleName>-runbook
  ActOnClusters:
    Type: String
    Default: "*"
    AllowedPattern: "^[A-Za-z0-9_*?-]{1,255}$"
    Description: The responder's actOnClusters (one cluster name pattern)
  QuarantineRepositories:
    Type: String
    Default: "*"
    AllowedPattern: "^[a-z0-9._/*?-]{1,256}$"
    Description: The responder's quarantineRepositories (one repository name pattern)

# Trust: the security account's root as principal, narrowed by aws:PrincipalArn to the responder's function roles, so the
# trust survives a role's re-creation (a role ARN as principal is bound to the role's unique id):
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-roles
# External id: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html
# sts:RoleSessionName: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_rolesessionname
# Cross-account access also needs sts:AssumeRole in the calling role's own policy (both sides must allow it):
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
Resources:
${roleYaml('AutomaticMemberRole', 'automatic', '{ Ref: RoleName }', 'ecs-threat-responder automatic response (runtime and image findings, launch guard, stopped-task clean-up)')}

  # A person's hands: everything above, plus the undo of each reversible action (release).
${roleYaml('RunbookMemberRole', 'runbook', '{ Fn::Sub: "${RoleName}-runbook" }', "ecs-threat-responder runbook (people's commands, release)")}

Outputs:
  AutomaticMemberRoleArn: { Value: { Fn::GetAtt: [AutomaticMemberRole, Arn] } }
  RunbookMemberRoleArn: { Value: { Fn::GetAtt: [RunbookMemberRole, Arn] } }
`;
}

function main(): void {
  const text = memberRoleTemplate();
  if (process.argv.includes('--check')) {
    const committed = readFileSync(MEMBER_ROLE_FILE, 'utf8');
    if (committed !== text) {
      console.error(`${MEMBER_ROLE_FILE} is not what cli/member-template.ts generates: run npx tsx cli/member-template.ts`);
      process.exit(1);
    }
    return;
  }
  writeFileSync(MEMBER_ROLE_FILE, text);
  console.log(`wrote ${MEMBER_ROLE_FILE}`);
}

if (process.argv[1] && /member-template\.ts$/.test(process.argv[1])) main();
