import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { notificationJsonSchema } from '../shared/notification-json-schema';
import { NotificationSchema } from '../shared/notification-schema';
import { imageNotification, runtimeFindingNotification } from './fixtures/notifications';

describe('notification schema', () => {
  it('docs/notification.schema.json is the model as it is now (regenerate: npx tsx cli/notification-schema.ts)', () => {
    expect(JSON.parse(readFileSync('docs/notification.schema.json', 'utf8'))).toEqual(notificationJsonSchema());
  });

  it('states its id and version, and rejects a message of another version', () => {
    const valid = runtimeFindingNotification();
    expect(NotificationSchema.safeParse(valid).success).toBe(true);
    expect(NotificationSchema.safeParse(imageNotification()).success).toBe(true);
    const result = NotificationSchema.safeParse({ ...valid, version: 2 });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['version']);
  });
});
