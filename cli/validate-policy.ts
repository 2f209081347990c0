import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { compilePolicy } from '../shared/policy/compiled-policy';
import { loadPolicyFile } from '../shared/policy/policy';
import { UsageError, parseCliArgs, runCli } from './cli-run';

/** Where packaging reads the compiled policy from (deploy/esbuild.cjs puts it into every bundle). */
const COMPILED_POLICY_FILE = '.build/policy.json';

const usage = `usage: npx tsx cli/validate-policy.ts [policy file, default policy.yml] [--out file]

Checks a policy as packaging does (npm run package): structure, every action and its parameters, finding-type patterns
against the known GuardDuty types, and rules an earlier rule hides. Every problem is reported at once. A valid policy is
written as JSON to --out (default ${COMPILED_POLICY_FILE}): what the Lambda bundles carry, or what POLICY_FILE may name.`;

/** Run before packaging: a policy that does not validate is never deployed, and the bundles carry the validated one. */
function main(): number {
  const { values, positionals } = parseCliArgs({ help: { type: 'boolean', short: 'h', default: false }, out: { type: 'string', default: COMPILED_POLICY_FILE } });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError('one policy file at a time');
  const file = positionals[0] ?? 'policy.yml';
  try {
    const policy = loadPolicyFile(file);
    mkdirSync(dirname(values.out), { recursive: true });
    writeFileSync(values.out, compilePolicy(policy));
    console.log(`${file}: valid, ${policy.rules.length} rules; compiled to ${values.out}`);
    return 0;
  } catch (error) {
    console.error((error as Error).message);
    return 1;
  }
}

runCli(main, usage);
