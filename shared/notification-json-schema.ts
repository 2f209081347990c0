import * as z from 'zod';
import { NOTIFICATION_SCHEMA_ID, NOTIFICATION_SCHEMA_VERSION, NotificationSchema } from './notification';

/** The notification model as JSON Schema, for subscribers that are not this code (SQS consumers, SIEMs). */
export function notificationJsonSchema(): Record<string, unknown> {
  return {
    $id: `urn:${NOTIFICATION_SCHEMA_ID}:v${NOTIFICATION_SCHEMA_VERSION}`,
    title: `${NOTIFICATION_SCHEMA_ID} v${NOTIFICATION_SCHEMA_VERSION}`,
    ...z.toJSONSchema(NotificationSchema),
  };
}
