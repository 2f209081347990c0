/**
 * EventBridge event patterns: validated and matched as aws/event-ruler does (the matching library EventBridge uses),
 * so replay routes exactly as the deployed rules would and a pattern EventBridge refuses is refused here too.
 * Source read: github.com/aws/event-ruler at 337e8d9 (src/main/software/amazon/event/ruler/JsonRuleCompiler.java for
 * the refusals and their messages, Range.java, CIDR.java, input/WildcardParser.java); outcomes checked against
 * ../shared/reference/eventbridge-conformance.json (test/event-pattern-conformance.test.ts).
 * Operators: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
 * Not modelled: a plain string pattern that is an IP address also matching other notations of that address.
 */
type Pattern = { [key: string]: Pattern | unknown[] };

/** What PutRule answers with InvalidEventPatternException; the message is event-ruler's. */
export class InvalidEventPatternError extends Error {
  override name = 'InvalidEventPatternError';
}

const refuse = (message: string): never => {
  throw new InvalidEventPatternError(message);
};
const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

// ---------- validation: JsonRuleCompiler.parseObject / writeRules / processMatchExpression ----------

function checkObject(pattern: unknown, top = false): void {
  if (!isObject(pattern)) return refuse(top ? 'Filter is not an object' : 'Match value must be String, number, true, false, or null');
  const entries = Object.entries(pattern);
  if (entries.length === 0) refuse('Empty objects are not allowed');
  for (const [key, value] of entries) {
    if (key === '$or') {
      if (!Array.isArray(value)) refuse('It must be an Array followed with $or.');
      const alternatives = value as unknown[];
      if (!alternatives.every(isObject)) refuse('Only JSON object is allowed in array of $or relationship.');
      if (alternatives.length < 2) refuse('There must have at least 2 Objects in $or relationship.');
      alternatives.forEach((alternative) => checkObject(alternative));
    } else if (Array.isArray(value)) {
      if (value.length === 0) refuse('Empty arrays are not allowed');
      for (const item of value) {
        if (isObject(item)) checkMatcher(item);
        else if (Array.isArray(item)) refuse('Match value must be String, number, true, false, or null');
      }
    } else if (isObject(value)) checkObject(value);
    else refuse(`"${key}" must be an object or an array`);
  }
}

function checkString(value: unknown, message: string): void {
  if (typeof value !== 'string') refuse(message);
}

function checkMatcher(matcher: Record<string, unknown>): void {
  const [op, ...others] = Object.keys(matcher);
  if (op === undefined) return refuse('Match expression name not found');
  const arg = matcher[op];
  switch (op) {
    case 'exactly':
    case 'equals-ignore-case':
      checkString(arg, `${op === 'exactly' ? 'exact' : op} match pattern must be a string`);
      break;
    case 'prefix':
    case 'suffix':
      if (isObject(arg)) {
        const [inner, ...more] = Object.keys(arg);
        if (inner !== 'equals-ignore-case') refuse(`Unsupported ${op} pattern: ${inner}`);
        checkString(arg[inner!], 'equals-ignore-case match pattern must be a string');
        if (more.length) refuse('Only one key allowed in match expression');
      } else checkString(arg, `${op} match pattern must be a string`);
      break;
    case 'wildcard':
      checkString(arg, 'wildcard match pattern must be a string');
      wildcardRegExp(arg as string);
      break;
    case 'cidr':
      checkString(arg, 'prefix match pattern must be a string');
      cidrRange(arg as string);
      break;
    case 'exists':
      if (typeof arg !== 'boolean') refuse('exists match pattern must be either true or false.');
      break;
    case 'numeric':
      if (!Array.isArray(arg)) refuse('Value of numeric must be an array.');
      checkNumeric(arg as unknown[]);
      break;
    case 'anything-but':
      checkAnythingBut(arg);
      break;
    default:
      refuse(`Unrecognized match type ${op}`);
  }
  if (others.length) refuse(op === 'numeric' || op === 'anything-but' ? 'Too many elements in numeric expression' : 'Only one key allowed in match expression');
}

/** processNumericMatchExpression + completeNumericRange: `[op, n]` or `[> | >=, n, < | <=, n]`; bounds are JSON numbers. */
function checkNumeric(list: unknown[]): void {
  const [op, bound, topOp, top] = list;
  if (typeof op !== 'string') return refuse(`Invalid member in numeric match: ${String(op)}`);
  if (!['=', '>', '>=', '<', '<='].includes(op)) refuse(`Unrecognized numeric range operator: ${op}`);
  if (typeof bound !== 'number') refuse(`Value of ${op === '=' ? 'equals' : op} must be numeric`);
  if (list.length === 2) return;
  if (op !== '>' && op !== '>=') refuse('Too many elements in numeric expression');
  if (typeof topOp !== 'string') refuse(`Bad value in numeric range: ${String(topOp)}`);
  if (topOp !== '<' && topOp !== '<=') refuse(`Bad numeric range operator: ${String(topOp)}`);
  if (typeof top !== 'number') refuse(`Value of ${String(topOp)} must be numeric`);
  if (list.length > 4) refuse('Too many terms in numeric range expression');
  if ((bound as number) >= (top as number)) refuse('Bottom must be less than top'); // Range.ensureValidRange
}

function checkAnythingBut(arg: unknown): void {
  if (isObject(arg)) {
    const [op, ...more] = Object.keys(arg);
    if (op === undefined) return refuse('Anything-But expression name not found');
    if (!['equals-ignore-case', 'prefix', 'suffix', 'wildcard'].includes(op)) refuse(`Unsupported anything-but pattern: ${op}`);
    const values = arg[op];
    if (!Array.isArray(values) && typeof values !== 'string' && typeof values !== 'number') refuse('Value of anything-but must be an array or single string/number value.');
    const notString =
      op === 'equals-ignore-case' ? 'Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.' : op === 'wildcard' ? 'wildcard match pattern must be a string' : 'prefix/suffix match pattern must be a string';
    for (const value of Array.isArray(values) ? values : [values]) {
      checkString(value, notString);
      if ((op === 'prefix' || op === 'suffix') && value === '') refuse('Null prefix/suffix not allowed');
      if (op === 'wildcard') wildcardRegExp(value as string);
    }
    if (more.length) refuse('Too many elements in numeric expression');
    return;
  }
  if (Array.isArray(arg)) {
    if (!arg.every((v) => typeof v === 'string' || typeof v === 'number')) refuse('Inside anything but list, start|null|boolean is not supported.');
    const strings = arg.some((v) => typeof v === 'string');
    const numbers = arg.some((v) => typeof v === 'number');
    if (strings === numbers) refuse('Inside anything but list, either all values are number or string, mixed type is not supported');
    return;
  }
  if (typeof arg !== 'string' && typeof arg !== 'number') refuse('Value of anything-but must be an array or single string/number value.');
}

/** input/WildcardParser: `*` is any run of characters, `\*` and `\\` are literals, `**` and other escapes are refused. */
function wildcardRegExp(wildcard: string): RegExp {
  let source = '';
  for (let i = 0; i < wildcard.length; i++) {
    const c = wildcard[i]!;
    if (c === '*') {
      if (wildcard[i + 1] === '*') refuse(`Consecutive wildcard characters at pos ${i}`);
      source += '.*';
    } else if (c === '\\') {
      const next = wildcard[i + 1];
      if (next !== '*' && next !== '\\') refuse(`Invalid escape character at pos ${i}`);
      source += `\\${next}`;
      i++;
    } else source += c.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

/** An IPv4 or IPv6 address as a number and its width in bits, or undefined. */
function ipAddress(text: string): { value: bigint; bits: number } | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const octets = v4.slice(1).map(Number);
    return octets.every((o) => o <= 255) ? { value: octets.reduce((n, o) => (n << 8n) | BigInt(o), 0n), bits: 32 } : undefined;
  }
  const halves = text.split('::');
  if (halves.length > 2 || !/^[0-9a-fA-F:]+$/.test(text)) return undefined;
  const groups = halves.map((h) => (h ? h.split(':') : []));
  const missing = 8 - groups.flat().length;
  if ((halves.length === 1 && missing !== 0) || (halves.length === 2 && missing < 1)) return undefined;
  const all = halves.length === 2 ? [...groups[0]!, ...Array<string>(missing).fill('0'), ...groups[1]!] : groups[0]!;
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return { value: all.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n), bits: 128 };
}

/** CIDR.cidr: the first and last address of the block. */
function cidrRange(cidr: string): { low: bigint; high: bigint; bits: number } {
  const parts = cidr.split('/');
  if (parts.length !== 2) refuse("Malformed CIDR, one '/' required");
  if (!/^-?\d+$/.test(parts[1]!)) refuse('Malformed CIDR, mask bits must be an integer');
  const mask = Number(parts[1]);
  if (mask < 0) refuse('Malformed CIDR, mask bits must not be negative');
  const ip = ipAddress(parts[0]!) ?? refuse(`Invalid IP address: ${parts[0]}`);
  if (ip.bits === 32 && mask > 31) refuse('IPv4 mask bits must be < 32');
  if (ip.bits === 128 && mask > 127) refuse('IPv6 mask bits must be < 128');
  const hostBits = BigInt(ip.bits - mask);
  const low = (ip.value >> hostBits) << hostBits;
  return { low, high: low + (1n << hostBits) - 1n, bits: ip.bits };
}

/** Refuses a pattern EventBridge refuses (InvalidEventPatternError, with event-ruler's message). */
export function validatePattern(pattern: unknown): asserts pattern is Pattern {
  checkObject(pattern, true);
}

// ---------- matching: the event is flattened to leaf values per path; fields of one array element stay together ----------

/** Leaf values at a path: arrays are flattened, objects are intermediate nodes (no value), null is a value. */
function leaves(value: unknown): unknown[] {
  if (value === undefined || isObject(value)) return [];
  return Array.isArray(value) ? value.flatMap(leaves) : [value];
}

const objectsIn = (value: unknown): Record<string, unknown>[] => (isObject(value) ? [value] : Array.isArray(value) ? value.flatMap(objectsIn) : []);

function valueMatches(value: unknown, matcher: unknown): boolean {
  if (!isObject(matcher)) return value === matcher; // strings, numbers (4 equals 4.0), booleans, null
  const [op, arg] = Object.entries(matcher)[0]!;
  const text = typeof value === 'string' ? value : undefined;
  const ignoreCase = isObject(arg) ? String(arg['equals-ignore-case']).toLowerCase() : undefined;
  switch (op) {
    case 'exactly':
      return text === arg;
    case 'equals-ignore-case':
      return text?.toLowerCase() === String(arg).toLowerCase();
    case 'prefix':
      return text !== undefined && (ignoreCase === undefined ? text.startsWith(String(arg)) : text.toLowerCase().startsWith(ignoreCase));
    case 'suffix':
      return text !== undefined && (ignoreCase === undefined ? text.endsWith(String(arg)) : text.toLowerCase().endsWith(ignoreCase));
    case 'wildcard':
      return text !== undefined && wildcardRegExp(String(arg)).test(text);
    case 'cidr': {
      const range = cidrRange(String(arg));
      const ip = text === undefined ? undefined : ipAddress(text);
      return ip !== undefined && ip.bits === range.bits && ip.value >= range.low && ip.value <= range.high;
    }
    case 'numeric':
      return typeof value === 'number' && numericMatches(value, arg as (string | number)[]);
    case 'anything-but':
      return anythingButMatches(value, arg);
    default:
      return refuse(`Unrecognized match type ${op}`);
  }
}

function numericMatches(value: number, conditions: (string | number)[]): boolean {
  for (let i = 0; i < conditions.length; i += 2) {
    const op = conditions[i];
    const bound = conditions[i + 1] as number; // a number: validatePattern refuses anything else, as EventBridge does
    const ok = op === '>' ? value > bound : op === '>=' ? value >= bound : op === '<' ? value < bound : op === '<=' ? value <= bound : value === bound;
    if (!ok) return false;
  }
  return true;
}

/** Any value (null included) but the ones listed; the object forms exclude strings with that prefix, suffix, case or wildcard. */
function anythingButMatches(value: unknown, arg: unknown): boolean {
  if (!isObject(arg)) return !(Array.isArray(arg) ? arg : [arg]).some((excluded) => excluded === value);
  const [op, excluded] = Object.entries(arg)[0]!;
  const list: unknown[] = Array.isArray(excluded) ? excluded : [excluded];
  return !list.some((e) => valueMatches(value, { [op]: e }));
}

function objectMatches(event: Record<string, unknown>, pattern: Pattern): boolean {
  return Object.entries(pattern).every(([key, sub]) => {
    if (key === '$or') return (sub as unknown as Pattern[]).some((alternative) => objectMatches(event, alternative));
    const value: unknown = event[key];
    if (Array.isArray(sub)) {
      const values = leaves(value);
      return sub.some((m) => (isObject(m) && 'exists' in m ? (values.length > 0) === m.exists : values.some((v) => valueMatches(v, m))));
    }
    // A nested pattern matches within one element of an array of objects; against no object, only absence can match.
    const objects = objectsIn(value);
    return objects.length ? objects.some((o) => objectMatches(o, sub)) : objectMatches({}, sub);
  });
}

/** Whether EventBridge would deliver the event to a rule with this pattern; refuses a pattern EventBridge refuses. */
export function matchesPattern(event: unknown, pattern: unknown): boolean {
  validatePattern(pattern);
  return objectMatches(isObject(event) ? event : {}, pattern);
}
export type { Pattern };
