import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../bench/cold-start';
import { ACTIONS } from '../shared/actions/registry';
import { parsePolicy } from '../shared/policy/policy';
import { TASK_STATE_READS } from '../shared/task-state';
import { packageStack, README_PRODUCTION_PARAMS } from '../sim/packaged-template';
import { ROOT, type Json } from './helpers/deployment';

/**
 * The CloudFormation template `osls package` produces from serverless.yml + infrastructure.yml, read as deployed
 * (packaged once per change of its inputs, without AWS credentials; sim/packaged-template.ts).
 */
let dir: string;
let resources: Record<string, Json>;

beforeAll(() => {
  const stack = packageStack();
  dir = stack.dir;
  resources = stack.template.Resources;
}, 180_000);

const ofType = (type: string): [string, Json][] => Object.entries(resources).filter(([, r]) => r.Type === type);
const asList = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

interface Statement {
  where: string;
  Effect: string;
  Action: string[];
  Resource: Json[];
  Condition?: Json;
  Principal?: Json;
  Sid?: string;
}

/** Every policy statement in the template: role policies, bucket/queue/key policies. */
function statements(): Statement[] {
  const out: Statement[] = [];
  const add = (where: string, document: Json) => {
    for (const s of asList(document?.Statement)) out.push({ ...s, where, Action: asList(s.Action), Resource: asList(s.Resource) });
  };
  for (const [name, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::IAM::Role') {
      for (const p of r.Properties.Policies ?? []) add(`${name}/${p.PolicyName}`, p.PolicyDocument);
    }
    if (r.Type === 'AWS::KMS::Key') add(`${name}/KeyPolicy`, r.Properties.KeyPolicy);
    if (r.Type === 'AWS::S3::BucketPolicy' || r.Type === 'AWS::SQS::QueuePolicy' || r.Type === 'AWS::SNS::TopicPolicy') add(name, r.Properties.PolicyDocument);
  }
  return out;
}

const READ = /^[a-z0-9-]+:(Describe|Get|List|BatchGet|Query|Scan)/;
const isMutating = (action: string) => !READ.test(action);

describe('the packaged CloudFormation template', () => {
  it('routes GuardDuty ECS findings (numeric severity) and stopped ECS tasks through EventBridge rules with retries and a DLQ', () => {
    const rules = ofType('AWS::Events::Rule').map(([, r]) => r.Properties);
    // GuardDuty, STOPPED tasks; image scans (ECR, Inspector finding, Inspector scan); launch guard (task starting, image push).
    expect(rules).toHaveLength(7);
    const guardDuty = rules.find((r) => r.EventPattern.source?.includes('aws.guardduty'))!;
    expect(guardDuty.EventPattern).toEqual({
      source: ['aws.guardduty'],
      'detail-type': ['GuardDuty Finding'],
      detail: { resource: { resourceType: ['ECSCluster'] }, severity: [{ numeric: ['>=', 4] }] },
    });
    // A number, not the string "4": EventBridge's numeric matching needs one.
    expect(typeof guardDuty.EventPattern.detail.severity[0].numeric[1]).toBe('number');
    const stopped = rules.find((r) => r.EventPattern.source?.includes('aws.ecs') && r.EventPattern.detail?.lastStatus?.includes('STOPPED'))!;
    expect(stopped.EventPattern).toEqual({ source: ['aws.ecs'], 'detail-type': ['ECS Task State Change'], detail: { lastStatus: ['STOPPED'] } });
    for (const rule of rules) {
      expect(rule.State).toBe('ENABLED');
      expect(rule.Targets).toHaveLength(1);
      const [target] = rule.Targets;
      expect(target.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 10 });
      expect(target.DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': ['EventDeadLetterQueue', 'Arn'] } });
    }
    expect(guardDuty.Targets[0].Arn).toEqual({ 'Fn::GetAtt': ['RuntimeFindingLambdaFunction', 'Arn'] });
    expect(stopped.Targets[0].Arn).toEqual({ 'Fn::GetAtt': ['TaskStoppedLambdaFunction', 'Arn'] });
  });

  it.each([
    ['the default stage', {}],
    ["the README's production parameters", { stage: 'prod', params: README_PRODUCTION_PARAMS }],
  ])('lets only the stack\'s own EventBridge rules send to the dead-letter queue (%s)', (_name, options) => {
    const packaged: Record<string, Json> = packageStack(options).template.Resources;
    const dlq = Object.values(packaged).find((r) => r.Type === 'AWS::SQS::QueuePolicy' && JSON.stringify(r.Properties.Queues) === JSON.stringify([{ Ref: 'EventDeadLetterQueue' }]))!;
    const [statement] = dlq.Properties.PolicyDocument.Statement;
    expect(statement).toMatchObject({
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: 'sqs:SendMessage',
      Resource: { 'Fn::GetAtt': ['EventDeadLetterQueue', 'Arn'] },
    });
    expect(statement.Condition.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    // The ARNs listed are exactly those of the rules osls packaged, as their Lambda permissions name them.
    const ruleArn = (name: string) => `arn:\${AWS::Partition}:events:\${AWS::Region}:\${AWS::AccountId}:rule/${name}`;
    const rules = Object.values(packaged).filter((r) => r.Type === 'AWS::Events::Rule');
    expect(rules).toHaveLength(7);
    const listed = statement.Condition.ArnEquals['aws:SourceArn'].map((arn: Json) => arn['Fn::Sub']);
    expect([...listed].sort()).toEqual(rules.map((r) => ruleArn(r.Properties.Name)).sort());
  });

  it('names the stack key for evidence and refuses any other; scopes the key to its topic for SNS; keeps key and policy with the bucket', () => {
    expect(resources.RuntimeFindingLambdaFunction.Properties.Environment.Variables.EVIDENCE_KEY_ARN).toEqual({ 'Fn::GetAtt': ['ResponderKey', 'Arn'] });
    const bucketPolicy = resources.EvidenceBucketPolicy;
    const denyOtherKeys = bucketPolicy.Properties.PolicyDocument.Statement.find((s: Json) => s.Sid === 'DenyOtherEncryptionKeys');
    expect(denyOtherKeys).toMatchObject({ Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: { 'Fn::Sub': '${EvidenceBucket.Arn}/*' } });
    // No IfExists: a request naming no key is refused too (S3 would use aws/s3 for a bare aws:kms).
    expect(denyOtherKeys.Condition).toEqual({ StringNotEquals: { 's3:x-amz-server-side-encryption-aws-kms-key-id': { 'Fn::GetAtt': ['ResponderKey', 'Arn'] } } });

    const sns = resources.ResponderKey.Properties.KeyPolicy.Statement.find((s: Json) => s.Sid === 'SnsDeliversEncryptedMessages');
    expect(sns.Principal).toEqual({ Service: 'sns.amazonaws.com' });
    expect(sns.Condition.StringEquals['kms:EncryptionContext:aws:sns:topicArn']).toEqual({
      'Fn::Sub': `arn:\${AWS::Partition}:sns:\${AWS::Region}:\${AWS::AccountId}:${resources.NotificationTopic.Properties.TopicName}`,
    });

    // `osls remove` keeps the ledger and the evidence, and what the evidence needs: its key and its TLS/key-only policy.
    for (const name of ['LedgerTable', 'EvidenceBucket', 'ResponderKey', 'EvidenceBucketPolicy']) {
      expect([resources[name].DeletionPolicy, resources[name].UpdateReplacePolicy], name).toEqual(['Retain', 'Retain']);
    }
    const retained = Object.entries(resources).filter(([, r]) => r.DeletionPolicy === 'Retain').map(([name]) => name);
    expect(retained.sort()).toEqual(['EvidenceBucket', 'EvidenceBucketPolicy', 'LedgerTable', 'ResponderKey']);
  });

  it('gives every asynchronously invoked function an on-failure destination (SQS), and runs every function on nodejs22.x', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions.map(([name]) => name)).toEqual(expect.arrayContaining(['RuntimeFindingLambdaFunction', 'SlackNotifierLambdaFunction', 'TaskStoppedLambdaFunction']));
    for (const [, fn] of functions) expect(fn.Properties.Runtime).toBe('nodejs22.x');
    // Asynchronous sources: EventBridge rule targets and SNS subscriptions. Destinations apply to those invocations only.
    const eventTargets = ofType('AWS::Events::Rule').flatMap(([, r]) => r.Properties.Targets.map((t: Json) => t.Arn['Fn::GetAtt']?.[0]));
    const snsTargets = ofType('AWS::SNS::Subscription').map(([, r]) => r.Properties.Endpoint['Fn::GetAtt']?.[0]);
    const asynchronous = new Set([...eventTargets, ...snsTargets]);
    expect([...asynchronous].sort()).toEqual(['ImageFindingLambdaFunction', 'RuntimeFindingLambdaFunction', 'SlackNotifierLambdaFunction', 'TaskLaunchGuardLambdaFunction', 'TaskStoppedLambdaFunction']);
    const configs = ofType('AWS::Lambda::EventInvokeConfig').map(([, r]) => r.Properties);
    for (const name of asynchronous) {
      const config = configs.find((c) => c.FunctionName?.Ref === name);
      expect(config, `${name} has an EventInvokeConfig`).toBeDefined();
      expect(config.DestinationConfig?.OnFailure?.Destination, `${name} on-failure destination`).toEqual({ 'Fn::GetAtt': ['FailedInvocationQueue', 'Arn'] });
    }
    // Functions with no asynchronous source (the invoke-only runbook) need none; listed so a new one is noticed.
    expect(functions.map(([name]) => name).filter((name) => !asynchronous.has(name))).toEqual(['RunbookLambdaFunction']);
    expect(resources.RuntimeFindingLambdaFunction.Properties.Role).toEqual({ 'Fn::GetAtt': ['RuntimeFindingRole', 'Arn'] });
    expect(resources.RuntimeFindingLambdaFunction.Properties.Environment.Variables).toMatchObject({ RESPONDER_DEFAULT_MODE: 'enforce', RESPONDER_FORCE_OBSERVE: 'false' });
  });

  it('keeps the ledger on-demand with point-in-time recovery, the evidence bucket versioned, KMS-encrypted and private, the topic encrypted', () => {
    const table = resources.LedgerTable;
    expect(table.Type).toBe('AWS::DynamoDB::Table');
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.Properties.GlobalSecondaryIndexes.map((i: Json) => i.IndexName)).toEqual(['byTarget']);

    const bucket = resources.EvidenceBucket;
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    const [encryption] = bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration;
    expect(encryption.ServerSideEncryptionByDefault).toEqual({ SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': ['ResponderKey', 'Arn'] } });

    expect(resources.NotificationTopic.Properties.KmsMasterKeyId).toEqual({ Ref: 'ResponderKey' });
    expect(resources.ResponderKey.Properties.EnableKeyRotation).toBe(true);
  });

  it('packages the runtimeFinding bundle and the deferred SDK it requires, with the policy compiled in (no policy.yml, no YAML parser)', () => {
    const zip = join(dir, 'runtimeFinding.zip');
    const listing = execFileSync('unzip', ['-Z1', zip], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(listing.sort()).toEqual(['functions/deferred/sdk.js', 'functions/runtimeFinding.js']);
    const bundle = execFileSync('unzip', ['-p', zip, 'functions/runtimeFinding.js'], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const policy = parsePolicy(readFileSync(join(ROOT, 'policy.yml'), 'utf8'));
    for (const rule of policy.rules) expect(bundle).toContain(JSON.stringify(rule.name));
  });

  it.each(FUNCTIONS)('%s: every file the packaged handler requires is in its zip, and loads from the unzipped folder', (name) => {
    const zip = join(dir, `${name}.zip`);
    const listing = execFileSync('unzip', ['-Z1', zip], { encoding: 'utf8' }).split('\n').filter(Boolean);
    const handler = `functions/${name}.js`;
    const unzipped = mkdtempSync(join(tmpdir(), `${name}-zip-`));
    try {
      execFileSync('unzip', ['-q', zip, '-d', unzipped]);
      const requires = [...readFileSync(join(unzipped, handler), 'utf8').matchAll(/require\("(\.{1,2}\/[^"]*)"\)/g)].map((m) => posix.join('functions', m[1]!));
      for (const required of requires) expect(listing).toContain(required);
      // The handler as Lambda loads it, then each file it requires later, as the handler would (relative to itself).
      const script = `require('./${handler}'); for (const r of ${JSON.stringify(requires)}) require('./' + r);`;
      execFileSync(process.execPath, ['-e', script], { cwd: unzipped, env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }, stdio: ['ignore', 'ignore', 'pipe'] });
    } finally {
      rmSync(unzipped, { recursive: true, force: true });
    }
  });
});

describe('IAM in the packaged template', () => {
  it('grants no "*" or service-wide "x:*" action, except the KMS key policy statement for the account root', () => {
    const wide = statements().filter((s) => s.Effect === 'Allow' && s.Action.some((a) => a === '*' || /^[a-z0-9-]+:\*$/.test(a)));
    expect(wide.map((s) => `${s.where}/${s.Sid}`)).toEqual(['ResponderKey/KeyPolicy/AccountAdministers']);
    expect(wide[0]!.Principal).toEqual({ AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } });
    // Service-wide actions appear otherwise only in Deny statements refusing plain HTTP (evidence and deployment buckets).
    const denies = statements().filter((s) => s.Effect === 'Deny' && s.Action.some((a) => a.endsWith(':*') || a === '*'));
    expect(denies.map((s) => s.where).sort()).toEqual(['EvidenceBucketPolicy', 'ServerlessDeploymentBucketPolicy']);
    for (const deny of denies) expect(String(deny.Condition?.Bool?.['aws:SecureTransport'])).toBe('false');
  });

  it('allows no mutating action on Resource "*" without a Condition (role policies)', () => {
    const roleStatements = statements().filter((s) => s.where.includes('Role/'));
    expect(roleStatements.length).toBeGreaterThan(10);
    const offenders = roleStatements.filter((s) => s.Effect === 'Allow' && s.Resource.includes('*') && !s.Condition && s.Action.some(isMutating));
    expect(offenders.map((s) => `${s.where}/${s.Sid}: ${s.Action.filter(isMutating).join(', ')}`)).toEqual([]);
  });

  it('puts an ecs:cluster condition on every mutating ECS action that supports the key', () => {
    // ecs:TagResource and ecs:UntagResource do not support ecs:cluster (Service Authorization Reference): IAM treats a
    // missing key as no match, so such a condition would deny them. Their statements are scoped otherwise.
    const noClusterKey = new Set(['ecs:TagResource', 'ecs:UntagResource']);
    const ecsMutations = statements().filter((s) => s.Effect === 'Allow' && s.Action.some((a) => a.startsWith('ecs:') && isMutating(a) && !noClusterKey.has(a)));
    expect(ecsMutations.length).toBeGreaterThan(0);
    for (const s of ecsMutations) {
      const conditions = Object.values(s.Condition ?? {}).flatMap((c) => Object.keys(c as object));
      expect(conditions, `${s.where}/${s.Sid}`).toContain('ecs:cluster');
    }
  });

  it("RuntimeFindingRole grants only the registry's permissions and the pipeline's reads", () => {
    // Logs, failure queue, encryption, ledger, and the live observe switch every acting function reads.
    // (and, organization-wide, the member role and the membership check: sts, organizations).
    const infrastructure = /^(logs|sqs|kms|dynamodb|ssm|sts|organizations):/;
    const granted = new Set(
      statements()
        .filter((s) => s.where.startsWith('RuntimeFindingRole/') && s.Effect === 'Allow')
        .flatMap((s) => s.Action)
        .filter((a) => !infrastructure.test(a)),
    );
    // readTaskState's reads, and the lookups the isolation ladder makes (quarantine group, subnet ACL).
    const reads = [...TASK_STATE_READS, 'ec2:DescribeSecurityGroups', 'ec2:DescribeNetworkAcls'];
    // The runtimeFinding Lambda runs the actions a runtime rule may name (kinds defaults to runtime; image-only
    // actions such as quarantine-image are refused in runtime rules by parsePolicy).
    const runtimeActions = ACTIONS.filter((a) => (a.kinds ?? ['runtime']).includes('runtime'));
    expect(runtimeActions.map((a) => a.name)).toEqual(expect.arrayContaining(['capture-evidence', 'tag', 'isolate-task', 'stop-task', 'notify']));
    const needed = new Set([...runtimeActions.flatMap((a) => a.permissions.flatMap((p) => p.actions)), ...reads]);
    // Not all of the registry: an action's permissions include its undo (release runs in the runbook) and its image-only
    // paths; which of them the runtime path calls is checked against the calls it makes (test/iam-coverage.test.ts).
    expect([...granted].filter((a) => !needed.has(a)).sort()).toEqual([]);
    expect([...needed].filter((a) => !granted.has(a)).sort()).toEqual(['ec2:DeleteNetworkAclEntry', 'ec2:DeleteTags', 'ecs:DescribeClusters', 'ecs:ListClusters', 'ecs:ListTasks', 'ecs:UntagResource']);
  });

  it('RunbookRole grants every action a person can run through it, and scans the ledger for history', () => {
    const granted = new Set(statements().filter((s) => s.where.startsWith('RunbookRole/') && s.Effect === 'Allow').flatMap((s) => s.Action));
    const needed = [...ACTIONS.flatMap((a) => a.permissions.flatMap((p) => p.actions)), ...TASK_STATE_READS, 'dynamodb:Scan'];
    // sts:GetCallerIdentity needs no permission ("No permissions are required to perform this operation", STS API).
    expect(needed.filter((a) => !granted.has(a))).toEqual([]);
  });

  it('scopes every ECR action to repository ARNs', () => {
    const ecr = statements().filter((s) => s.Effect === 'Allow' && s.Action.some((a) => a.startsWith('ecr:')));
    expect(ecr.length).toBeGreaterThan(0);
    for (const statement of ecr) {
      expect(JSON.stringify(statement.Resource)).toMatch(/:repository\//);
      expect(statement.Resource).not.toContain("*");
    }
  });

  it('TaskStoppedRole can only read network ACLs and delete entries (plus its ledger, logs, failure queue, the observe switch, and organization-wide the member role and membership)', () => {
    const granted = statements()
      .filter((s) => s.where.startsWith('TaskStoppedRole/') && s.Effect === 'Allow')
      .flatMap((s) => s.Action)
      .sort();
    // A member's stopped task is cleaned up in the member account through the member role (README, "Organization").
    expect(granted).toEqual(['dynamodb:Query', 'dynamodb:UpdateItem', 'ec2:DeleteNetworkAclEntry', 'ec2:DescribeNetworkAcls', 'logs:CreateLogStream', 'logs:PutLogEvents', 'organizations:DescribeAccount', 'sqs:SendMessage', 'ssm:GetParameter', 'sts:AssumeRole']);
  });
});
