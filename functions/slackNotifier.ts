import { Logger } from '@aws-lambda-powertools/logger';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SNSEvent } from 'aws-lambda';
import { createSlackNotifier } from '../shared/notify/slack-delivery';

/**
 * Lambda subscribed to the notifications SNS topic; posts each notification to Slack.
 * Only the secret's id/ARN is in the environment: the webhook URL itself is a credential and lives in Secrets Manager.
 */
const logger = new Logger({ serviceName: 'ecs-threat-responder' });
const secretId = process.env.SLACK_WEBHOOK_SECRET_ID;

// Built once per container so the secret cache survives between invocations.
const notify = secretId
  ? createSlackNotifier({ secrets: new SecretsManagerClient({ maxAttempts: 4 }), secretId, logger })
  : undefined;

export const handler = async (event: SNSEvent): Promise<void> => {
  if (!notify) throw new Error('SLACK_WEBHOOK_SECRET_ID is not set');
  await notify(event);
};
