import * as z from '../zod-mini';
import { InvalidEventError } from './invalid-event';

/**
 * AWS's documented identifier formats, one place for every intake. A value that identifies a target or drives a
 * decision must match its format before anything acts on it; everything else is data, escaped and bounded downstream.
 */

/** 12 digits (https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-identifiers.html). */
export const ACCOUNT_ID = /^\d{12}$/;
/** Region codes: `us-east-1`, `us-gov-west-1`, `cn-north-1`, `us-isob-east-1` (https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html). */
export const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;
/** Partitions: aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, aws-eusc (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html). */
export const PARTITION = /^aws(?:-[a-z]+){0,2}$/;
/** `sha256:` + 64 lowercase hex: the OCI digest ECR stores (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageIdentifier.html). */
export const IMAGE_DIGEST = /^sha256:[a-f0-9]{64}$/;
/** ECR repository names, namespaces allowed, 2–256 characters (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html). */
export const REPOSITORY_NAME = /^(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
/** Image tags: 1–300 characters (API_ImageIdentifier), in Docker's tag alphabet (https://docs.docker.com/reference/cli/docker/image/tag/). */
export const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,299}$/;
/** ECS cluster names: up to 255 letters, numbers, hyphens and underscores (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html). */
export const CLUSTER_NAME = /^[A-Za-z0-9_-]{1,255}$/;
/** Task ids: 32 hex characters today, a UUID for old tasks (API_Task `taskArn`); same alphabet as cluster names. */
const TASK_ID = /^[A-Za-z0-9_-]{1,255}$/;
/**
 * GuardDuty finding types: `ThreatPurpose:ResourceTypeAffected/ThreatFamilyName.DetectionMechanism!Artifact`
 * (https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-format.html), e.g. `Backdoor:Runtime/C&CActivity.B!DNS`.
 */
export const GUARDDUTY_FINDING_TYPE = /^(?=.{1,200}$)[A-Za-z]+:[A-Za-z0-9]+\/[A-Za-z0-9&]+(?:\.[A-Za-z0-9&]+)*(?:![A-Za-z0-9]+)?$/;
/** GuardDuty's severity scale: Low 1.0 – Critical 10.0 (https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings-severity.html). */
export const GUARDDUTY_SEVERITY = { min: 1, max: 10 } as const;
/** A finding id: 1–300 characters (API_GetFindings FindingIds; 32 hex in practice), of an alphabet safe in keys, S3 paths and links. */
export const GUARDDUTY_FINDING_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,299}$/;
/** An EventBridge event id (a UUID in practice; https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html), bounded far below DynamoDB's 2,048-byte partition key. */
export const EVENT_ID = /^[\x21-\x7e]{1,256}$/;
/** Inspector finding ARNs (https://docs.aws.amazon.com/inspector/v2/APIReference/API_Finding.html: `finding/[a-f0-9]{32}`, 1–100 characters). */
const INSPECTOR_FINDING = /^finding\/[a-f0-9]{32}$/;
/** Task lifecycle states (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-lifecycle-explanation.html), exact case. */
export const TASK_STATUSES = ['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING', 'DEACTIVATING', 'STOPPING', 'DEPROVISIONING', 'STOPPED', 'DELETED'] as const;

/** An ARN split into its parts. */
export interface Arn {
  partition: string;
  service: string;
  region: string;
  account: string;
  resource: string;
}

/** Where an event says it comes from: what `assertOurs` compares with the deployment. */
export interface Origin {
  account: string;
  region: string;
  partition?: string;
}

/**
 * Parses an ARN of one service and resource form (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html),
 * or throws naming the field. Every part is matched by its own pattern, so `..`, `%2e`, spaces and control characters
 * never get through.
 */
export function parseArn(value: string, field: string, service: string, resource: RegExp): Arn {
  if (value.length > 1600) throw new InvalidEventError(field, 'is longer than any ARN of its kind');
  const [prefix, partition = '', svc, region = '', account = '', ...rest] = value.split(':');
  const res = rest.join(':');
  if (prefix !== 'arn' || svc !== service || !PARTITION.test(partition) || !REGION.test(region) || !ACCOUNT_ID.test(account) || !resource.test(res)) {
    throw new InvalidEventError(field, `is not an ${service} ARN of the form arn:<partition>:${service}:<region>:<account>:${resource.source.replace(/^\^|\$$/g, '')}`);
  }
  return { partition, service, region, account, resource: res };
}

const TASK_RESOURCE = new RegExp(`^task/(?:${CLUSTER_NAME.source.slice(1, -1)}/)?${TASK_ID.source.slice(1, -1)}$`);
const CLUSTER_RESOURCE = new RegExp(`^cluster/${CLUSTER_NAME.source.slice(1, -1)}$`);
export const REPOSITORY_RESOURCE = /^repository\/(.+)$/;

export const parseTaskArn = (value: string, field: string) => parseArn(value, field, 'ecs', TASK_RESOURCE);
export const parseClusterArn = (value: string, field: string) => parseArn(value, field, 'ecs', CLUSTER_RESOURCE);
export const parseInspectorFindingArn = (value: string, field: string) => parseArn(value, field, 'inspector2', INSPECTOR_FINDING);

/** `task/<cluster>/<id>` → cluster; undefined for the short form `task/<id>`. */
export function clusterOfTask(arn: Arn): string | undefined {
  const parts = arn.resource.split('/');
  return parts.length === 3 ? parts[1] : undefined;
}

/** Task and cluster ARN name the same cluster in the same partition, region and account (API_Task: `clusterArn`). */
export function assertTaskInCluster(task: Arn, cluster: Arn, taskField: string): void {
  const clusterName = cluster.resource.slice('cluster/'.length);
  const taskCluster = clusterOfTask(task);
  const same = task.partition === cluster.partition && task.region === cluster.region && task.account === cluster.account;
  if (!same || (taskCluster !== undefined && taskCluster !== clusterName)) {
    throw new InvalidEventError(taskField, `is not a task of cluster arn:${cluster.partition}:ecs:${cluster.region}:${cluster.account}:${cluster.resource}`);
  }
}

/** An ARN inside an event agrees with the event's own account and region. */
export function assertSameOrigin(arn: Arn, origin: Origin, field: string): void {
  if (arn.account !== origin.account || arn.region !== origin.region) {
    throw new InvalidEventError(field, `names account ${arn.account} in ${arn.region}; the event is from ${origin.account} in ${origin.region}`);
  }
}

/** A string of a documented form, in a zod schema. */
export const matching = (pattern: RegExp, what: string) => z.string().check(z.regex(pattern, `is not ${what}`));

/** Checks a value against its format, naming the field. */
export function checkFormat(value: string, pattern: RegExp, field: string, what: string): string {
  if (!pattern.test(value)) throw new InvalidEventError(field, `is not ${what}`);
  return value;
}

/**
 * Free text from an event (titles, process names, command lines, CVE details) is data: kept, but cut to `max` UTF-16
 * units (never inside a surrogate pair), so no field can push a ledger item past DynamoDB's 400 KB or a message past
 * its channel's limits. The evidence bucket keeps the event whole.
 */
export function bounded(text: string, max: number): string;
export function bounded(text: string | undefined, max: number): string | undefined;
export function bounded(text: string | undefined, max: number): string | undefined {
  if (text === undefined || text.length <= max) return text;
  let end = Math.max(0, max - 1);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

/** Sizes for free text in the normalised model: generous for reading, small against 400 KB. */
export const TEXT = { short: 256, name: 1024, long: 8192 } as const;
