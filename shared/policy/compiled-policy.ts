import { readFileSync } from 'node:fs';
import type { Policy } from './policy';

/**
 * The validated policy as JSON text, put in by esbuild at build time (deploy/esbuild.cjs `define`, from
 * .build/policy.json that `npm run package` writes with cli/validate-policy.ts). Undefined outside a bundle.
 */
declare const __COMPILED_POLICY__: Policy | undefined;

/** The policy as the bundle carries it: JSON, so the bundle needs neither the YAML parser nor the policy schema. */
export function compilePolicy(policy: Policy): string {
  return JSON.stringify(policy);
}

/**
 * The Lambda's policy: the one validated at package time, or POLICY_FILE's, a compiled policy JSON file
 * (`npx tsx cli/validate-policy.ts policy.yml --out file.json` writes one; it is not validated again here).
 */
export function loadCompiledPolicy(file = process.env.POLICY_FILE): Policy {
  if (file) return JSON.parse(readFileSync(file, 'utf8')) as Policy;
  if (typeof __COMPILED_POLICY__ === 'undefined') throw new Error('no compiled policy: build with deploy/esbuild.cjs (npm run package), or set POLICY_FILE');
  return __COMPILED_POLICY__;
}
