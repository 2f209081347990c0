import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCompiledPolicy } from '../shared/policy/compiled-policy';
import { parsePolicy } from '../shared/policy/policy';
import { SafetySchema } from '../shared/policy/policy-document';
import { DEFAULT_SAFETY } from '../shared/policy/policy-schema';
import { ROOT, SHIPPED_POLICY_FILE } from './helpers/deployment';

/** The policy the Lambdas carry is what `npm run package` compiles: policy.yml validated, as JSON (issue 10). */
describe('the compiled policy', () => {
  it('is what parsePolicy makes of policy.yml, written by the CLI packaging runs, and what the Lambda loads', () => {
    const dir = mkdtempSync(join(tmpdir(), 'policy-'));
    try {
      const out = join(dir, 'policy.json');
      const run = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), ['cli/validate-policy.ts', 'policy.yml', '--out', out], { cwd: ROOT, encoding: 'utf8' });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const expected = parsePolicy(readFileSync(SHIPPED_POLICY_FILE, 'utf8'));
      expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(expected);
      expect(loadCompiledPolicy(out)).toEqual(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is not written when the policy does not validate', () => {
    const dir = mkdtempSync(join(tmpdir(), 'policy-'));
    try {
      const bad = join(dir, 'bad.yml');
      spawnSync('sh', ['-c', `sed 's/- stop-task/- stop-tsak/' policy.yml > "${bad}"`], { cwd: ROOT });
      const run = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), ['cli/validate-policy.ts', bad, '--out', join(dir, 'policy.json')], { cwd: ROOT, encoding: 'utf8' });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('unknown action "stop-tsak"');
      expect(() => readFileSync(join(dir, 'policy.json'))).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('falls back on the zod-free DEFAULT_SAFETY, which is what the schema gives an empty safety section', () => {
    expect(SafetySchema.parse({})).toEqual(DEFAULT_SAFETY);
  });
});
