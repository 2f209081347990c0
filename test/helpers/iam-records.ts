import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { IamDecision } from '../../sim/iam/iam-evaluator';
import { ROOT } from '../../sim/packaged-template';

/** Each test run records its IAM decisions in a folder of its own below this (test/global-setup.ts). */
export const IAM_RECORD_ROOT = join(ROOT, 'out', 'iam-decisions');

export interface RecordedDecision extends IamDecision {
  synthetic: boolean;
}

/** The distinct decisions recorded so far in this test run, from every worker. */
export function recordedDecisions(): RecordedDecision[] {
  const dir = process.env.RESPONDER_IAM_RECORD_DIR;
  if (!dir || !existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.jsonl'))
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line) as RecordedDecision);
}
