import * as z from 'zod';
import { ACTION_PARAMS } from '../shared/actions/params';
import { ACTIONS } from '../shared/actions/registry';
import { parseCliArgs, runCli } from './cli-run';

const usage = `usage: npm run actions

Lists every response action, its parameters and the IAM actions it needs, from the registry itself.`;

function main(): number {
  if (parseCliArgs({ help: { type: 'boolean', short: 'h', default: false } }).values.help) {
    console.log(usage);
    return 0;
  }
  for (const action of ACTIONS) {
    const flags = [action.destructive ? 'destructive' : 'non-destructive', action.reversible ? 'reversible' : 'not reversible'].join(', ');
    console.log(`${action.name}  (${flags})\n  ${action.summary}`);
    const params = z.toJSONSchema(ACTION_PARAMS[action.name]!) as { properties?: Record<string, unknown> };
    const names = Object.keys(params.properties ?? {});
    console.log(`  parameters: ${names.length ? names.join(', ') : 'none'}`);
    console.log(`  IAM: ${[...new Set(action.permissions.flatMap((grant) => grant.actions))].join(', ')}\n`);
  }
  return 0;
}

runCli(main, usage);
