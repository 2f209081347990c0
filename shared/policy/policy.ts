import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ACTION_PARAMS } from '../actions/params';
import { actionNames, findAction } from '../actions/registry';
import { globToRegExp, matchesAny } from './glob';
import { GUARDDUTY_ECS_FINDING_TYPES } from './guardduty-finding-types';
import { PolicySchema } from './policy-document';
import type { Safety, AcceptedRisk, PolicyDocument, PolicyRuleDocument } from './policy-schema';

export interface PolicyStep {
  action: string;
  params: unknown;
}

export type PolicyRule = Omit<PolicyRuleDocument, 'actions'> & { steps: PolicyStep[] };

export interface Policy {
  forceObserve: boolean;
  safety: Safety;
  protect: PolicyDocument['protect'];
  rules: PolicyRule[];
  /** Vulnerabilities image rules ignore until their expiry date. */
  acceptedRisks?: AcceptedRisk[];
}

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
}

function pathText(path: PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
}

/** Where a problem is, for people: the rule by its name when the path is inside one, with the path beside it. */
function where(source: string, path: PropertyKey[], raw: unknown): string {
  if (path[0] === 'rules' && typeof path[1] === 'number') {
    const name = ((raw as { rules?: { name?: unknown }[] } | null)?.rules?.[path[1]] ?? {}).name;
    if (typeof name === 'string') return `${source} rule "${name}" (${pathText(path)})`;
  }
  return `${source} ${pathText(path)}`;
}

/** Every problem at once: one line each, so a person fixes the file in one pass. */
function policyErrors(source: string, problems: string[]): PolicyError {
  if (problems.length === 1) return new PolicyError(problems[0]);
  return new PolicyError(`${source}: ${problems.length} problems\n  ${problems.join('\n  ')}`);
}

/** A type pattern that matches no GuardDuty type an ECS task can have is a typo (types are case-sensitive). */
function unknownTypes(types: string[] | undefined): string[] {
  return (types ?? []).filter((glob) => !GUARDDUTY_ECS_FINDING_TYPES.some((type) => globToRegExp(glob).test(type)));
}

/** Does glob `wide` match everything glob `narrow` matches? (Conservative: true only when that is certain.) */
function globCovers(wide: string, narrow: string): boolean {
  if (wide === narrow || wide === '*') return true;
  if (!/[*?]/.test(narrow)) return globToRegExp(wide).test(narrow);
  return /^[^*?]*\*$/.test(wide) && narrow.startsWith(wide.slice(0, -1));
}

function globsCover(wide: string[] | undefined, narrow: string[] | undefined): boolean {
  if (!wide || wide.length === 0) return true;
  if (!narrow || narrow.length === 0) return false;
  return narrow.every((n) => wide.some((w) => globCovers(w, n)));
}

/** The known types a runtime rule's type patterns match (all of them without patterns). */
function typesOf(globs: string[] | undefined): string[] {
  return GUARDDUTY_ECS_FINDING_TYPES.filter((type) => matchesAny(type, globs));
}

/** Does `earlier` match every finding `later` matches? Then `later` can never decide anything. */
function shadows(earlier: PolicyRuleDocument['match'], later: PolicyRuleDocument['match']): boolean {
  const same = (key: keyof PolicyRuleDocument['match']) => earlier[key] === undefined || JSON.stringify(earlier[key]) === JSON.stringify(later[key]);
  if (earlier.kind !== later.kind || (later.samples && !earlier.samples)) return false;
  if (earlier.types && !typesOf(later.types).every((type) => typesOf(earlier.types).includes(type))) return false;
  if (earlier.severity && !(later.severity ?? ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL']).every((s) => earlier.severity!.includes(s))) return false;
  if (!globsCover(earlier.clusters, later.clusters) || !globsCover(earlier.services, later.services) || !globsCover(earlier.repositories, later.repositories)) return false;
  if (!Object.entries(earlier.tags ?? {}).every(([key, value]) => later.tags?.[key] === value)) return false;
  // Image conditions: the earlier rule's must be absent or the same; scan statuses must be the same (absent means
  // completed scans and ACTIVE findings only).
  return (['minCounts', 'exploitAvailable', 'fixAvailable', 'minEpss', 'excludeRepositories'] as const).every(same) && JSON.stringify(earlier.scanStatuses) === JSON.stringify(later.scanStatuses);
}

/**
 * Parses and validates a policy: structure by schema, each action by name and by the action's own parameter schema,
 * type patterns against the known GuardDuty types, and rules an earlier rule hides completely. Every problem is reported
 * at once, by rule name.
 */
export function parsePolicy(text: string, source = 'policy.yml'): Policy {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new PolicyError(`${source}: not valid YAML: ${(error as Error).message}`);
  }
  const parsed = PolicySchema.safeParse(raw);
  if (!parsed.success) throw policyErrors(source, parsed.error.issues.map((issue) => `${where(source, issue.path, raw)}: ${issue.message}`));
  const problems: string[] = [];
  const names = new Set<string>();
  const rules = parsed.data.rules.map((rule, r) => {
    const at = (...path: PropertyKey[]) => where(source, ['rules', r, ...path], raw);
    if (names.has(rule.name)) problems.push(`${at('name')}: duplicate rule name "${rule.name}"`);
    names.add(rule.name);
    if (rule.match.kind === 'runtime') {
      for (const glob of unknownTypes(rule.match.types)) {
        problems.push(`${at('match', 'types')}: "${glob}" matches no GuardDuty Runtime Monitoring or ECS finding type (types are case-sensitive; the list: shared/policy/guardduty-finding-types.ts)`);
      }
    }
    const hiddenBy = parsed.data.rules.slice(0, r).find((earlier) => shadows(earlier.match, rule.match));
    if (hiddenBy) problems.push(`${at('match')}: never decides anything: rule "${hiddenBy.name}" comes first and matches every finding this rule matches`);
    const steps = rule.actions.flatMap((entry, a): PolicyStep[] => {
      const [name, given] = typeof entry === 'string' ? [entry, {}] : Object.entries(entry)[0]!;
      const action = findAction(name);
      if (!action) {
        problems.push(`${at('actions', a)}: unknown action "${name}" (known: ${actionNames().join(', ')})`);
        return [];
      }
      const kinds = action.kinds ?? ['runtime'];
      if (!kinds.includes(rule.match.kind)) {
        problems.push(`${at('actions', a)}: action "${name}" does not apply to ${rule.match.kind} findings (it serves ${kinds.join(', ')})`);
        return [];
      }
      const params = ACTION_PARAMS[name]!.safeParse(given ?? {});
      if (!params.success) {
        for (const issue of params.error.issues) problems.push(`${at('actions', a, name, ...issue.path)}: ${issue.message}`);
        return [];
      }
      return [{ action: name, params: params.data }];
    });
    const { actions: _actions, ...rest } = rule;
    return { ...rest, steps };
  });
  if (problems.length) throw policyErrors(source, problems);
  return { forceObserve: parsed.data.forceObserve, safety: parsed.data.safety, protect: parsed.data.protect, rules, acceptedRisks: parsed.data.acceptedRisks };
}

export function loadPolicyFile(path: string): Policy {
  return parsePolicy(readFileSync(path, 'utf8'), path);
}
