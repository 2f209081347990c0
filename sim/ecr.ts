import type * as ECR from '@aws-sdk/client-ecr';
import { sha256Digest } from './ids';
import { checkBatchSize, pageOf } from './pagination';
import { serviceError } from './service-error';
import type { OperationInput } from './service-error';

type Result<T> = Omit<T, '$metadata'>;

export interface RepositoryState {
  repositoryName: string;
  repositoryArn: string;
  imageTagMutability: 'MUTABLE' | 'IMMUTABLE';
  createdAt: Date;
  /**
   * Refuse ARCHIVE with ImageStorageClassUpdateNotSupportedException. The API lists that error but not when it is
   * raised (API_UpdateImageStorageClass), so a test sets this to reach the responder's tag fallback without faults.
   */
  refusesArchive?: boolean;
}

export interface ImageState {
  repositoryName: string;
  imageDigest: string;
  imageTags: string[];
  manifest: string;
  manifestMediaType: string;
  pushedAt: Date;
  sizeInBytes: number;
  imageStatus: 'ACTIVE' | 'ARCHIVED' | 'ACTIVATING';
  lastArchivedAt?: Date;
  lastActivatedAt?: Date;
  /** While ACTIVATING: the simulated time (ms, see EcrModel.advance) the restore completes. */
  activeAtMs?: number;
}

/**
 * "Restoring an image typically takes up to 20 minutes … the image remains archived and cannot be pulled until
 * restore completes" (https://docs.aws.amazon.com/AmazonECR/latest/userguide/restore-image.html).
 */
const RESTORE_MS = 20 * 60_000;

export type PullResult = { ok: true } | { ok: false; reason: string };

const MANIFEST_MEDIA_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';

export interface EcrEmitter {
  (detailType: 'ECR Image Action', resources: string[], detail: Record<string, unknown>): void;
}

export class EcrModel {
  readonly repositories = new Map<string, RepositoryState>();
  /** repository name → digest → image */
  readonly images = new Map<string, Map<string, ImageState>>();
  /** Simulated time (ms) restores run on: it moves only through `advance` and `settle`, so tests are deterministic. */
  private elapsedMs = 0;

  constructor(
    private readonly accountId: string,
    private readonly region: string,
    private readonly now: () => Date,
    private readonly emit: EcrEmitter,
  ) {}

  // ---- seeding and inspection ----

  createRepository(name: string, options: { imageTagMutability?: 'MUTABLE' | 'IMMUTABLE' } = {}): RepositoryState {
    const existing = this.repositories.get(name);
    if (existing) return existing;
    const repository: RepositoryState = {
      repositoryName: name,
      repositoryArn: `arn:aws:ecr:${this.region}:${this.accountId}:repository/${name}`,
      imageTagMutability: options.imageTagMutability ?? 'MUTABLE',
      createdAt: this.now(),
    };
    this.repositories.set(name, repository);
    this.images.set(name, new Map());
    return repository;
  }

  /** Seeds an image (creating its repository). The manifest defaults to one unique to the digest. */
  putImage(options: { repository: string; digest?: string; tags?: string[]; manifest?: string }): ImageState {
    this.createRepository(options.repository);
    const images = this.images.get(options.repository)!;
    const manifest = options.manifest ?? syntheticManifest(options.repository, options.digest ?? options.tags?.join(',') ?? 'latest');
    // Seeded digests come from events, so they need not be the manifest's hash; PutImage finds images by manifest.
    const digest = options.digest ?? sha256Digest(manifest);
    const image = images.get(digest) ?? {
      repositoryName: options.repository,
      imageDigest: digest,
      imageTags: [],
      manifest,
      manifestMediaType: MANIFEST_MEDIA_TYPE,
      pushedAt: this.now(),
      sizeInBytes: 20_000_000 + (parseInt(digest.slice(7, 13), 16) || 0),
      imageStatus: 'ACTIVE' as const,
    };
    images.set(digest, image);
    for (const tag of options.tags ?? []) {
      for (const other of images.values()) other.imageTags = other.imageTags.filter((t) => t !== tag);
      image.imageTags.push(tag);
    }
    return image;
  }

  image(repository: string, digest: string): ImageState | undefined {
    return this.images.get(repository)?.get(digest);
  }

  /** Makes UpdateImageStorageClass ARCHIVE refuse (or accept again) in this repository. */
  setArchiveRefused(repository: string, refused = true): void {
    this.createRepository(repository).refusesArchive = refused;
  }

  /** Lets `ms` of simulated time pass: restores that fall due become ACTIVE. */
  advance(ms: number): void {
    this.elapsedMs += ms;
    for (const image of [...this.images.values()].flatMap((images) => [...images.values()])) {
      if (image.imageStatus === 'ACTIVATING' && image.activeAtMs! <= this.elapsedMs) this.activate(image);
    }
  }

  /** Lets every restore finish: `account.ecr.settle()`. */
  settle(): void {
    this.advance(RESTORE_MS);
  }

  private activate(image: ImageState): void {
    image.imageStatus = 'ACTIVE';
    image.activeAtMs = undefined;
    image.lastActivatedAt = this.now();
  }

  /** What ECS gets when it pulls an image by digest: archived and still-restoring images fail with 404 (archive-image.html, restore-image.html). */
  pull(repository: string, digest: string): PullResult {
    const image = this.image(repository, digest);
    const reference = `${this.accountId}.dkr.ecr.${this.region}.amazonaws.com/${repository}@${digest}`;
    if (!image) return { ok: false, reason: `CannotPullContainerError: pull image manifest has been retried 5 time(s): ${reference}: not found` };
    if (image.imageStatus !== 'ACTIVE') {
      return { ok: false, reason: `CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref ${reference}: unexpected status from HEAD request: 404 Not Found (image is archived)` };
    }
    return { ok: true };
  }

  // ---- API ----

  handle(operation: string, input: OperationInput): unknown {
    switch (operation) {
      case 'DescribeImages': return this.describeImages(input as ECR.DescribeImagesRequest);
      case 'ListImages': return this.listImages(input as ECR.ListImagesRequest);
      case 'BatchGetImage': return this.batchGetImage(input as ECR.BatchGetImageRequest);
      case 'PutImage': return this.putImageApi(input as ECR.PutImageRequest);
      case 'BatchDeleteImage': return this.batchDeleteImage(input as ECR.BatchDeleteImageRequest);
      case 'UpdateImageStorageClass': return this.updateImageStorageClass(input as ECR.UpdateImageStorageClassRequest);
      default: return undefined;
    }
  }

  private repo(name: string | undefined): Map<string, ImageState> {
    const images = name ? this.images.get(name) : undefined;
    if (!images) {
      throw serviceError('ecr', 'RepositoryNotFoundException', 400, `The repository with name '${name}' does not exist in the registry with id '${this.accountId}'`);
    }
    return images;
  }

  /** Finds an image by digest and/or tag; a tag that names another digest does not match. */
  private find(images: Map<string, ImageState>, id: ECR.ImageIdentifier): ImageState | undefined {
    const byDigest = id.imageDigest ? images.get(id.imageDigest) : undefined;
    const byTag = id.imageTag ? [...images.values()].find((i) => i.imageTags.includes(id.imageTag!)) : undefined;
    if (id.imageDigest && id.imageTag) return byDigest && byDigest === byTag ? byDigest : undefined;
    return byDigest ?? byTag;
  }

  private imageNotFound(repositoryName: string | undefined, id: ECR.ImageIdentifier): Error {
    return serviceError('ecr', 'ImageNotFoundException', 400, `The image with imageId ${JSON.stringify(id)} does not exist within the repository with name '${repositoryName}' in the registry with id '${this.accountId}'`);
  }

  private detail(image: ImageState): ECR.ImageDetail {
    return {
      registryId: this.accountId,
      repositoryName: image.repositoryName,
      imageDigest: image.imageDigest,
      imageTags: image.imageTags.length ? [...image.imageTags] : undefined,
      imageSizeInBytes: image.sizeInBytes,
      imagePushedAt: image.pushedAt,
      imageManifestMediaType: image.manifestMediaType,
      imageStatus: image.imageStatus,
      lastArchivedAt: image.lastArchivedAt,
      lastActivatedAt: image.lastActivatedAt,
    };
  }

  /** Listing without an imageStatus filter returns ACTIVE images only (DescribeImagesFilter / ListImagesFilter docs). */
  private listed(images: Map<string, ImageState>, filter: { tagStatus?: string; imageStatus?: string } | undefined): ImageState[] {
    const status = filter?.imageStatus ?? 'ACTIVE';
    return [...images.values()]
      .filter((image) => status === 'ANY' || image.imageStatus === status)
      .filter((image) => {
        if (filter?.tagStatus === 'TAGGED') return image.imageTags.length > 0;
        if (filter?.tagStatus === 'UNTAGGED') return image.imageTags.length === 0;
        return true;
      });
  }

  private describeImages(input: ECR.DescribeImagesRequest): Result<ECR.DescribeImagesResponse> {
    const images = this.repo(input.repositoryName);
    if (input.imageIds) {
      // imageIds: 1 to 100 items; maxResults and nextToken "cannot be used when you specify images with imageIds"
      // (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImages.html).
      checkBatchSize('ecr', 'imageIds', input.imageIds, 100);
      if (input.maxResults !== undefined || input.nextToken !== undefined) {
        throw serviceError('ecr', 'InvalidParameterException', 400, 'maxResults and nextToken cannot be used with imageIds.');
      }
      // Asking by id returns the image whatever its storage class (archived images stay visible, archive-image.html).
      return {
        imageDetails: input.imageIds.map((id) => {
          const image = this.find(images, id);
          if (!image) throw this.imageNotFound(input.repositoryName, id);
          return this.detail(image);
        }),
      };
    }
    // Up to 1000 per page, 100 when maxResults is not given (API_DescribeImages).
    const { page, nextToken } = pageOf('ecr', this.listed(images, input.filter), input, { defaultSize: 100, maxSize: 1000 });
    return { imageDetails: page.map((image) => this.detail(image)), nextToken };
  }

  /** Up to 1000 per page, 100 when maxResults is not given (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_ListImages.html). */
  private listImages(input: ECR.ListImagesRequest): Result<ECR.ListImagesResponse> {
    const images = this.repo(input.repositoryName);
    const imageIds = this.listed(images, input.filter).flatMap((image) =>
      image.imageTags.length ? image.imageTags.map((imageTag) => ({ imageDigest: image.imageDigest, imageTag })) : [{ imageDigest: image.imageDigest }],
    );
    const { page, nextToken } = pageOf('ecr', imageIds, input, { defaultSize: 100, maxSize: 1000 });
    return { imageIds: page, nextToken };
  }

  private batchGetImage(input: ECR.BatchGetImageRequest): Result<ECR.BatchGetImageResponse> {
    const images = this.repo(input.repositoryName);
    checkBatchSize('ecr', 'imageIds', input.imageIds, 100); // 1 to 100 items (API_BatchGetImage)
    const result: Result<ECR.BatchGetImageResponse> = { images: [], failures: [] };
    for (const id of input.imageIds ?? []) {
      const image = this.find(images, id);
      if (!image) {
        result.failures!.push({ imageId: id, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' });
      } else if (image.imageStatus !== 'ACTIVE') {
        // BatchGetImage is the manifest fetch of a pull, and "requests to pull the archived image will fail with a
        // 404" (https://docs.aws.amazon.com/AmazonECR/latest/userguide/archive-image.html). The failure code AWS
        // reports for it is not documented; ImageNotFound is the simulator's choice.
        result.failures!.push({ imageId: id, failureCode: 'ImageNotFound', failureReason: 'Requested image is archived' });
      } else {
        result.images!.push({
          registryId: this.accountId,
          repositoryName: image.repositoryName,
          imageId: { imageDigest: image.imageDigest, imageTag: id.imageTag },
          imageManifest: image.manifest,
          imageManifestMediaType: image.manifestMediaType,
        });
      }
    }
    return result;
  }

  private putImageApi(input: ECR.PutImageRequest): Result<ECR.PutImageResponse> {
    const images = this.repo(input.repositoryName);
    const repository = this.repositories.get(input.repositoryName!)!;
    if (!input.imageManifest) throw serviceError('ecr', 'InvalidParameterException', 400, 'imageManifest is required');
    const existing = [...images.values()].find((image) => image.manifest === input.imageManifest);
    const digest = existing?.imageDigest ?? sha256Digest(input.imageManifest);
    if (input.imageDigest && input.imageDigest !== digest) {
      throw serviceError('ecr', 'ImageDigestDoesNotMatchException', 400, `The specified image digest ${input.imageDigest} does not match the digest of the manifest ${digest}`);
    }
    const tag = input.imageTag;
    const wasArchived = existing !== undefined && existing.imageStatus !== 'ACTIVE';
    // Re-pushing an archived image restores it to standard storage (https://docs.aws.amazon.com/AmazonECR/latest/userguide/archive-image.html).
    if (existing && !wasArchived && (tag === undefined || existing.imageTags.includes(tag))) {
      throw serviceError('ecr', 'ImageAlreadyExistsException', 400, `Image with digest '${digest}'${tag ? ` and tag '${tag}'` : ''} already exists in the repository with name '${input.repositoryName}' in registry with id '${this.accountId}'`);
    }
    const holder = tag ? [...images.values()].find((image) => image.imageTags.includes(tag) && image.imageDigest !== digest) : undefined;
    if (holder && repository.imageTagMutability === 'IMMUTABLE') {
      throw serviceError('ecr', 'ImageTagAlreadyExistsException', 400, `The image tag '${tag}' already exists in the '${input.repositoryName}' repository and cannot be overwritten because the repository is immutable.`);
    }
    // Moving a mutable tag leaves the previous image untagged, not deleted.
    if (holder) holder.imageTags = holder.imageTags.filter((t) => t !== tag);
    const image = existing ?? this.putImage({ repository: input.repositoryName!, digest, manifest: input.imageManifest });
    if (tag && !image.imageTags.includes(tag)) image.imageTags.push(tag);
    // "When you push an image that is currently archived, that image will be restored immediately" (restore-image.html).
    if (wasArchived) this.activate(image);
    if (input.imageManifestMediaType) image.manifestMediaType = input.imageManifestMediaType;
    this.emitAction('PUSH', image, tag);
    return {
      image: {
        registryId: this.accountId,
        repositoryName: image.repositoryName,
        imageId: { imageDigest: image.imageDigest, imageTag: tag },
        imageManifest: image.manifest,
        imageManifestMediaType: image.manifestMediaType,
      },
    };
  }

  private batchDeleteImage(input: ECR.BatchDeleteImageRequest): Result<ECR.BatchDeleteImageResponse> {
    const images = this.repo(input.repositoryName);
    checkBatchSize('ecr', 'imageIds', input.imageIds, 100); // 1 to 100 items (API_BatchDeleteImage)
    const result: Result<ECR.BatchDeleteImageResponse> = { imageIds: [], failures: [] };
    for (const id of input.imageIds ?? []) {
      if (!id.imageDigest && !id.imageTag) {
        result.failures!.push({ imageId: id, failureCode: 'MissingDigestAndTag', failureReason: 'Invalid request: both digest and tag are missing' });
        continue;
      }
      const image = this.find(images, id);
      if (!image) {
        const code = id.imageDigest && id.imageTag && images.has(id.imageDigest) ? 'ImageTagDoesNotMatchDigest' : 'ImageNotFound';
        result.failures!.push({ imageId: id, failureCode: code, failureReason: code === 'ImageNotFound' ? 'Requested image not found' : 'Invalid image tag for the digest' });
        continue;
      }
      if (id.imageTag && !id.imageDigest) {
        image.imageTags = image.imageTags.filter((t) => t !== id.imageTag);
        result.imageIds!.push({ imageDigest: image.imageDigest, imageTag: id.imageTag });
        // "When you remove the last tag from an image, the image is deleted." (API_BatchDeleteImage)
        if (image.imageTags.length === 0) this.deleteImage(images, image);
      } else {
        for (const imageTag of image.imageTags) result.imageIds!.push({ imageDigest: image.imageDigest, imageTag });
        if (!image.imageTags.length) result.imageIds!.push({ imageDigest: image.imageDigest });
        this.deleteImage(images, image);
      }
    }
    return result;
  }

  private deleteImage(images: Map<string, ImageState>, image: ImageState): void {
    images.delete(image.imageDigest);
    this.emitAction('DELETE', image, image.imageTags[0]);
  }

  private updateImageStorageClass(input: ECR.UpdateImageStorageClassRequest): Result<ECR.UpdateImageStorageClassResponse> {
    const images = this.repo(input.repositoryName);
    if (input.targetStorageClass !== 'ARCHIVE' && input.targetStorageClass !== 'STANDARD') {
      throw serviceError('ecr', 'InvalidParameterException', 400, `Invalid targetStorageClass '${input.targetStorageClass}'`);
    }
    const image = input.imageId ? this.find(images, input.imageId) : undefined;
    if (!image) throw this.imageNotFound(input.repositoryName, input.imageId ?? {});
    const repository = this.repositories.get(image.repositoryName)!;
    if (input.targetStorageClass === 'ARCHIVE' && (repository.refusesArchive || image.imageStatus === 'ACTIVATING')) {
      // Archiving an image that is still being restored is not documented either: refused here, the strict choice.
      throw serviceError('ecr', 'ImageStorageClassUpdateNotSupportedException', 400, `The requested image storage class update is not supported (image status ${image.imageStatus}).`);
    }
    // Repeating a transition to the class the image is already in is treated as a no-op; AWS does not document it.
    if (input.targetStorageClass === 'ARCHIVE' && image.imageStatus === 'ACTIVE') {
      image.imageStatus = 'ARCHIVED';
      image.lastArchivedAt = this.now();
    } else if (input.targetStorageClass === 'STANDARD' && image.imageStatus === 'ARCHIVED') {
      // Restores are asynchronous: ACTIVATING until RESTORE_MS of simulated time has passed (restore-image.html).
      image.imageStatus = 'ACTIVATING';
      image.activeAtMs = this.elapsedMs + RESTORE_MS;
    }
    return {
      registryId: this.accountId,
      repositoryName: image.repositoryName,
      imageId: { imageDigest: image.imageDigest, imageTag: input.imageId?.imageTag },
      imageStatus: image.imageStatus,
    };
  }

  private emitAction(action: 'PUSH' | 'DELETE', image: ImageState, tag: string | undefined): void {
    this.emit('ECR Image Action', [], {
      result: 'SUCCESS',
      'repository-name': image.repositoryName,
      'image-digest': image.imageDigest,
      'action-type': action,
      ...(tag ? { 'image-tag': tag } : {}),
    });
  }
}

function syntheticManifest(repository: string, seed: string): string {
  const config = sha256Digest(`config:${repository}:${seed}`);
  const layer = sha256Digest(`layer:${repository}:${seed}`);
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA_TYPE,
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: 1470, digest: config },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: 3_370_706, digest: layer }],
  });
}
