/** A container image reference, `[registry/]repository[:tag][@digest]`, split into its parts. */
export interface ImageReference {
  registry?: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export function parseImageReference(image: string): ImageReference {
  const [name = '', digest] = image.split('@', 2);
  const slash = name.indexOf('/');
  const first = slash >= 0 ? name.slice(0, slash) : '';
  // The first path segment is a registry host when it has a dot or a port (Docker's own rule).
  const registry = slash >= 0 && /[.:]/.test(first) ? first : undefined;
  const path = registry ? name.slice(slash + 1) : name;
  const colon = path.lastIndexOf(':');
  return {
    registry,
    repository: colon > path.lastIndexOf('/') && colon >= 0 ? path.slice(0, colon) : path,
    tag: colon > path.lastIndexOf('/') && colon >= 0 ? path.slice(colon + 1) : undefined,
    digest: digest || undefined,
  };
}

/** Private ECR registries look like `<account>.dkr.ecr.<region>.amazonaws.com` (ECS reports digests only for ECR images). */
export function isEcrRegistry(registry: string | undefined): boolean {
  return ecrRegistryOf(registry) !== undefined;
}

/** An ECR image and the registry it is in: the registry's account and region. */
export interface ImageInRegistry {
  account: string;
  region: string;
  repository: string;
  digest: string;
}

/** The responder's own account and region (deploymentHome). */
export type HomeRegistry = { account: string; region: string };

/**
 * The ledger id and ledger target of an image quarantine: one per image, that is per registry, repository and digest.
 * The responder's own registry keeps the short `image:<repo>@<digest>` (records written before organization-wide
 * response stay readable, with no migration); any other account's or region's image is named by its full URI,
 * `image:<account>.dkr.ecr.<region>.amazonaws.com/<repo>@<digest>`, so the same repository and digest in two
 * members never share a quarantine. Both forms still split on '@' into what is before the digest and the digest.
 */
export function imageLedgerId(image: ImageInRegistry, home: HomeRegistry): string {
  const own = image.account === home.account && image.region === home.region;
  return `image:${own ? `${image.repository}@${image.digest}` : imageUri(image.account, image.region, image.repository, image.digest)}`;
}

const QUALIFIED = /^image:(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com\/(.+)@(sha256:[a-f0-9]+)$/;
const SHORT = /^image:(.+)@(sha256:[a-f0-9]+)$/;

/** The image a ledger id or target names (a short id: the responder's own registry); undefined for anything else. */
export function imageOfLedgerId(id: string, home: HomeRegistry): ImageInRegistry | undefined {
  const qualified = QUALIFIED.exec(id);
  if (qualified) return { account: qualified[1]!, region: qualified[2]!, repository: qualified[3]!, digest: qualified[4]! };
  const short = SHORT.exec(id);
  return short ? { ...home, repository: short[1]!, digest: short[2]! } : undefined;
}

/** The account and region of a private ECR registry host (`<account>.dkr.ecr.<region>.amazonaws.com`). */
export function ecrRegistryOf(registry: string | undefined): HomeRegistry | undefined {
  const match = /^(\d{12})\.dkr\.ecr\.([\w-]+)\.amazonaws\.com(\.cn)?$/.exec(registry ?? '');
  return match ? { account: match[1]!, region: match[2]! } : undefined;
}

export function imageUri(account: string, region: string, repository: string, digest: string): string {
  return `${account}.dkr.ecr.${region}.amazonaws.com/${repository}@${digest}`;
}
