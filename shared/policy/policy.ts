import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { actionNames, findAction } from '../actions/registry';
import { PolicySchema, type Safety, type AcceptedRisk, type PolicyDocument, type PolicyRuleDocument } from './policy-schema';

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

function where(source: string, path: PropertyKey[]): string {
  return `${source} ${path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '')}`;
}

/** Parses and validates a policy: structure by schema, each action by name and by the action's own parameter schema. */
export function parsePolicy(text: string, source = 'policy.yml'): Policy {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new PolicyError(`${source}: not valid YAML: ${(error as Error).message}`);
  }
  const parsed = PolicySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PolicyError(`${where(source, issue.path)}: ${issue.message}`);
  }
  const names = new Set<string>();
  const rules = parsed.data.rules.map((rule, r) => {
    if (names.has(rule.name)) throw new PolicyError(`${where(source, ['rules', r, 'name'])}: duplicate rule name "${rule.name}"`);
    names.add(rule.name);
    const steps = rule.actions.map((entry, a): PolicyStep => {
      const [name, given] = typeof entry === 'string' ? [entry, {}] : Object.entries(entry)[0]!;
      const action = findAction(name);
      if (!action) {
        throw new PolicyError(`${where(source, ['rules', r, 'actions', a])}: unknown action "${name}" (known: ${actionNames().join(', ')})`);
      }
      const kinds = action.kinds ?? ['runtime'];
      if (!kinds.includes(rule.match.kind)) {
        throw new PolicyError(`${where(source, ['rules', r, 'actions', a])}: action "${name}" does not apply to ${rule.match.kind} findings (it serves ${kinds.join(', ')})`);
      }
      const params = action.params.safeParse(given ?? {});
      if (!params.success) {
        const issue = params.error.issues[0]!;
        throw new PolicyError(`${where(source, ['rules', r, 'actions', a, name, ...issue.path])}: ${issue.message}`);
      }
      return { action: name, params: params.data };
    });
    const { actions: _actions, ...rest } = rule;
    return { ...rest, steps };
  });
  return { forceObserve: parsed.data.forceObserve, safety: parsed.data.safety, protect: parsed.data.protect, rules, acceptedRisks: parsed.data.acceptedRisks };
}

export function loadPolicyFile(path: string): Policy {
  return parsePolicy(readFileSync(path, 'utf8'), path);
}
