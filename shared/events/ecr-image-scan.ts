import * as z from '../zod-mini';
import type { ImageFinding } from '../finding';
import { ACCOUNT_ID, EVENT_ID, IMAGE_DIGEST, IMAGE_TAG, matching, REGION, REPOSITORY_NAME } from './aws-formats';
import { assertOurs, type Home } from './home';
import { InvalidEventError, required } from './invalid-event';

/** Scan statuses after which the counts are complete enough to act on. */
const COMPLETE = new Set(['COMPLETE']);

/** ECR's ScanStatus values (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ImageScanStatus.html). */
const ECR_SCAN_STATUSES = [
  'IN_PROGRESS', 'COMPLETE', 'FAILED', 'UNSUPPORTED_IMAGE', 'ACTIVE', 'PENDING', 'SCAN_ELIGIBILITY_EXPIRED', 'FINDINGS_UNAVAILABLE', 'LIMIT_EXCEEDED', 'IMAGE_ARCHIVED',
] as const;
/** Severity keys of `finding-severity-counts`: ECR's FindingSeverity (API_ImageScanFinding) and Inspector's labels plus its `TOTAL`. */
const SEVERITY_COUNT_KEYS = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNDEFINED', 'UNTRIAGED', 'TOTAL'] as const;

export const eventEnvelope = {
  id: z.optional(matching(EVENT_ID, 'an EventBridge event id (1–256 printable characters)')),
  account: z.optional(matching(ACCOUNT_ID, 'a 12-digit account id')),
  region: z.optional(matching(REGION, 'an AWS region code')),
  time: z.optional(z.string().check(z.maxLength(64))),
};

/**
 * A scan-result event: ECR's `ECR Image Scan` and Inspector's `Inspector2 Scan` share this shape (Inspector's
 * `repository-name` is an ARN). Every field optional as AWS documents it ("finding-severity-counts … only … if one
 * exists"); the normalisers demand what they need.
 * https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-eventbridge.html
 */
export function scanResultEvent<S extends string, D extends string>(source: S, detailType: D, status: z.ZodMiniType<string>) {
  return z.looseObject({
    ...eventEnvelope,
    source: z.literal(source),
    'detail-type': z.literal(detailType),
    detail: z.looseObject({
      'scan-status': z.optional(status),
      'repository-name': z.optional(z.string()),
      'image-digest': z.optional(matching(IMAGE_DIGEST, 'sha256: and 64 lowercase hex characters')),
      'image-tags': z.optional(z.array(matching(IMAGE_TAG, 'an image tag')).check(z.maxLength(1000))),
      // Counts: non-negative safe integers (zod's int), within DynamoDB's number range.
      'finding-severity-counts': z.optional(z.partialRecord(z.enum(SEVERITY_COUNT_KEYS), z.number().check(z.int(), z.minimum(0)))),
    }),
  });
}

export const EcrImageScanEvent = scanResultEvent('aws.ecr', 'ECR Image Scan', z.enum(ECR_SCAN_STATUSES));

/** Account and region from the envelope, checked against the deployment's (region fixes the partition). */
export function envelopeOrigin(envelope: { account?: string; region?: string }, home: Home | undefined) {
  const origin = { account: required(envelope.account, 'account'), region: required(envelope.region, 'region') };
  if (home) assertOurs(origin, home, { account: 'account', region: 'region' });
  return origin;
}

/** ECR basic scanning: one event per image per scan, with counts by severity and no CVE ids. */
export function normaliseEcrImageScan(event: unknown, home?: Home): ImageFinding {
  const parsed = EcrImageScanEvent.safeParse(event);
  if (!parsed.success) throw InvalidEventError.fromZod(parsed.error);
  const { detail, ...envelope } = parsed.data;
  const origin = envelopeOrigin(envelope, home);
  const repository = required(detail['repository-name'], 'detail.repository-name');
  if (!REPOSITORY_NAME.test(repository)) throw new InvalidEventError('detail.repository-name', 'is not an ECR repository name');
  const digest = required(detail['image-digest'], 'detail.image-digest');
  const status = required(detail['scan-status'], 'detail.scan-status');
  return {
    kind: 'image',
    source: 'ecr-scan',
    id: required(envelope.id, 'id'),
    ...origin,
    repository,
    digest,
    // Shown in messages, never acted on: the first hundred.
    tags: (detail['image-tags'] ?? []).slice(0, 100),
    status,
    actionable: COMPLETE.has(status),
    severityCounts: { ...detail['finding-severity-counts'] },
    vulnerabilities: [],
    title: `ECR image scan ${status}`,
    observedAt: envelope.time ?? new Date(0).toISOString(),
  };
}
