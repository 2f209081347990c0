/**
 * EventBridge event-pattern matching, for routing replayed events exactly as the deployed rules would.
 * Covers what serverless.yml uses and the common operators (exact values, prefix, suffix, numeric, exists,
 * anything-but, equals-ignore-case). An unknown operator throws rather than silently matching.
 * Reference: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
 */
type Pattern = { [key: string]: Pattern | unknown[] };

function numericMatches(value: unknown, conditions: unknown[]): boolean {
  if (typeof value !== 'number') return false;
  for (let i = 0; i < conditions.length; i += 2) {
    const op = conditions[i];
    const bound = Number(conditions[i + 1]);
    const ok = op === '>' ? value > bound : op === '>=' ? value >= bound : op === '<' ? value < bound : op === '<=' ? value <= bound : op === '=' ? value === bound : undefined;
    if (ok === undefined) throw new Error(`unsupported numeric operator ${String(op)}`);
    if (!ok) return false;
  }
  return true;
}

function valueMatches(value: unknown, matcher: unknown): boolean {
  if (matcher === null || typeof matcher !== 'object') return value === matcher;
  const [op, arg] = Object.entries(matcher)[0] ?? [];
  switch (op) {
    case 'prefix':
      return typeof value === 'string' && value.startsWith(String(arg));
    case 'suffix':
      return typeof value === 'string' && value.endsWith(String(arg));
    case 'equals-ignore-case':
      return typeof value === 'string' && value.toLowerCase() === String(arg).toLowerCase();
    case 'numeric':
      return numericMatches(value, arg as unknown[]);
    case 'anything-but':
      return Array.isArray(arg) ? !arg.some((a) => valueMatches(value, a)) : !valueMatches(value, arg);
    default:
      throw new Error(`unsupported event-pattern operator ${String(op)}`);
  }
}

function fieldMatches(value: unknown, matchers: unknown[]): boolean {
  const exists = matchers.find((m) => m !== null && typeof m === 'object' && 'exists' in m) as { exists: boolean } | undefined;
  if (exists) return (value !== undefined) === exists.exists;
  if (value === undefined) return false;
  const values = Array.isArray(value) ? value : [value];
  return values.some((v) => matchers.some((m) => valueMatches(v, m)));
}

export function matchesPattern(event: unknown, pattern: Pattern): boolean {
  const record = (event ?? {}) as Record<string, unknown>;
  return Object.entries(pattern).every(([key, sub]) => {
    const value = record[key];
    if (Array.isArray(sub)) return fieldMatches(value, sub);
    if (value === null || typeof value !== 'object') return false;
    // A pattern object matches an array of objects when any element matches (Inspector's detail.resources[].type).
    if (Array.isArray(value)) return value.some((item) => matchesPattern(item, sub));
    return matchesPattern(value, sub);
  });
}
export type { Pattern };
