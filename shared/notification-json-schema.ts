import { NOTIFICATION_SCHEMA_ID, NOTIFICATION_SCHEMA_VERSION } from './notification';
import { NotificationSchema } from './notification-schema';
import * as z from './zod-mini';

/** The notification model as JSON Schema, for subscribers that are not this code (SQS consumers, SIEMs). */
export function notificationJsonSchema(): Record<string, unknown> {
  return {
    $id: `urn:${NOTIFICATION_SCHEMA_ID}:v${NOTIFICATION_SCHEMA_VERSION}`,
    title: `${NOTIFICATION_SCHEMA_ID} v${NOTIFICATION_SCHEMA_VERSION}`,
    ...z.toJSONSchema(NotificationSchema),
  };
}
