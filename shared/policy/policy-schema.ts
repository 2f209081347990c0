import type * as z from 'zod';
import type { AcceptedRiskSchema, PolicySchema, RuleSchema, SafetySchema } from './policy-document';

/*
 * The policy's types and defaults, free of zod at run time: the Lambda bundles import DEFAULT_SAFETY from here, and the
 * schema itself (policy-document.ts) is only for package-time validation. test/policy.test.ts checks DEFAULT_SAFETY is
 * what the schema gives an empty `safety`.
 */

/** A vulnerability a person accepted until a date: image rules ignore it until then (expired entries no longer apply). */
export type AcceptedRisk = z.infer<typeof AcceptedRiskSchema>;
/** Safety rails, on by default: they bound what automation can break in a bad hour. */
export type Safety = z.infer<typeof SafetySchema>;
export type PolicyDocument = z.infer<typeof PolicySchema>;
export type PolicyRuleDocument = z.infer<typeof RuleSchema>;

export const DEFAULT_SAFETY: Safety = { maxDestructivePerAccount: 20, maxDestructivePerCluster: 10, windowMinutes: 60, minHealthyTasks: 1 };
