import { PublishCommand } from '@aws-sdk/client-sns';
import type { AwsClients } from '../aws/clients';
import type { ActionOutcome, Notification } from '../notification';

/** SNS refuses a message over 256 KiB (body plus attributes); stay well below it. */
export const MAX_MESSAGE_BYTES = 240 * 1024;
const MAX_FIELD = 2000;

function clip(text: string | undefined, max = MAX_FIELD): string | undefined {
  return text && text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Fits a notification into SNS's limit by shortening attacker-sized fields, never by dropping actions. */
export function fitForSns(notification: Notification): string {
  let body = JSON.stringify(notification);
  if (Buffer.byteLength(body) <= MAX_MESSAGE_BYTES) return body;
  const fitted: Notification = {
    ...notification,
    indicators: {
      ...notification.indicators,
      process: clip(notification.indicators.process),
      executablePath: clip(notification.indicators.executablePath),
      commandLine: clip(notification.indicators.commandLine),
      domains: notification.indicators.domains.slice(0, 20).map((d) => clip(d, 255)!),
      remoteIps: notification.indicators.remoteIps.slice(0, 20),
    },
    actions: notification.actions.map((a) => ({ ...a, detail: clip(a.detail, 500) })),
    notes: [...notification.notes, 'Some attacker-controlled fields were shortened to fit SNS; the full finding is in the evidence bucket.'],
  };
  body = JSON.stringify(fitted);
  if (Buffer.byteLength(body) > MAX_MESSAGE_BYTES) throw new Error(`notification is ${Buffer.byteLength(body)} bytes even after shortening`);
  return body;
}

/** A Subject is under 100 characters, one line (SNS rejects others). E-mail subscribers see it. */
export function subjectOf(notification: Notification): string {
  const oneLine = `[ecs-threat-responder] ${notification.headline}`.replace(/[\r\n]+/g, ' ');
  return oneLine.length > 99 ? `${oneLine.slice(0, 98)}…` : oneLine;
}

export async function publishNotification(clients: AwsClients, topicArn: string, notification: Notification): Promise<ActionOutcome> {
  const out = await clients.sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Subject: subjectOf(notification),
      Message: fitForSns(notification),
      MessageAttributes: {
        kind: { DataType: 'String', StringValue: notification.kind },
        containment: { DataType: 'String', StringValue: notification.containment.state },
        severity: { DataType: 'String', StringValue: notification.finding?.severityLabel ?? 'NONE' },
      },
    }),
  );
  return { action: 'notify', status: 'applied', mechanism: 'sns', detail: `published message ${out.MessageId ?? ''}`.trim() };
}
