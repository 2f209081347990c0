import { forcedObserve } from '../observe-switch';
import type { Mode } from '../actions/response-action';
import type { ResponderConfig } from '../config';
import type { ImageFinding, ImageVulnerability } from '../finding';
import type { Decision } from './decide';
import { matchesAny } from './glob';
import type { AcceptedRisk } from './policy-schema';
import type { Policy, PolicyRule } from './policy';

/** Severity order, most severe first: the claim compares ranks, so a rising severity is re-evaluated. */
const RANKED = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'] as const;

export type SeverityCounts = Partial<Record<string, number>>;

export interface ImageDecision extends Decision {
  /** Counts after accepted risks are set aside. */
  severityCounts: SeverityCounts;
  vulnerabilities: ImageVulnerability[];
  /** 4 for CRITICAL … 1 for LOW, 0 for none: a later scan acts again only when this rises. */
  severityRank: number;
}

export type DecideImageResult = { act: true; decision: ImageDecision } | { act: false; reason: string; severityCounts: SeverityCounts };

export function severityRank(counts: SeverityCounts): number {
  const top = RANKED.findIndex((label) => (counts[label] ?? 0) > 0);
  return top < 0 ? 0 : RANKED.length - top;
}

export function countBySeverity(vulnerabilities: ImageVulnerability[]): SeverityCounts {
  const counts: SeverityCounts = {};
  for (const v of vulnerabilities) if (v.severity) counts[v.severity] = (counts[v.severity] ?? 0) + 1;
  return counts;
}

/** Accepted risks that still apply: not expired (the expiry day itself still counts) and for this repository. */
export function acceptedRisksFor(policy: Policy, repository: string, today: Date): AcceptedRisk[] {
  const day = today.toISOString().slice(0, 10);
  return (policy.acceptedRisks ?? []).filter((risk) => risk.expires >= day && matchesAny(repository, risk.repositories));
}

/** Inspector filters narrow the vulnerabilities a rule counts; a basic scan has none, so such rules never match it. */
function filtered(rule: PolicyRule, vulnerabilities: ImageVulnerability[]): ImageVulnerability[] | undefined {
  const m = rule.match;
  if (m.exploitAvailable === undefined && m.fixAvailable === undefined && m.minEpss === undefined) return undefined;
  return vulnerabilities.filter(
    (v) =>
      (m.exploitAvailable === undefined || v.exploitAvailable === m.exploitAvailable) &&
      (m.fixAvailable === undefined || v.fixAvailable === m.fixAvailable) &&
      (m.minEpss === undefined || (v.epss ?? 0) >= m.minEpss),
  );
}

function ruleMatches(rule: PolicyRule, finding: ImageFinding, counts: SeverityCounts, vulnerabilities: ImageVulnerability[]): boolean {
  const m = rule.match;
  if (m.kind !== 'image') return false;
  if (m.scanStatuses ? !matchesAny(finding.status, m.scanStatuses) : !finding.actionable) return false;
  if (!matchesAny(finding.repository, m.repositories)) return false;
  if (m.excludeRepositories?.length && matchesAny(finding.repository, m.excludeRepositories)) return false;
  const narrowed = filtered(rule, vulnerabilities);
  if (narrowed !== undefined && narrowed.length === 0) return false;
  const considered = narrowed ? countBySeverity(narrowed) : counts;
  if (m.severity && !m.severity.some((label) => (considered[label] ?? 0) > 0)) return false;
  if (m.minCounts && !Object.entries(m.minCounts).some(([label, min]) => (considered[label] ?? 0) >= (min ?? 1))) return false;
  return true;
}

/**
 * Pure: the first image rule that matches decides. Accepted risks are set aside first; a scan that did not complete
 * (or a finding that is not ACTIVE) may be reported by a rule that asks for its status, but is never acted on.
 */
export function decideImage(
  finding: ImageFinding,
  policy: Policy,
  config: ResponderConfig,
  isMutating: (action: string) => boolean,
  today: Date,
): DecideImageResult {
  const accepted = acceptedRisksFor(policy, finding.repository, today);
  const acceptedIds = new Set(accepted.map((r) => r.id));
  const vulnerabilities = finding.vulnerabilities.filter((v) => !acceptedIds.has(v.id));
  const counts = finding.vulnerabilities.length ? countBySeverity(vulnerabilities) : finding.severityCounts;
  if (finding.vulnerabilities.length > 0 && vulnerabilities.length === 0) {
    const risk = accepted.find((r) => finding.vulnerabilities.some((v) => v.id === r.id))!;
    return { act: false, reason: `accepted risk ${risk.id} until ${risk.expires}: ${risk.reason}`, severityCounts: counts };
  }
  const rule = policy.rules.find((candidate) => ruleMatches(candidate, finding, counts, vulnerabilities));
  if (!rule) {
    const why = finding.actionable ? 'no image rule matches' : `${finding.status}: recorded, never acted on (no rule reports it)`;
    return { act: false, reason: why, severityCounts: counts };
  }
  if (rule.steps.length === 0) return { act: false, reason: `rule ${rule.name} takes no action`, severityCounts: counts };

  const notes: string[] = [];
  let mode: Mode = rule.mode ?? config.defaultMode;
  const forced = forcedObserve(policy, config);
  if (forced) {
    if (mode === 'enforce') notes.push(forced);
    mode = 'observe';
  }
  let steps = rule.steps;
  if (!finding.actionable) {
    steps = steps.filter((step) => !isMutating(step.action));
    notes.push(`Status ${finding.status}: reported only; only a completed scan or an ACTIVE finding is acted on.`);
  }
  const setAside = finding.vulnerabilities.filter((v) => acceptedIds.has(v.id)).map((v) => v.id);
  if (setAside.length) notes.push(`Accepted risks set aside: ${setAside.join(', ')}.`);
  return {
    act: true,
    decision: { policyRule: rule.name, mode, steps, notes, severityCounts: counts, vulnerabilities, severityRank: severityRank(counts) },
  };
}
