import { ACTIONS } from '../shared/actions/registry';
import { z } from 'zod';

/** `npm run actions`: every response action, its parameters and the IAM actions it needs, from the registry itself. */
for (const action of ACTIONS) {
  const flags = [action.destructive ? 'destructive' : 'non-destructive', action.reversible ? 'reversible' : 'not reversible'].join(', ');
  console.log(`${action.name}  (${flags})\n  ${action.summary}`);
  const params = z.toJSONSchema(action.params) as { properties?: Record<string, unknown> };
  const names = Object.keys(params.properties ?? {});
  console.log(`  parameters: ${names.length ? names.join(', ') : 'none'}`);
  console.log(`  IAM: ${[...new Set(action.permissions.flatMap((grant) => grant.actions))].join(', ')}\n`);
}
