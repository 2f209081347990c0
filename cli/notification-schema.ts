import { writeFileSync } from 'node:fs';
import { notificationJsonSchema } from '../shared/notification-json-schema';

/** Writes docs/notification.schema.json, the versioned JSON Schema of what the SNS topic carries. */
writeFileSync('docs/notification.schema.json', `${JSON.stringify(notificationJsonSchema(), null, 2)}\n`);
console.log('docs/notification.schema.json written');
