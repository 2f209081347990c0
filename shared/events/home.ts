import { InvalidEventError } from './invalid-event';
import type { Origin } from './aws-formats';

/** The deployment's own account, region and partition: what every event must come from. */
export interface Home {
  account: string;
  region: string;
  partition: string;
  /**
   * Organization-wide: events of any account and region of the partition are accepted here; the account is checked
   * against the allowed members when the responder acts, and actions run in the event's own region.
   */
  organizationWide?: boolean;
}

/**
 * The one place that says which events are ours: the deployment's own account and region (and so its partition).
 * An organization-wide deployment accepts any account and region of its partition here; which accounts it acts in is
 * decided after, by shared/aws/member-accounts.ts (a member listed, or of the organization; anything else refused).
 */
export function assertOurs(origin: Origin, home: Home, fields: { account: string; region: string }): void {
  if (origin.partition !== undefined && origin.partition !== home.partition) {
    throw new InvalidEventError(fields.account, `is in partition ${origin.partition}; this deployment is in ${home.partition}`);
  }
  if (home.organizationWide) return;
  if (origin.account !== home.account) throw new InvalidEventError(fields.account, `is ${origin.account}; this deployment acts only in its own account ${home.account}`);
  if (origin.region !== home.region) throw new InvalidEventError(fields.region, `is ${origin.region}; this deployment acts only in its own region ${home.region}`);
}
