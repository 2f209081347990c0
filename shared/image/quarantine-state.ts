import type { ActionRecord, Ledger } from '../ledger';

export const QUARANTINE_ACTION = 'quarantine-image';
/** Mechanisms that hold a quarantine; a failed or refused step holds nothing. */
const HOLDING_MECHANISMS = new Set(['archive', 'image-tags']);

export type QuarantineState =
  | { state: 'none' }
  | { state: 'enforced' | 'observed'; ledgerId: string; policyRule: string; mechanism: string; reason: string; at: string };

/** Cached per Lambda container for a short time: a task start emits several events, all asking the same question. */
const POSITIVE_TTL_MS = 60_000;
/** Kept shorter: a digest quarantined a moment ago must not slip through on a stale "clean". */
const NEGATIVE_TTL_MS = 10_000;

type Cache = Map<string, { state: QuarantineState; until: number }>;
/** Keyed by ledger, so two deployments in one process (tests, replay) never share answers. */
const caches = new WeakMap<Ledger, Cache>();

function cacheOf(ledger: Ledger): Cache {
  let cache = caches.get(ledger);
  if (!cache) {
    cache = new Map();
    caches.set(ledger, cache);
  }
  return cache;
}

function stateOf(records: ActionRecord[]): QuarantineState {
  const quarantine = records.filter((r) => r.action === QUARANTINE_ACTION && HOLDING_MECHANISMS.has(r.mechanism ?? ''));
  // `intent`: a crash between write-ahead and the change; treat as held (the safe side), a retry finishes it.
  const enforced = quarantine.find((r) => r.mode === 'enforce' && (r.status === 'applied' || r.status === 'intent' || r.status === 'skipped'));
  const observed = quarantine.find((r) => r.status === 'planned');
  const held = enforced ?? observed;
  if (!held) return { state: 'none' };
  return { state: enforced ? 'enforced' : 'observed', ledgerId: held.ledgerId, policyRule: held.policyRule, mechanism: held.mechanism ?? '', reason: held.reason, at: held.updatedAt };
}

/**
 * Whether the ledger holds a quarantine of this image (released ones do not count). `imageId` is its imageLedgerId,
 * which names the registry's account and region: a member's quarantine is never another account's.
 */
export async function quarantineStateOf(ledger: Ledger, imageId: string, now = Date.now()): Promise<QuarantineState> {
  const cache = cacheOf(ledger);
  const cached = cache.get(imageId);
  if (cached && cached.until > now) return cached.state;
  const state = stateOf(await ledger.recordsForTarget(imageId));
  cache.set(imageId, { state, until: now + (state.state === 'none' ? NEGATIVE_TTL_MS : POSITIVE_TTL_MS) });
  return state;
}

/** Called after this container quarantines or releases a digest, so its own next answer is fresh. */
export function forgetQuarantineState(ledger: Ledger, imageId: string): void {
  cacheOf(ledger).delete(imageId);
}
