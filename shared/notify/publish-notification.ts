import type { AwsClients } from '../aws/clients';
import { deferredSdk } from '../aws/deferred';
import { awsErrorCode, awsErrorMessage } from '../aws/errors';
import { bounded } from '../events/aws-formats';
import { wellFormed, type ActionOutcome, type Notification } from '../notification';
import { withMemberAccountAccess } from './console-access';

/**
 * SNS refuses a message over 256 KiB, body plus attributes (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html:
 * "at most 256 KB in size (262,144 bytes, not 262,144 characters)"); stay well below it.
 */
export const MAX_MESSAGE_BYTES = 240 * 1024;
/** Publish's Subject: "UTF-8 text with no line breaks or control characters, and less than 100 characters long" (API_Publish). */
const MAX_SUBJECT_CHARS = 99;
const SHORTENED_NOTE = 'Some fields were shortened to fit SNS; the full finding is in the evidence bucket and the ledger.';

/** Enumerated or fixed-size fields, kept whole so the message still validates against its schema. */
const KEPT = new Set(['schema', 'kind', 'status', 'state', 'mode', 'at', 'severityLabel']);

/** Every string cut to `max`, every list but `actions` cut to `items`; numbers, booleans and keys as they were. */
function shorten(value: unknown, max: number, items: number, key = ''): unknown {
  if (typeof value === 'string') return KEPT.has(key) ? value : bounded(value, max);
  if (Array.isArray(value)) return (key === 'actions' ? value : value.slice(0, items)).map((v) => shorten(v, max, items));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shorten(v, k === 'headline' ? 300 : max, items, k)]));
  return value;
}

const fits = (body: string) => Buffer.byteLength(body) <= MAX_MESSAGE_BYTES;

/**
 * Fits a notification into SNS's limit by shortening fields, never by dropping an action: every string is cut,
 * harder each round, until the message fits. Never throws; the last resort keeps the headline, containment and actions.
 */
export function fitForSns(notification: Notification): string {
  const body = JSON.stringify(notification);
  if (fits(body)) return body;
  for (let max = 4000; max >= 16; max = Math.floor(max / 2)) {
    const fitted = shorten({ ...notification, notes: [...notification.notes, SHORTENED_NOTE] }, max, Math.max(5, max / 40)) as Notification;
    fitted.notes[fitted.notes.length - 1] = SHORTENED_NOTE;
    const text = JSON.stringify(fitted);
    if (fits(text)) return text;
  }
  // Thousands of actions: keep each one's verdict, drop their words.
  return JSON.stringify({
    ...(shorten({ ...notification, actions: [] }, 16, 5) as Notification),
    actions: notification.actions.slice(0, 2000).map((a) => ({ action: bounded(a.action, 40), status: a.status })),
    notes: [SHORTENED_NOTE, `${notification.actions.length} actions; see the ledger for their details.`],
  });
}

/**
 * One line for e-mail subscribers, as SNS requires: no control characters or line breaks (anything in Unicode's
 * control and line/paragraph-separator categories becomes a space), lone surrogates replaced, under 100 characters.
 */
export function subjectOf(notification: Notification): string {
  const clean = wellFormed(`[ecs-threat-responder] ${notification.headline}`).replace(/[\p{Cc}\p{Zl}\p{Zp}]+/gu, ' ').replace(/\s+/g, ' ').trim();
  return bounded(clean, MAX_SUBJECT_CHARS);
}

/**
 * Publishes one notification. Never throws: it runs after actions were applied, so a failure is returned as a
 * `failed` outcome with AWS's error code, for the ledger and the caller's retry, and never hides what was done.
 * The topic is the responder's own, so here every kind of message learns whether its resources are in a member's
 * account, and gets the switch-role link and the console's limit said (console-access.ts).
 */
export async function publishNotification(clients: AwsClients, topicArn: string, given: Notification): Promise<ActionOutcome> {
  try {
    const [, partition = '', , , account = ''] = topicArn.split(':');
    const notification = withMemberAccountAccess(given, { account, partition });
    const attribute = (value: string) => ({ DataType: 'String', StringValue: bounded(wellFormed(value), 256) });
    const out = await clients.sns.send(
      new (deferredSdk().PublishCommand)({
        TopicArn: topicArn,
        Subject: subjectOf(notification),
        Message: fitForSns(notification),
        MessageAttributes: {
          kind: attribute(notification.kind),
          containment: attribute(notification.containment.state),
          severity: attribute(notification.finding?.severityLabel ?? 'NONE'),
        },
      }),
    );
    return { action: 'notify', status: 'applied', mechanism: 'sns', detail: `published message ${out.MessageId ?? ''}`.trim() };
  } catch (error) {
    return { action: 'notify', status: 'failed', mechanism: 'sns', errorCode: awsErrorCode(error), detail: `SNS Publish failed: ${bounded(awsErrorMessage(error), 500)}` };
  }
}
