import { ecrRegistryOf, parseImageReference } from '../image/image-reference';
import type { Notification } from '../notification';

/** The account a notification's resources are in: the finding's, else the task's, else the image registry's. */
function resourceAccountOf(notification: Notification): string | undefined {
  const fromTask = notification.resource.taskArn?.split(':')[4];
  const fromImage = notification.resource.images?.map((image) => ecrRegistryOf(parseImageReference(image).registry)?.account).find(Boolean);
  return notification.finding?.account || fromTask || fromImage || undefined;
}

/**
 * A console URL opens a page in whichever account the browser is signed in to: AWS has no console URL that switches
 * accounts by itself. What AWS documents is the switch-role link, `https://signin.aws.amazon.com/switchrole?account=…&roleName=…`
 * (IAM User Guide, "Granting a user permissions to switch roles", Role link:
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_permissions-to-switch.html). The responder knows no
 * role of the reader's, so only the account is filled in; and its own member roles are no use to a person: the same
 * page says "You cannot switch roles in the AWS Management Console to a role that requires an ExternalId value".
 * IAM Identity Center users open the account from their access portal instead.
 */
function switchRoleUrl(account: string): string {
  return `https://signin.aws.amazon.com/switchrole?account=${account}`;
}

/**
 * For a resource in another account than the responder's (a member's): the switch-role link next to the console
 * links, and a note saying plainly that those links open in the account one is signed in to. The switch-role page is
 * the commercial partition's; elsewhere only the note is given.
 */
export function withMemberAccountAccess(notification: Notification, home: { account: string; partition: string }): Notification {
  const account = resourceAccountOf(notification);
  if (!account || account === home.account || notification.links.length === 0) return notification;
  const link = home.partition === 'aws' ? [{ label: `Switch role into account ${account} (then open the links above)`, url: switchRoleUrl(account) }] : [];
  const note =
    `The console links open in the account your browser is signed in to, and these resources are in account ${account}: ` +
    'AWS has no console link that switches accounts. Switch into it first (a role of yours there: the console cannot use ' +
    "the responder's member roles, which require an external id), or open it from the IAM Identity Center access portal.";
  return { ...notification, links: [...notification.links, ...link], notes: [...notification.notes, note] };
}
