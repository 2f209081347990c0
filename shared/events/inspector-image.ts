import { z } from 'zod';
import type { ImageFinding, ImageVulnerability } from '../finding';
import { scanResultEvent } from './ecr-image-scan';
import { InvalidEventError, required } from './invalid-event';

const YesNo = z.string().optional();

const Package = z.looseObject({ name: z.string().optional(), fixedInVersion: z.string().optional(), version: z.string().optional() });

const EcrImageResource = z.looseObject({
  type: z.string().optional(),
  id: z.string().optional(),
  details: z
    .looseObject({
      awsEcrContainerImage: z
        .looseObject({
          repositoryName: z.string().optional(),
          imageHash: z.string().optional(),
          imageTags: z.array(z.string()).optional(),
          registry: z.string().optional(),
        })
        .optional(),
    })
    .optional(),
});

// Inspector's schema: every field optional; timestamps inside detail are not ISO-8601, so none are parsed.
export const InspectorFindingEvent = z.looseObject({
  id: z.string().optional(),
  source: z.literal('aws.inspector2'),
  'detail-type': z.literal('Inspector2 Finding'),
  account: z.string().optional(),
  region: z.string().optional(),
  time: z.string().optional(),
  detail: z.looseObject({
    awsAccountId: z.string().optional(),
    findingArn: z.string().optional(),
    type: z.string().optional(),
    severity: z.string().optional(),
    status: z.string().optional(),
    title: z.string().optional(),
    exploitAvailable: YesNo,
    fixAvailable: YesNo,
    epss: z.looseObject({ score: z.number().optional() }).optional(),
    packageVulnerabilityDetails: z
      .looseObject({ vulnerabilityId: z.string().optional(), vulnerablePackages: z.array(Package).optional() })
      .optional(),
    resources: z.array(EcrImageResource).optional(),
  }),
});

export const InspectorScanEvent = scanResultEvent('aws.inspector2', 'Inspector2 Scan');

const yes = (value: string | undefined): boolean | undefined => (value === undefined ? undefined : value === 'YES');

function checkDigest(digest: string, field: string): string {
  if (!/^sha256:[0-9a-f]+$/.test(digest)) throw new InvalidEventError(field, 'is not a sha256 digest');
  return digest;
}

/**
 * Inspector publishes one event per CVE per image. Only ACTIVE findings may act: Inspector CLOSES findings when an
 * image is archived or deleted, so acting on CLOSED would re-quarantine in a loop (aws-facts §3).
 */
export function normaliseInspectorFinding(event: unknown): ImageFinding {
  const parsed = InspectorFindingEvent.safeParse(event);
  if (!parsed.success) throw InvalidEventError.fromZod(parsed.error);
  const { detail, ...envelope } = parsed.data;
  const resources = detail.resources ?? [];
  const index = resources.findIndex((r) => r.type === 'AWS_ECR_CONTAINER_IMAGE');
  if (index < 0) throw new InvalidEventError('detail.resources', 'has no AWS_ECR_CONTAINER_IMAGE resource');
  const image = required(resources[index]!.details?.awsEcrContainerImage, `detail.resources.${index}.details.awsEcrContainerImage`);
  const field = `detail.resources.${index}.details.awsEcrContainerImage`;
  const severity = required(detail.severity, 'detail.severity');
  const status = required(detail.status, 'detail.status');
  const cve = detail.packageVulnerabilityDetails;
  const packages = cve?.vulnerablePackages ?? [];
  const vulnerability: ImageVulnerability | undefined = cve?.vulnerabilityId
    ? {
        id: cve.vulnerabilityId,
        severity,
        package: packages.map((p) => p.name).filter(Boolean).join(', ') || undefined,
        fixedVersion: packages.find((p) => p.fixedInVersion)?.fixedInVersion,
        exploitAvailable: yes(detail.exploitAvailable),
        fixAvailable: yes(detail.fixAvailable),
        epss: detail.epss?.score,
      }
    : undefined;
  return {
    kind: 'image',
    source: 'inspector-finding',
    id: required(detail.findingArn ?? envelope.id, 'detail.findingArn'),
    account: required(detail.awsAccountId ?? envelope.account, 'detail.awsAccountId'),
    region: required(envelope.region, 'region'),
    repository: required(image.repositoryName, `${field}.repositoryName`),
    digest: checkDigest(required(image.imageHash, `${field}.imageHash`), `${field}.imageHash`),
    tags: image.imageTags ?? [],
    status,
    actionable: status === 'ACTIVE',
    severityCounts: { [severity]: 1 },
    vulnerabilities: vulnerability ? [vulnerability] : [],
    title: detail.title ?? cve?.vulnerabilityId ?? detail.type ?? 'Inspector finding',
    observedAt: envelope.time ?? new Date(0).toISOString(),
  };
}

/** `arn:aws:ecr:<region>:<account>:repository/<name>` (Inspector2 Scan's `repository-name` holds the ARN) → name. */
export function repositoryNameFrom(value: string): string {
  const match = /^arn:aws[\w-]*:ecr:[\w-]+:\d{12}:repository\/(.+)$/.exec(value);
  return match ? match[1]! : value;
}

/** Inspector's initial scan of an image: counts by severity (with a TOTAL key), no CVE ids. */
export function normaliseInspectorScan(event: unknown): ImageFinding {
  const parsed = InspectorScanEvent.safeParse(event);
  if (!parsed.success) throw InvalidEventError.fromZod(parsed.error);
  const { detail, ...envelope } = parsed.data;
  const status = required(detail['scan-status'], 'detail.scan-status');
  const { TOTAL: _total, ...counts } = detail['finding-severity-counts'] ?? {};
  return {
    kind: 'image',
    source: 'inspector-scan',
    id: required(envelope.id, 'id'),
    account: required(envelope.account, 'account'),
    region: required(envelope.region, 'region'),
    repository: repositoryNameFrom(required(detail['repository-name'], 'detail.repository-name')),
    digest: checkDigest(required(detail['image-digest'], 'detail.image-digest'), 'detail.image-digest'),
    tags: detail['image-tags'] ?? [],
    status,
    actionable: status === 'INITIAL_SCAN_COMPLETE',
    severityCounts: counts,
    vulnerabilities: [],
    title: `Inspector image scan ${status}`,
    observedAt: envelope.time ?? new Date(0).toISOString(),
  };
}
