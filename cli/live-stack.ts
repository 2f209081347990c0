import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { configFromEnvironment, type ResponderConfig } from '../shared/config';

/** The deployed stack of a stage, as `osls deploy` names it. */
export const stackName = (stage: string) => `ecs-threat-responder-${stage}`;

export interface LiveStack {
  config: ResponderConfig;
  region: string;
  account: string;
  /** Who runs the command (your credentials). */
  caller: string;
}

/**
 * A real account's deployment, read from the stack's outputs for the stage (table, bucket, key, topic, the stage's
 * settings): nothing to copy into environment variables. The region is --region or the profile's.
 */
export async function readLiveStack(stage: string, region: string | undefined): Promise<LiveStack> {
  const cloudFormation = new CloudFormationClient({ region });
  const resolvedRegion = await cloudFormation.config.region().catch(() => undefined);
  if (!resolvedRegion) throw new Error('no AWS region: pass --region <region>, or set one in your profile (aws configure)');
  const identity = await new STSClient({ region: resolvedRegion }).send(new GetCallerIdentityCommand({}));
  let outputs: Record<string, string>;
  try {
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName(stage) }));
    outputs = Object.fromEntries((Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  } catch (error) {
    if (/does not exist/.test((error as Error).message)) {
      throw new Error(`stack ${stackName(stage)} does not exist in account ${identity.Account}, ${resolvedRegion}: check --stage and --region`, { cause: error });
    }
    throw error;
  }
  return { config: configFromStackOutputs(stage, outputs), region: resolvedRegion, account: identity.Account ?? '?', caller: identity.Arn ?? '?' };
}

/** The responder's configuration from the stack's outputs (infrastructure.yml, Outputs), as the functions get it. */
export function configFromStackOutputs(stage: string, outputs: Record<string, string>): ResponderConfig {
  const missing = ['LedgerTableName', 'EvidenceBucketName', 'EvidenceKeyArn', 'NotificationTopicArn', 'StageSettings'].filter((k) => !outputs[k]);
  if (missing.length) throw new Error(`stack ${stackName(stage)} has no output ${missing.join(', ')}: redeploy it with this version`);
  const settings = JSON.parse(outputs.StageSettings!) as Record<string, string>;
  return configFromEnvironment({
    RESPONDER_STAGE: stage,
    RESPONDER_TABLE: outputs.LedgerTableName,
    EVIDENCE_BUCKET: outputs.EvidenceBucketName,
    EVIDENCE_KEY_ARN: outputs.EvidenceKeyArn,
    NOTIFY_TOPIC_ARN: outputs.NotificationTopicArn,
    RESPONDER_DEFAULT_MODE: settings.defaultMode,
    RESPONDER_FORCE_OBSERVE: settings.forceObserve,
    QUARANTINE_SECURITY_GROUPS: settings.quarantineSecurityGroups,
    PROTECTED_CLUSTERS: settings.protectedClusters,
    IMAGE_TASK_CLUSTERS: settings.imageTaskClusters,
    RESPONDER_SWITCH_PARAMETER: outputs.ObserveSwitchParameterName,
  });
}
