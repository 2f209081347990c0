import type { Mode } from '../actions/response-action';
import type { ResponderConfig } from '../config';
import type { Finding } from '../finding';
import { forcedObserve } from '../observe-switch';
import { matchesAny } from './glob';
import type { Policy, PolicyRule, PolicyStep } from './policy';

export interface Decision {
  policyRule: string;
  mode: Mode;
  steps: PolicyStep[];
  /** Why the decision is narrower than the rule (protection, global switch, safety rails), said to people. */
  notes: string[];
  /** A person forced it past the automatic safety rails (runbook `force`, with a reason). */
  force?: boolean;
}

export type DecideResult = { act: true; decision: Decision } | { act: false; reason: string };

function tagsMatch(wanted: Record<string, string> | undefined, ...sources: Record<string, string>[]): boolean {
  if (!wanted) return true;
  return Object.entries(wanted).every(([key, value]) => sources.some((tags) => tags[key] === value));
}

function ruleMatches(rule: PolicyRule, finding: Finding): boolean {
  const m = rule.match;
  return (
    m.kind === finding.kind &&
    (!finding.sample || m.samples) &&
    matchesAny(finding.type, m.types) &&
    (!m.severity || m.severity.includes(finding.severityLabel)) &&
    matchesAny(finding.task.clusterName, m.clusters) &&
    matchesAny(finding.task.service, m.services) &&
    tagsMatch(m.tags, finding.task.tags, finding.clusterTags)
  );
}

/** What protection looks at: a task's cluster, service and tags, and its cluster's tags where known. */
export interface ProtectionTarget {
  clusterName: string;
  service?: string;
  tags: Record<string, string>;
  clusterTags: Record<string, string>;
}

/** Why a resource must not be touched, or undefined. Protection wins over every rule and every person. */
export function protectionReason(policy: Policy, config: ResponderConfig, target: ProtectionTarget): string | undefined {
  const { clusterName, service, tags, clusterTags } = target;
  if (config.protectedClusters.includes(clusterName) || (policy.protect.clusters.length > 0 && matchesAny(clusterName, policy.protect.clusters))) {
    return `cluster ${clusterName} is protected`;
  }
  if (service && policy.protect.services.length > 0 && matchesAny(service, policy.protect.services)) return `service ${service} is protected`;
  for (const [key, value] of Object.entries(policy.protect.tags)) {
    if (tags[key] === value || clusterTags[key] === value) return `tag ${key}=${value} protects it`;
  }
  return undefined;
}

/** Pure: the first matching rule decides. `isDestructive` comes from the action registry. */
export function decide(
  finding: Finding,
  policy: Policy,
  config: ResponderConfig,
  isMutating: (action: string) => boolean,
): DecideResult {
  const rule = policy.rules.find((candidate) => ruleMatches(candidate, finding));
  if (!rule) {
    return { act: false, reason: finding.sample ? 'GuardDuty sample finding: no rule opts in to samples' : 'no policy rule matches' };
  }
  if (rule.steps.length === 0) return { act: false, reason: `rule ${rule.name} takes no action` };

  const notes: string[] = [];
  let mode: Mode = rule.mode ?? config.defaultMode;
  const forced = forcedObserve(policy, config);
  if (forced) {
    if (mode === 'enforce') notes.push(forced);
    mode = 'observe';
  }
  let steps = rule.steps;
  const protectedBy = protectionReason(policy, config, { ...finding.task, clusterTags: finding.clusterTags });
  if (protectedBy) {
    steps = steps.filter((step) => !isMutating(step.action));
    notes.push(`Protected resource (${protectedBy}): nothing changed on it; evidence and notification only.`);
  }
  return { act: true, decision: { policyRule: rule.name, mode, steps, notes } };
}
