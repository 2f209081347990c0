import * as z from '../zod-mini';
import type { ImageFinding, ImageVulnerability } from '../finding';
import { ACCOUNT_ID, assertSameOrigin, bounded, TEXT, IMAGE_DIGEST, IMAGE_TAG, matching, parseArn, parseInspectorFindingArn, REPOSITORY_NAME, REPOSITORY_RESOURCE } from './aws-formats';
import { envelopeOrigin, eventEnvelope, scanResultEvent } from './ecr-image-scan';
import type { Home } from './home';
import { InvalidEventError, required } from './invalid-event';

// Inspector's documented enums (https://docs.aws.amazon.com/inspector/v2/APIReference/API_Finding.html).
const FINDING_STATUSES = ['ACTIVE', 'SUPPRESSED', 'CLOSED'] as const;
const SEVERITIES = ['INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL', 'UNTRIAGED'] as const;
const EXPLOIT_AVAILABLE = z.optional(z.enum(['YES', 'NO']));
const FIX_AVAILABLE = z.optional(z.enum(['YES', 'NO', 'PARTIAL']));
/** `Inspector2 Scan`'s status is not enumerated in AWS's docs: an upper-case token (INITIAL_SCAN_COMPLETE, …). */
const SCAN_STATUS = matching(/^[A-Z][A-Z_]{0,63}$/, 'an Inspector scan status');

const str = () => z.optional(z.string());

const Package = z.looseObject({ name: str(), fixedInVersion: str(), version: str() });

const EcrImageResource = z.looseObject({
  type: str(),
  id: str(),
  details: z.optional(
    z.looseObject({
      awsEcrContainerImage: z.optional(
        z.looseObject({
          repositoryName: z.optional(matching(REPOSITORY_NAME, 'an ECR repository name')),
          imageHash: z.optional(matching(IMAGE_DIGEST, 'sha256: and 64 lowercase hex characters')),
          imageTags: z.optional(z.array(matching(IMAGE_TAG, 'an image tag')).check(z.maxLength(1000))),
          registry: z.optional(matching(ACCOUNT_ID, 'a 12-digit registry (account) id')),
        }),
      ),
    }),
  ),
});

// Inspector's schema: every field optional; timestamps inside detail are not ISO-8601, so none are parsed.
export const InspectorFindingEvent = z.looseObject({
  ...eventEnvelope,
  source: z.literal('aws.inspector2'),
  'detail-type': z.literal('Inspector2 Finding'),
  detail: z.looseObject({
    awsAccountId: z.optional(matching(ACCOUNT_ID, 'a 12-digit account id')),
    findingArn: str(),
    type: str(),
    severity: z.optional(z.enum(SEVERITIES)),
    status: z.optional(z.enum(FINDING_STATUSES)),
    title: str(),
    exploitAvailable: EXPLOIT_AVAILABLE,
    fixAvailable: FIX_AVAILABLE,
    // EPSS: a probability, 0 to 1 (https://www.first.org/epss/model).
    epss: z.optional(z.looseObject({ score: z.optional(z.number().check(z.minimum(0), z.maximum(1))) })),
    packageVulnerabilityDetails: z.optional(z.looseObject({ vulnerabilityId: str(), vulnerablePackages: z.optional(z.array(Package)) })),
    resources: z.optional(z.array(EcrImageResource)),
  }),
});

export const InspectorScanEvent = scanResultEvent('aws.inspector2', 'Inspector2 Scan', SCAN_STATUS);

const yes = (value: string | undefined): boolean | undefined => (value === undefined ? undefined : value === 'YES');

/**
 * Inspector publishes one event per CVE per image. Only ACTIVE findings may act: Inspector CLOSES findings when an
 * image is archived or deleted, so acting on CLOSED would re-quarantine in a loop (aws-facts §3).
 */
export function normaliseInspectorFinding(event: unknown, home?: Home): ImageFinding {
  const parsed = InspectorFindingEvent.safeParse(event);
  if (!parsed.success) throw InvalidEventError.fromZod(parsed.error);
  const { detail, ...envelope } = parsed.data;
  const origin = envelopeOrigin({ account: detail.awsAccountId ?? envelope.account, region: envelope.region }, home);
  if (envelope.account !== undefined && envelope.account !== origin.account) throw new InvalidEventError('account', `is ${envelope.account}; the finding is from ${origin.account}`);
  const findingArn = required(detail.findingArn, 'detail.findingArn');
  assertSameOrigin(parseInspectorFindingArn(findingArn, 'detail.findingArn'), origin, 'detail.findingArn');
  const resources = detail.resources ?? [];
  const index = resources.findIndex((r) => r.type === 'AWS_ECR_CONTAINER_IMAGE');
  if (index < 0) throw new InvalidEventError('detail.resources', 'has no AWS_ECR_CONTAINER_IMAGE resource');
  const image = required(resources[index]!.details?.awsEcrContainerImage, `detail.resources.${index}.details.awsEcrContainerImage`);
  const field = `detail.resources.${index}.details.awsEcrContainerImage`;
  if (image.registry !== undefined && image.registry !== origin.account) throw new InvalidEventError(`${field}.registry`, `is ${image.registry}; the finding is from ${origin.account}`);
  const severity = required(detail.severity, 'detail.severity');
  const status = required(detail.status, 'detail.status');
  const cve = detail.packageVulnerabilityDetails;
  const packages = cve?.vulnerablePackages ?? [];
  const vulnerability: ImageVulnerability | undefined = cve?.vulnerabilityId
    ? {
        id: bounded(cve.vulnerabilityId, TEXT.short),
        severity,
        package: bounded(packages.map((p) => p.name).filter(Boolean).join(', '), TEXT.name) || undefined,
        fixedVersion: bounded(packages.find((p) => p.fixedInVersion)?.fixedInVersion, TEXT.short),
        exploitAvailable: yes(detail.exploitAvailable),
        fixAvailable: yes(detail.fixAvailable),
        epss: detail.epss?.score,
      }
    : undefined;
  return {
    kind: 'image',
    source: 'inspector-finding',
    id: findingArn,
    ...origin,
    repository: required(image.repositoryName, `${field}.repositoryName`),
    digest: required(image.imageHash, `${field}.imageHash`),
    tags: (image.imageTags ?? []).slice(0, 100),
    status,
    actionable: status === 'ACTIVE',
    severityCounts: { [severity]: 1 },
    vulnerabilities: vulnerability ? [vulnerability] : [],
    title: bounded(detail.title ?? cve?.vulnerabilityId ?? detail.type ?? 'Inspector finding', TEXT.name),
    observedAt: bounded(envelope.time, 64) ?? new Date(0).toISOString(),
  };
}

/**
 * Inspector2 Scan's `repository-name` holds the repository ARN (`arn:<partition>:ecr:<region>:<account>:repository/<name>`):
 * the name, once the ARN is shown to be of the event's own account and region. A bare name is taken as it is.
 */
function repositoryNameFrom(value: string, origin: { account: string; region: string }, field = 'detail.repository-name'): string {
  const name = value.startsWith('arn:') ? parseArn(value, field, 'ecr', REPOSITORY_RESOURCE) : undefined;
  if (name) assertSameOrigin(name, origin, field);
  const repository = name ? name.resource.slice('repository/'.length) : value;
  if (!REPOSITORY_NAME.test(repository)) throw new InvalidEventError(field, 'is not an ECR repository name or ARN');
  return repository;
}

/** Inspector's initial scan of an image: counts by severity (with a TOTAL key), no CVE ids. */
export function normaliseInspectorScan(event: unknown, home?: Home): ImageFinding {
  const parsed = InspectorScanEvent.safeParse(event);
  if (!parsed.success) throw InvalidEventError.fromZod(parsed.error);
  const { detail, ...envelope } = parsed.data;
  const origin = envelopeOrigin(envelope, home);
  const status = required(detail['scan-status'], 'detail.scan-status');
  const { TOTAL: _total, ...counts } = detail['finding-severity-counts'] ?? {};
  return {
    kind: 'image',
    source: 'inspector-scan',
    id: required(envelope.id, 'id'),
    ...origin,
    repository: repositoryNameFrom(required(detail['repository-name'], 'detail.repository-name'), origin),
    digest: required(detail['image-digest'], 'detail.image-digest'),
    tags: (detail['image-tags'] ?? []).slice(0, 100),
    status,
    actionable: status === 'INITIAL_SCAN_COMPLETE',
    severityCounts: counts,
    vulnerabilities: [],
    title: `Inspector image scan ${status}`,
    observedAt: envelope.time ?? new Date(0).toISOString(),
  };
}
