import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SIMULATED_STAGE } from '../sim/deployment';
import { packageStack } from '../sim/packaged-template';
import { IAM_RECORD_ROOT } from './helpers/iam-records';

/**
 * Once per test run, before any test file: package the stack the simulated deployments take their roles from (cached
 * by a hash of its inputs, so only a change packages again), and give this run a fresh folder for the IAM decisions
 * every simulated deployment records; the last test group (test/iam-coverage.test.ts) reads them. Workers inherit the
 * variable.
 */
export default function setup(): () => void {
  const dir = join(IAM_RECORD_ROOT, `${Date.now()}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  process.env.RESPONDER_IAM_RECORD_DIR = dir;
  packageStack({ stage: SIMULATED_STAGE });
  return () => rmSync(dir, { recursive: true, force: true });
}
