import * as z from 'zod';

/**
 * The one notification model. It is published to SNS as JSON and rendered by every channel (Slack, e-mail via SNS).
 * Versioned: consumers check `schema` and `version`; additive changes keep the version, breaking ones bump it.
 */
export const NOTIFICATION_SCHEMA_ID = 'ecs-threat-responder.notification';
export const NOTIFICATION_SCHEMA_VERSION = 1;

/**
 * Lone surrogates replaced by U+FFFD (String#toWellFormed, ES2024): event strings may hold them, and SNS, Slack and
 * e-mail want well-formed UTF-8.
 */
export function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

export const ACTION_STATUSES = ['applied', 'skipped', 'failed', 'planned', 'unsupported'] as const;
export type ActionStatus = (typeof ACTION_STATUSES)[number];

export const ActionOutcomeSchema = z.object({
  action: z.string(),
  status: z.enum(ACTION_STATUSES),
  /** How the action took effect, e.g. `security-group`, `network-acl`, `stop-task`, `archive`. */
  mechanism: z.string().optional(),
  /** One human sentence: what happened, or why not. */
  detail: z.string().optional(),
  /** AWS's error code when AWS refused or failed the call. */
  errorCode: z.string().optional(),
  target: z.string().optional(),
});
export type ActionOutcome = z.infer<typeof ActionOutcomeSchema>;

export const VulnerabilitySchema = z.object({
  id: z.string(),
  severity: z.string().optional(),
  package: z.string().optional(),
  fixedVersion: z.string().optional(),
  exploitAvailable: z.boolean().optional(),
  epss: z.number().optional(),
});

export const NotificationSchema = z.object({
  schema: z.literal(NOTIFICATION_SCHEMA_ID),
  version: z.literal(NOTIFICATION_SCHEMA_VERSION),
  kind: z.enum(['finding-response', 'image-response', 'launch-guard', 'runbook', 'rejected-event']),
  /** One line for a phone's lock screen: outcome first. */
  headline: z.string(),
  at: z.string(),
  ledgerId: z.string(),
  finding: z
    .object({
      id: z.string(),
      type: z.string(),
      title: z.string(),
      severity: z.number(),
      severityLabel: z.string(),
      account: z.string(),
      region: z.string(),
      sample: z.boolean(),
      count: z.number(),
    })
    .nullable(),
  resource: z.object({
    cluster: z.string().optional(),
    service: z.string().optional(),
    taskArn: z.string().optional(),
    launchType: z.string().optional(),
    images: z.array(z.string()),
  }),
  /** Attacker-controlled strings. Channels must escape them. */
  indicators: z.object({
    process: z.string().optional(),
    executablePath: z.string().optional(),
    commandLine: z.string().optional(),
    domains: z.array(z.string()),
    remoteIps: z.array(z.string()),
  }),
  image: z
    .object({
      repository: z.string(),
      digest: z.string(),
      tags: z.array(z.string()),
      severityCounts: z.record(z.string(), z.number()),
      topVulnerabilities: z.array(VulnerabilitySchema),
      tasksUsingImage: z.array(z.string()),
      scanConsoleUrl: z.string().optional(),
      /** How the quarantine holds: `archive` (pulls fail) or `image-tags` (tags removed; pulls by digest still work). */
      mechanism: z.string().optional(),
    })
    .optional(),
  decision: z.object({ policyRule: z.string(), mode: z.enum(['observe', 'enforce']) }).nullable(),
  containment: z.object({
    state: z.enum(['contained', 'partially-contained', 'not-contained', 'observed', 'released', 'none']),
    mechanism: z.string().optional(),
  }),
  actions: z.array(ActionOutcomeSchema),
  requestedBy: z.string(),
  reason: z.string().optional(),
  ticket: z.string().optional(),
  links: z.array(z.object({ label: z.string(), url: z.string() })),
  releaseCommand: z.string().optional(),
  notes: z.array(z.string()),
  error: z.string().optional(),
});
export type Notification = z.infer<typeof NotificationSchema>;
