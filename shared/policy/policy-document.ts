import * as z from 'zod';
import { IMAGE_SEVERITY_LABELS, SEVERITY_LABELS } from '../finding';
import { DEFAULT_SAFETY } from './policy-schema';

/*
 * The policy's schema: package time (cli/validate-policy.ts), tests, replay and `npm start` validate policy.yml with it.
 * The Lambda bundles carry the validated policy as JSON (shared/policy/compiled-policy.ts) and never reach this file.
 * `import * as z` rather than `import { z }`: esbuild can drop what a namespace import does not use, not what hangs
 * off the `z` object (454 KB against 90 KB for a small schema).
 */

const Globs = z.array(z.string().min(1));
const TagMatch = z.record(z.string(), z.string());

/** An action entry: `notify` or `{ isolate-task: { fallback: [network-acl] } }`. Params are checked per action later. */
const ActionEntry = z.union([
  z.string().min(1),
  z.record(z.string(), z.record(z.string(), z.unknown()).nullable()).refine((o) => Object.keys(o).length === 1, {
    message: 'an action entry is a name, or a map with exactly one action name',
  }),
]);

export const RuleSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'rule names are lower-case words joined by hyphens'),
  description: z.string().optional(),
  match: z
    .strictObject({
      kind: z.enum(['runtime', 'image']).default('runtime'),
      types: Globs.optional(),
      severity: z.array(z.enum(SEVERITY_LABELS)).optional(),
      clusters: Globs.optional(),
      services: Globs.optional(),
      tags: TagMatch.optional(),
      samples: z.boolean().default(false),
      // kind: image. A rule matches when every given condition holds; minCounts holds when any listed severity reaches its count.
      minCounts: z.partialRecord(z.enum(IMAGE_SEVERITY_LABELS), z.number().int().min(1)).optional(),
      exploitAvailable: z.boolean().optional(),
      fixAvailable: z.boolean().optional(),
      minEpss: z.number().min(0).max(1).optional(),
      repositories: Globs.optional(),
      excludeRepositories: Globs.optional(),
      /** Scan or finding statuses the rule matches; by default only completed scans and ACTIVE findings. */
      scanStatuses: Globs.optional(),
    })
    .default({ kind: 'runtime', samples: false }),
  mode: z.enum(['observe', 'enforce']).optional(),
  actions: z.array(ActionEntry),
});

/** A vulnerability a person accepted until a date: image rules ignore it until then (expired entries no longer apply). */
export const AcceptedRiskSchema = z.strictObject({
  id: z.string().min(1),
  expires: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expires is a date: YYYY-MM-DD'),
  reason: z.string().min(1),
  repositories: Globs.optional(),
});

/** Safety rails, on by default: they bound what automation can break in a bad hour. */
export const SafetySchema = z.strictObject({
  /** At most this many destructive actions (isolate, stop, quarantine) per window in the account, then notify only. */
  maxDestructivePerAccount: z.number().int().min(0).default(20),
  /** The same, per cluster. */
  maxDestructivePerCluster: z.number().int().min(0).default(10),
  windowMinutes: z.number().int().min(1).max(1440).default(60),
  /** A service keeps at least this many running tasks after a stop, unless the rule's stop-task says otherwise. */
  minHealthyTasks: z.number().int().min(0).default(1),
});

export const PolicySchema = z.strictObject({
  version: z.literal(1),
  safety: SafetySchema.default(DEFAULT_SAFETY),
  forceObserve: z.boolean().default(false),
  protect: z
    .strictObject({
      clusters: Globs.default([]),
      services: Globs.default([]),
      tags: TagMatch.default({}),
    })
    .default({ clusters: [], services: [], tags: {} }),
  rules: z.array(RuleSchema).min(1),
  acceptedRisks: z.array(AcceptedRiskSchema).default([]),
});

