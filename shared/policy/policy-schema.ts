import { z } from 'zod';
import { SEVERITY_LABELS } from '../finding';

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
    })
    .default({ kind: 'runtime', samples: false }),
  mode: z.enum(['observe', 'enforce']).optional(),
  actions: z.array(ActionEntry),
});

export const PolicySchema = z.strictObject({
  version: z.literal(1),
  forceObserve: z.boolean().default(false),
  protect: z
    .strictObject({
      clusters: Globs.default([]),
      services: Globs.default([]),
      tags: TagMatch.default({}),
    })
    .default({ clusters: [], services: [], tags: {} }),
  rules: z.array(RuleSchema).min(1),
});

export type PolicyDocument = z.infer<typeof PolicySchema>;
export type PolicyRuleDocument = z.infer<typeof RuleSchema>;
