import * as z from '../zod-mini';

/**
 * Each response action's parameters, by action name: what a policy rule may pass to it, with defaults. Read where
 * parameters are checked (policy validation at package time, the runbook's commands, the image push guard) and by
 * the CLI; a Lambda that runs the compiled policy never builds them. zod/mini (shared/zod-mini.ts): the messages
 * are classic zod's.
 */
export const isolateTaskParams = z.strictObject({
  /** The rungs to try, in order, when the security-group swap is refused or impossible. */
  fallback: z._default(z.array(z.enum(['network-acl', 'stop-task'])), []),
  /** Bridge/host mode on EC2: swap the container instance's interface. Opt-in: it isolates every task on the host. */
  hostIsolation: z._default(z.boolean(), false),
});
export type IsolateTaskParams = z.infer<typeof isolateTaskParams>;

export const stopTaskParams = z.strictObject({
  /** Stop even when the service would drop below the policy's minHealthyTasks (for findings worse than an outage). */
  ignoreMinHealthy: z._default(z.boolean(), false),
});
export type StopTaskParams = z.infer<typeof stopTaskParams>;

export const quarantineImageParams = z.strictObject({
  /** Also stop the tasks running the digest now (a service task's replacement then fails to pull the archived image). */
  stopRunningTasks: z._default(z.boolean(), false),
  /** When archiving is refused or unavailable: keep only a quarantine tag. Pulls by digest still work then. */
  tagFallback: z._default(z.boolean(), true),
});
export type QuarantineImageParams = z.infer<typeof quarantineImageParams>;

/** Every registered action's parameters (test/registry.test.ts: exactly the registry's names). */
export const ACTION_PARAMS: Readonly<Record<string, z.ZodMiniType>> = {
  'capture-evidence': z.strictObject({}),
  tag: z.strictObject({}),
  'isolate-task': isolateTaskParams,
  'stop-task': stopTaskParams,
  'quarantine-image': quarantineImageParams,
  notify: z.strictObject({}),
};
