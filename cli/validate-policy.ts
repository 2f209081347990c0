import { loadPolicyFile } from '../shared/policy/policy';

/** Run before packaging: a policy that does not validate is never deployed. */
const file = process.argv[2] ?? 'policy.yml';
try {
  const policy = loadPolicyFile(file);
  console.log(`${file}: valid, ${policy.rules.length} rules`);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
