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
  return registry !== undefined && /^\d{12}\.dkr\.ecr\.[\w-]+\.amazonaws\.com(\.cn)?$/.test(registry);
}

/** The ledger id and ledger target of an image quarantine: one per repository and digest. */
export function imageLedgerId(repository: string, digest: string): string {
  return `image:${repository}@${digest}`;
}

export function imageUri(account: string, region: string, repository: string, digest: string): string {
  return `${account}.dkr.ecr.${region}.amazonaws.com/${repository}@${digest}`;
}
