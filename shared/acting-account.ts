import { AccountNotAllowed, MemberRoleUnavailable } from './aws/member-accounts';
import type { PipelineDeps } from './pipeline';

export type Acting = { ok: true; deps: PipelineDeps } | { ok: false; why: string };

/**
 * The dependencies a response acts with: the responder's own clients for its own account, or (an organization-wide
 * deployment) a member's through the member role. An account not allowed, or a member role that cannot be assumed,
 * is a refusal: said once, in the result and the notification, and never retried (nothing transient about it).
 */
export async function actingIn(deps: PipelineDeps, where: { account: string; region: string; id: string }): Promise<Acting> {
  if (!deps.memberAccounts) return { ok: true, deps };
  try {
    return { ok: true, deps: { ...deps, clients: await deps.memberAccounts.clientsFor(deps.clients, where.account, where.region, where.id) } };
  } catch (error) {
    if (error instanceof AccountNotAllowed || error instanceof MemberRoleUnavailable) return { ok: false, why: `NOT ACTED ON: ${error.message}` };
    throw error;
  }
}
