import type { Mode } from './actions/response-action';
import { ACCOUNT_ID, PARTITION, REGION } from './events/aws-formats';
import type { Home } from './events/home';

/** Deployment settings, from the Lambda environment (set by serverless.yml stage parameters) or the CLI. */
export interface ResponderConfig {
  stage: string;
  tableName: string;
  evidenceBucket: string;
  /**
   * The stack's KMS key (EVIDENCE_KEY_ARN, set by serverless.yml): every evidence object names it (SSEKMSKeyId), and the
   * bucket policy refuses any other. capture-evidence writes nothing without it.
   */
  evidenceKeyArn: string;
  topicArn: string;
  /** VPC id → quarantine security group id. A VPC missing here gets a tagged group, found or created on first use. */
  quarantineSecurityGroups: Record<string, string>;
  protectedClusters: string[];
  defaultMode: Mode;
  /** The global switch: everything runs in observe mode. */
  forceObserve: boolean;
  /** Why observe is forced, when it is (said in every notification). */
  observeReason?: string;
  /** The SSM parameter of the live observe switch (see observe-switch.ts). */
  switchParameter?: string;
  /** Clusters searched for tasks running a quarantined image; empty or absent: every cluster (ListClusters). */
  imageTaskClusters?: string[];
  /**
   * Organization-wide: the member accounts the responder also acts in (through their member role), or every account
   * of `organizationId`. Absent: only its own account and region.
   */
  organization?: { memberAccounts: string[]; organizationId?: string; roleName: string; externalId: string };
}

function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

function vpcGroupMap(value: string | undefined): Record<string, string> {
  // "vpc-1=sg-1,vpc-2=sg-2": stage parameters are strings, and this stays readable on a command line.
  const map: Record<string, string> = {};
  for (const pair of list(value)) {
    const [vpc, group] = pair.split('=').map((s) => s.trim());
    if (!vpc || !group) throw new Error(`QUARANTINE_SECURITY_GROUPS: "${pair}" is not vpc-id=sg-id`);
    map[vpc] = group;
  }
  return map;
}

export function configFromEnvironment(env: NodeJS.ProcessEnv = process.env): ResponderConfig {
  const need = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`environment variable ${name} is not set`);
    return value;
  };
  const mode = env.RESPONDER_DEFAULT_MODE ?? 'enforce';
  if (mode !== 'observe' && mode !== 'enforce') throw new Error(`RESPONDER_DEFAULT_MODE: "${mode}" is not observe or enforce`);
  return {
    stage: env.RESPONDER_STAGE ?? 'dev',
    tableName: need('RESPONDER_TABLE'),
    evidenceBucket: need('EVIDENCE_BUCKET'),
    evidenceKeyArn: need('EVIDENCE_KEY_ARN'),
    topicArn: need('NOTIFY_TOPIC_ARN'),
    quarantineSecurityGroups: vpcGroupMap(env.QUARANTINE_SECURITY_GROUPS),
    protectedClusters: list(env.PROTECTED_CLUSTERS),
    defaultMode: mode,
    forceObserve: env.RESPONDER_FORCE_OBSERVE === 'true',
    switchParameter: env.RESPONDER_SWITCH_PARAMETER || undefined,
    imageTaskClusters: list(env.IMAGE_TASK_CLUSTERS),
    ...organizationFromEnvironment(env),
  };
}

/**
 * The deployment's own account, region and partition, read from its topic's ARN (`arn:<partition>:sns:<region>:<account>:<name>`,
 * set by serverless.yml in the stack's own account and region), so it needs no setting of its own.
 */
export function deploymentHome(config: Pick<ResponderConfig, 'topicArn' | 'organization'>): Home {
  const [, partition = '', , region = '', account = ''] = config.topicArn.split(':');
  if (!PARTITION.test(partition) || !REGION.test(region) || !ACCOUNT_ID.test(account)) {
    throw new Error(`NOTIFY_TOPIC_ARN: "${config.topicArn}" is not an SNS topic ARN; the deployment's account and region come from it`);
  }
  const organization = config.organization;
  if (!organization) return { account, region, partition };
  // Organization-wide: members' findings arrive in the security account's bus, possibly forwarded from another region
  // (README, "Organization"). Any account passes the intake; whether the responder acts in it is decided, and said in a
  // notification, when it acts (shared/acting-account.ts).
  return { account, region, partition, organizationWide: true };
}

/** MEMBER_ACCOUNTS / ORGANIZATION_ID (stage parameters memberAccounts, organizationId): absent, this account only. */
function organizationFromEnvironment(env: NodeJS.ProcessEnv): Pick<ResponderConfig, 'organization'> {
  const memberAccounts = list(env.MEMBER_ACCOUNTS);
  const organizationId = env.ORGANIZATION_ID || undefined;
  if (!memberAccounts.length && !organizationId) return {};
  if (!env.MEMBER_EXTERNAL_ID) throw new Error('MEMBER_EXTERNAL_ID: is required with MEMBER_ACCOUNTS or ORGANIZATION_ID');
  return { organization: { memberAccounts, organizationId, roleName: env.MEMBER_ROLE_NAME || 'ecs-threat-responder-member', externalId: env.MEMBER_EXTERNAL_ID } };
}
