import type { Ledger } from '../ledger';
import type { EventResult } from '../pipeline';
import { InvalidEventError } from './invalid-event';

export type Parsed<T> = { ok: true; value: T } | { ok: false; result: EventResult };

/**
 * Bad input gets an error naming the field and no action, and the event is kept in the ledger for inspection. Any
 * other error propagates (the platform retries, then the failure queue keeps it).
 */
export async function parseOrReject<T>(event: unknown, ledger: Ledger, parse: (event: unknown) => T): Promise<Parsed<T>> {
  try {
    return { ok: true, value: parse(event) };
  } catch (error) {
    if (!(error instanceof InvalidEventError)) throw error;
    const id = (event as { id?: unknown } | null)?.id;
    await ledger.rejectEvent(typeof id === 'string' && id ? id : `unidentified-${Date.now()}`, error.message, event);
    return { ok: false, result: { finding: null, decision: null, actions: [], notifications: 0, error: error.message } };
  }
}
