import { loadPolicyFile } from '../shared/policy/policy';
import { UsageError, parseCliArgs, runCli } from './cli-run';

const usage = `usage: npx tsx cli/validate-policy.ts [policy file, default policy.yml]

Checks a policy as packaging does (npm run package): structure, every action and its parameters, finding-type patterns
against the known GuardDuty types, and rules an earlier rule hides. Every problem is reported at once.`;

/** Run before packaging: a policy that does not validate is never deployed. */
function main(): number {
  const { values, positionals } = parseCliArgs({ help: { type: 'boolean', short: 'h', default: false } });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError('one policy file at a time');
  const file = positionals[0] ?? 'policy.yml';
  try {
    console.log(`${file}: valid, ${loadPolicyFile(file).rules.length} rules`);
    return 0;
  } catch (error) {
    console.error((error as Error).message);
    return 1;
  }
}

runCli(main, usage);
