import { createHash } from 'node:crypto';

/**
 * Deterministic resource ids: every id is a hash of what the resource is called (or of a creation counter),
 * so a seeded account prints the same ids on every run and test output is reproducible.
 */
export function hashHex(seed: string, length: number): string {
  let out = '';
  for (let i = 0; out.length < length; i++) {
    out += createHash('sha256').update(`${seed}#${i}`).digest('hex');
  }
  return out.slice(0, length);
}

export function sha256Digest(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/** A UUID-shaped id (version 4 layout) derived from the seed. */
export function deterministicUuid(seed: string): string {
  const h = hashHex(seed, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function macAddress(seed: string): string {
  const h = hashHex(seed, 10);
  // 0e: locally administered unicast, like the MACs AWS hands out.
  return ['0e', ...(h.match(/../g) ?? [])].join(':');
}

/** Hands out unique ids: a name-derived id, or a counter-derived one when the same name repeats. */
export class IdSource {
  private readonly used = new Set<string>();
  private counter = 0;

  id(prefix: string, length: number, seed?: string): string {
    let candidate = seed === undefined ? undefined : `${prefix}${hashHex(`${prefix}${seed}`, length)}`;
    while (candidate === undefined || this.used.has(candidate)) {
      candidate = `${prefix}${hashHex(`${prefix}${seed ?? ''}:${this.counter++}`, length)}`;
    }
    this.used.add(candidate);
    return candidate;
  }

  uuid(seed?: string): string {
    let candidate = seed === undefined ? undefined : deterministicUuid(seed);
    while (candidate === undefined || this.used.has(candidate)) {
      candidate = deterministicUuid(`${seed ?? 'uuid'}:${this.counter++}`);
    }
    this.used.add(candidate);
    return candidate;
  }
}
