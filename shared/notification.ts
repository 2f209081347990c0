import type { ActionOutcomeSchema, NotificationSchema } from './notification-schema';
import type * as z from './zod-mini';

/**
 * The one notification model. It is published to SNS as JSON and rendered by every channel (Slack, e-mail via SNS).
 * Versioned: consumers check `schema` and `version`; additive changes keep the version, breaking ones bump it. The
 * schema itself is in ./notification-schema.ts: code that builds notifications imports only types from there.
 */
export const NOTIFICATION_SCHEMA_ID = 'ecs-threat-responder.notification';
export const NOTIFICATION_SCHEMA_VERSION = 1;

/**
 * Lone surrogates replaced by U+FFFD (String#toWellFormed, ES2024): event strings may hold them, and SNS, Slack and
 * e-mail want well-formed UTF-8.
 */
export function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

export const ACTION_STATUSES = ['applied', 'skipped', 'failed', 'planned', 'unsupported'] as const;
export type ActionStatus = (typeof ACTION_STATUSES)[number];

export type ActionOutcome = z.infer<typeof ActionOutcomeSchema>;
export type Notification = z.infer<typeof NotificationSchema>;
