import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Notification } from '../../shared/notification';
import { parsePolicy, loadPolicyFile, type Policy } from '../../shared/policy/policy';
import { respondToRuntimeFinding, type EventResult } from '../../shared/pipeline';
import type { CallRecord, SimulatedAccount } from '../../sim/account';
import { startSimulatedDeployment, type DeploymentOptions as SimulatedDeploymentOptions, type SimulatedDeployment } from '../../sim/deployment';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const EVENTS_DIR = join(ROOT, 'events/guardduty');
export const SHIPPED_POLICY_FILE = join(ROOT, 'policy.yml');

 
export type Json = any;

export function loadEvent(name: string): Json {
  return JSON.parse(readFileSync(join(EVENTS_DIR, name), 'utf8'));
}

export function eventFiles(): string[] {
  return readdirSync(EVENTS_DIR).filter((name) => name.endsWith('.json')).sort();
}

export function shippedPolicy(): Policy {
  return loadPolicyFile(SHIPPED_POLICY_FILE);
}

/** A policy from YAML text, validated by the real parser. */
export function policyFrom(yaml: string): Policy {
  return parsePolicy(yaml, 'test-policy.yml');
}

/**
 * One rule for HIGH and CRITICAL findings: isolate the task (the swap, then the fallback rung) and notify; with the
 * policy's `safety` values when given.
 */
export function isolatePolicy(options: { fallback?: 'network-acl' | 'stop-task'; safety?: Record<string, number> } = {}): Policy {
  const safety = options.safety ? `safety: ${JSON.stringify(options.safety)}\n` : '';
  return policyFrom(`version: 1
${safety}rules:
  - name: isolate
    match: { severity: [HIGH, CRITICAL] }
    actions:
      - isolate-task: { fallback: [${options.fallback ?? 'network-acl'}] }
      - notify
`);
}

/** What a simulated deployment takes; the shipped policy unless a test names another. */
export type DeploymentOptions = Omit<SimulatedDeploymentOptions, 'policy'> & { policy?: Policy };

/** A simulated deployment (account + dynalite ledger) with the shipped policy unless told otherwise. */
export function startDeployment(options: DeploymentOptions = {}): Promise<SimulatedDeployment> {
  return startSimulatedDeployment({ ...options, policy: options.policy ?? shippedPolicy() });
}

/** Seeds the account from the event (as the replay CLI does), then runs the Lambda's pipeline on it. */
export async function seedAndRespond(deployment: SimulatedDeployment, event: unknown): Promise<EventResult> {
  deployment.account.seedFromEvent(event);
  return respondToRuntimeFinding(event, deployment.depsFor('runtimeFinding'));
}

/** Operations that change something in the account (workload, network, evidence, notifications). */
const READ_ONLY = /^(Describe|List|Get)/;

export function mutatingCalls(account: SimulatedAccount, since = 0): CallRecord[] {
  return account.calls.slice(since).filter((c) => !READ_ONLY.test(c.operation));
}

/** `service:Operation` of every successful mutating call. */
export function mutatingOperations(account: SimulatedAccount, since = 0): string[] {
  return mutatingCalls(account, since)
    .filter((c) => c.ok)
    .map((c) => `${c.service}:${c.operation}`);
}

/** Calls that change the workload or its network: everything but evidence (S3) and notifications (SNS). */
export function workloadMutations(account: SimulatedAccount, since = 0): CallRecord[] {
  return mutatingCalls(account, since).filter((c) => c.service === 'ec2' || c.service === 'ecs' || c.service === 'ecr');
}

export function notifications(account: SimulatedAccount): Notification[] {
  return account.sns.published.map((m) => JSON.parse(m.message) as Notification);
}

export async function rawLedgerItem(deployment: SimulatedDeployment, pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
  const out = await DynamoDBDocumentClient.from(deployment.dynamo).send(new GetCommand({ TableName: deployment.config.tableName, Key: { pk, sk } }));
  return out.Item;
}

/** Every REJECTED item in the ledger table (read straight from DynamoDB). */
export async function rejectedItems(deployment: SimulatedDeployment): Promise<Record<string, unknown>[]> {
  const out = await DynamoDBDocumentClient.from(deployment.dynamo).send(new ScanCommand({ TableName: deployment.config.tableName }));
  return (out.Items ?? []).filter((item) => String(item.pk).startsWith('REJECTED#'));
}

/** The network ACL associated with a subnet in the simulated account. */
export function aclOfSubnet(account: SimulatedAccount, subnetId: string) {
  const acl = [...account.ec2.networkAcls.values()].find((a) => a.subnetIds.includes(subnetId));
  if (!acl) throw new Error(`no network ACL for ${subnetId}`);
  return acl;
}

export function denyEntriesFor(account: SimulatedAccount, subnetId: string, cidr: string) {
  return aclOfSubnet(account, subnetId).entries.filter((e) => e.ruleAction === 'deny' && e.cidrBlock === cidr);
}

/** A deep copy of an event with changes applied. */
export function variant(event: Json, change: (copy: Json) => void): Json {
  const copy = structuredClone(event);
  change(copy);
  return copy;
}
