import { writeFileSync } from 'node:fs';
import { notificationJsonSchema } from '../shared/notification-json-schema';
import { parseCliArgs, runCli } from './cli-run';

const usage = `usage: npx tsx cli/notification-schema.ts

Writes docs/notification.schema.json, the versioned JSON Schema of what the SNS topic carries.`;

function main(): number {
  if (parseCliArgs({ help: { type: 'boolean', short: 'h', default: false } }).values.help) {
    console.log(usage);
    return 0;
  }
  writeFileSync('docs/notification.schema.json', `${JSON.stringify(notificationJsonSchema(), null, 2)}\n`);
  console.log('docs/notification.schema.json written');
  return 0;
}

runCli(main, usage);
