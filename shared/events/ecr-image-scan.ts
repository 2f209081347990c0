import { z } from 'zod';
import type { ImageFinding } from '../finding';
import { InvalidEventError, required } from './invalid-event';

/** Scan statuses after which the counts are complete enough to act on. */
const COMPLETE = new Set(['COMPLETE']);

/**
 * A scan-result event: ECR's `ECR Image Scan` and Inspector's `Inspector2 Scan` share this shape (Inspector's
 * `repository-name` is an ARN). Every field optional as AWS documents it ("finding-severity-counts … only … if one
 * exists"); the normalisers demand what they need.
 */
export function scanResultEvent<S extends string, D extends string>(source: S, detailType: D) {
  return z.looseObject({
    id: z.string().optional(),
    source: z.literal(source),
    'detail-type': z.literal(detailType),
    account: z.string().optional(),
    region: z.string().optional(),
    time: z.string().optional(),
    detail: z.looseObject({
      'scan-status': z.string().optional(),
      'repository-name': z.string().optional(),
      'image-digest': z.string().optional(),
      'image-tags': z.array(z.string()).optional(),
      'finding-severity-counts': z.record(z.string(), z.number().int().min(0)).optional(),
    }),
  });
}

export const EcrImageScanEvent = scanResultEvent('aws.ecr', 'ECR Image Scan');

/** ECR basic scanning: one event per image per scan, with counts by severity and no CVE ids. */
export function normaliseEcrImageScan(event: unknown): ImageFinding {
  const parsed = EcrImageScanEvent.safeParse(event);
  if (!parsed.success) throw InvalidEventError.fromZod(parsed.error);
  const { detail, ...envelope } = parsed.data;
  const digest = required(detail['image-digest'], 'detail.image-digest');
  if (!/^sha256:[0-9a-f]+$/.test(digest)) throw new InvalidEventError('detail.image-digest', 'is not a sha256 digest');
  const status = required(detail['scan-status'], 'detail.scan-status');
  return {
    kind: 'image',
    source: 'ecr-scan',
    id: required(envelope.id, 'id'),
    account: required(envelope.account, 'account'),
    region: required(envelope.region, 'region'),
    repository: required(detail['repository-name'], 'detail.repository-name'),
    digest,
    tags: detail['image-tags'] ?? [],
    status,
    actionable: COMPLETE.has(status),
    severityCounts: { ...detail['finding-severity-counts'] },
    vulnerabilities: [],
    title: `ECR image scan ${status}`,
    observedAt: envelope.time ?? new Date(0).toISOString(),
  };
}
