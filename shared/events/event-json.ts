/**
 * JSON text of an event however deep or large it is: the same text `JSON.stringify` gives, built with an explicit stack
 * (so a value nested thousands deep cannot overflow the call stack), optionally cut at a byte budget. Never throws:
 * cycles, BigInts and throwing `toJSON`s come out as strings naming them.
 */
export interface EventJson {
  text: string;
  /** UTF-8 bytes of `text`. */
  bytes: number;
  /** True when the budget cut the text short (it is then not valid JSON). */
  truncated: boolean;
}

type Frame = { open: object; keys: string[] | null; index: number; items: unknown[] | Record<string, unknown>; first: boolean };

function scalar(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return String(value);
    case 'bigint':
      return JSON.stringify(`${value}n`);
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    default:
      return value === null ? 'null' : undefined;
  }
}

export function eventJson(value: unknown, maxBytes = Number.POSITIVE_INFINITY): EventJson {
  const out: string[] = [];
  let bytes = 0;
  let truncated = false;
  const emit = (text: string): boolean => {
    const size = Buffer.byteLength(text);
    if (bytes + size > maxBytes) {
      // Keep what fits of this piece, never splitting a surrogate pair.
      let room = Math.max(0, Math.floor((maxBytes - bytes) / 3));
      if (room > 0 && /[\uD800-\uDBFF]/.test(text[room - 1] ?? '')) room -= 1;
      const part = text.slice(0, room);
      out.push(part);
      bytes += Buffer.byteLength(part);
      truncated = true;
      return false;
    }
    out.push(text);
    bytes += size;
    return true;
  };
  const seen = new WeakSet<object>();
  const stack: Frame[] = [];

  /** Emits a scalar or opens a container; false once the budget is spent. */
  const visit = (raw: unknown, inArray: boolean): boolean | 'skip' => {
    let current = raw;
    try {
      const toJSON = (current as { toJSON?: unknown } | null)?.toJSON;
      if (typeof toJSON === 'function') current = (toJSON as () => unknown).call(current);
    } catch {
      return emit(JSON.stringify('[toJSON threw]'));
    }
    const text = scalar(current);
    if (text !== undefined) return emit(text);
    if (typeof current !== 'object' || current === null) return inArray ? emit('null') : 'skip';
    if (seen.has(current)) return emit(JSON.stringify('[circular]'));
    seen.add(current);
    const isArray = Array.isArray(current);
    stack.push({ open: current, keys: isArray ? null : Object.keys(current), index: 0, items: current as Record<string, unknown>, first: true });
    return emit(isArray ? '[' : '{');
  };

  if (visit(value, true) === 'skip') return { text: 'null', bytes: 4, truncated: false };
  while (stack.length > 0 && !truncated) {
    const frame = stack[stack.length - 1]!;
    const { keys } = frame;
    const length = keys ? keys.length : (frame.items as unknown[]).length;
    if (frame.index >= length) {
      stack.pop();
      seen.delete(frame.open);
      emit(keys ? '}' : ']');
      continue;
    }
    const key = keys ? keys[frame.index]! : undefined;
    frame.index += 1;
    let item: unknown;
    try {
      item = key !== undefined ? (frame.items as Record<string, unknown>)[key] : (frame.items as unknown[])[frame.index - 1];
    } catch {
      item = '[getter threw]';
    }
    if (key !== undefined) {
      const probe = scalar(item);
      // Object members that JSON leaves out (undefined, functions, symbols) are left out here too.
      if (probe === undefined && (typeof item !== 'object' || item === null) && typeof (item as { toJSON?: unknown } | null)?.toJSON !== 'function') continue;
    }
    const separator = frame.first ? '' : ',';
    frame.first = false;
    if (!emit(key !== undefined ? `${separator}${JSON.stringify(key)}:` : separator)) break;
    visit(item, key === undefined);
  }
  return { text: out.join(''), bytes, truncated };
}
