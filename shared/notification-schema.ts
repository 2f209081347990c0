import { ACTION_STATUSES, NOTIFICATION_SCHEMA_ID, NOTIFICATION_SCHEMA_VERSION } from './notification';
import * as z from './zod-mini';

/**
 * The notification model's schema (shared/notification.ts has its types): the Slack notifier checks what it receives
 * against it, and its JSON Schema is published (shared/notification-json-schema.ts). The Lambdas that only build
 * notifications never construct it.
 */
export const ActionOutcomeSchema = z.object({
  action: z.string(),
  status: z.enum(ACTION_STATUSES),
  /** How the action took effect, e.g. `security-group`, `network-acl`, `stop-task`, `archive`. */
  mechanism: z.optional(z.string()),
  /** One human sentence: what happened, or why not. */
  detail: z.optional(z.string()),
  /** AWS's error code when AWS refused or failed the call. */
  errorCode: z.optional(z.string()),
  target: z.optional(z.string()),
});
const VulnerabilitySchema = z.object({
  id: z.string(),
  severity: z.optional(z.string()),
  package: z.optional(z.string()),
  fixedVersion: z.optional(z.string()),
  exploitAvailable: z.optional(z.boolean()),
  epss: z.optional(z.number()),
});

export const NotificationSchema = z.object({
  schema: z.literal(NOTIFICATION_SCHEMA_ID),
  version: z.literal(NOTIFICATION_SCHEMA_VERSION),
  kind: z.enum(['finding-response', 'image-response', 'launch-guard', 'runbook', 'rejected-event']),
  /** One line for a phone's lock screen: outcome first. */
  headline: z.string(),
  at: z.string(),
  ledgerId: z.string(),
  finding: z.nullable(
    z.object({
      id: z.string(),
      type: z.string(),
      title: z.string(),
      severity: z.number(),
      severityLabel: z.string(),
      account: z.string(),
      region: z.string(),
      sample: z.boolean(),
      count: z.number(),
    }),
  ),
  resource: z.object({
    cluster: z.optional(z.string()),
    service: z.optional(z.string()),
    taskArn: z.optional(z.string()),
    launchType: z.optional(z.string()),
    images: z.array(z.string()),
  }),
  /** Attacker-controlled strings. Channels must escape them. */
  indicators: z.object({
    process: z.optional(z.string()),
    executablePath: z.optional(z.string()),
    commandLine: z.optional(z.string()),
    domains: z.array(z.string()),
    remoteIps: z.array(z.string()),
  }),
  image: z.optional(
    z.object({
      repository: z.string(),
      digest: z.string(),
      tags: z.array(z.string()),
      severityCounts: z.record(z.string(), z.number()),
      topVulnerabilities: z.array(VulnerabilitySchema),
      tasksUsingImage: z.array(z.string()),
      scanConsoleUrl: z.optional(z.string()),
      /** How the quarantine holds: `archive` (pulls fail) or `image-tags` (tags removed; pulls by digest still work). */
      mechanism: z.optional(z.string()),
    }),
  ),
  decision: z.nullable(z.object({ policyRule: z.string(), mode: z.enum(['observe', 'enforce']) })),
  containment: z.object({
    state: z.enum(['contained', 'partially-contained', 'not-contained', 'observed', 'released', 'none']),
    mechanism: z.optional(z.string()),
  }),
  actions: z.array(ActionOutcomeSchema),
  requestedBy: z.string(),
  reason: z.optional(z.string()),
  ticket: z.optional(z.string()),
  links: z.array(z.object({ label: z.string(), url: z.string() })),
  releaseCommand: z.optional(z.string()),
  notes: z.array(z.string()),
  error: z.optional(z.string()),
});
