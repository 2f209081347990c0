import { deploymentHome, type ResponderConfig } from '../config';
import type { Ledger } from '../ledger';
import type { EventResult } from '../pipeline';
import type { Home } from './home';
import { InvalidEventError } from './invalid-event';

export type Parsed<T> = { ok: true; value: T } | { ok: false; result: EventResult };

/**
 * Bad input, or input from outside the deployment's account and region, gets an error naming the field and no action;
 * the event is kept in the ledger for inspection (the one write it causes). Any other error propagates (the platform
 * retries, then the failure queue keeps it).
 */
export async function parseOrReject<T>(
  event: unknown,
  deps: { ledger: Ledger; config: Pick<ResponderConfig, 'topicArn'> },
  parse: (event: unknown, home: Home) => T,
): Promise<Parsed<T>> {
  try {
    return { ok: true, value: parse(event, deploymentHome(deps.config)) };
  } catch (error) {
    if (!(error instanceof InvalidEventError)) throw error;
    const id = (event as { id?: unknown } | null)?.id;
    await deps.ledger.rejectEvent(typeof id === 'string' ? id : '', error.message, event);
    return { ok: false, result: { finding: null, decision: null, actions: [], notifications: 0, error: error.message } };
  }
}
