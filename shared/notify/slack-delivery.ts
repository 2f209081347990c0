import { Logger } from '@aws-lambda-powertools/logger';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SNSEvent } from 'aws-lambda';
import type { Notification } from '../notification';
import { NotificationSchema } from '../notification-schema';
import { esc, renderSlackMessage } from './slack-message';
import { postToSlack, SlackWebhookError } from './slack-webhook';

/** How long the webhook URL is cached between invocations of a warm Lambda. */
export const WEBHOOK_CACHE_SECONDS = 300;

export interface SlackNotifierDeps {
  secrets: SecretsManagerClient;
  /** Name or ARN of the secret holding the webhook URL (bare, or JSON `{"webhookUrl": "..."}`). */
  secretId: string;
  logger?: Logger;
  post?: typeof postToSlack;
}

type Parsed = { ok: true; notification: Notification } | { ok: false; problems: { field: string; problem: string }[] };

/** Parses and validates one SNS message. Problems name the field, never echo its (possibly hostile or huge) value. */
export function parseNotificationMessage(message: string): Parsed {
  let json: unknown;
  try {
    json = JSON.parse(message);
  } catch {
    return { ok: false, problems: [{ field: '(message)', problem: 'not JSON' }] };
  }
  const result = NotificationSchema.safeParse(json);
  if (result.success) return { ok: true, notification: result.data };
  return {
    ok: false,
    problems: result.error.issues.slice(0, 20).map((issue) => ({
      field: issue.path.map(String).join('.') || '(root)',
      problem: issue.message,
    })),
  };
}

/** Reads the webhook URL out of the secret value; errors never include the value. */
export function webhookUrlFromSecret(value: string | Uint8Array | undefined, secretId: string): string {
  const text = (typeof value === 'string' ? value : value ? new TextDecoder().decode(value) : '').trim();
  let url: unknown = text;
  if (text.startsWith('{')) {
    try {
      url = (JSON.parse(text) as { webhookUrl?: unknown }).webhookUrl;
    } catch {
      url = undefined; // JSON.parse errors quote the input, which is the secret
    }
  }
  if (typeof url !== 'string' || !/^https?:\/\//.test(url)) {
    throw new Error(`Secret ${secretId} does not hold a Slack webhook URL (expected the URL or {"webhookUrl": "..."})`);
  }
  return url;
}

export function createSlackNotifier(deps: SlackNotifierDeps): (event: SNSEvent) => Promise<void> {
  const logger = deps.logger ?? new Logger({ serviceName: 'ecs-threat-responder' });
  const post = deps.post ?? postToSlack;
  // One provider per notifier: its cache is what makes warm invocations skip Secrets Manager.
  const secrets = new SecretsProvider({ awsSdkV3Client: deps.secrets });

  const webhookUrl = async () =>
    webhookUrlFromSecret(await secrets.get(deps.secretId, { maxAge: WEBHOOK_CACHE_SECONDS }), deps.secretId);

  return async (event) => {
    const failures: string[] = [];
    for (const record of event.Records) {
      const messageId = record.Sns.MessageId;
      const parsed = parseNotificationMessage(record.Sns.Message);
      if (!parsed.ok) {
        // Retrying cannot make a malformed message valid, so it is logged and dropped rather than failing the batch.
        logger.error('Skipping SNS message that is not a valid notification', { messageId, problems: parsed.problems });
        continue;
      }
      const n = parsed.notification;
      const message = renderSlackMessage(n);
      try {
        const url = await webhookUrl();
        try {
          const result = await post(url, message);
          logger.info('Posted notification to Slack', { messageId, ledgerId: n.ledgerId, kind: n.kind, ...result });
        } catch (err) {
          // A 400 means Slack refused our blocks (a rendering bug); the headline alone still reaches the channel.
          if (!(err instanceof SlackWebhookError) || err.status !== 400) throw err;
          logger.warn('Slack refused the rich message; posting the text-only fallback', {
            messageId,
            ledgerId: n.ledgerId,
            slackError: err.body,
          });
          const note = `(Rich message refused by Slack: ${err.body ?? 'HTTP 400'}. Ledger id ${n.ledgerId})`;
          await post(url, { text: `${message.text}\n${esc(note)}` });
        }
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        logger.error('Slack delivery failed', { messageId, ledgerId: n.ledgerId, reason });
        failures.push(`${messageId}: ${reason}`);
      }
    }
    // Throwing hands the event back to Lambda's retries and then the on-failure destination.
    if (failures.length > 0) throw new Error(`Slack delivery failed for ${failures.length} message(s): ${failures.join('; ')}`);
  };
}
