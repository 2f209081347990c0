import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import type * as S3 from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/core/serde';
import { hashHex } from './ids';
import { notModelledError, serviceError } from './service-error';
import type { OperationInput } from './service-error';

type Result<T> = Omit<T, '$metadata'>;

export interface S3ObjectVersion {
  key: string;
  body: string;
  versionId: string;
  etag: string;
  contentType?: string;
  metadata: Record<string, string>;
  lastModified: Date;
}

export class S3Model {
  /** bucket → key → versions, oldest first. */
  readonly buckets = new Map<string, Map<string, S3ObjectVersion[]>>();
  private versionCounter = 0;

  constructor(private readonly now: () => Date) {}

  createBucket(name: string): void {
    if (!this.buckets.has(name)) this.buckets.set(name, new Map());
  }

  /** The latest version of every object in the bucket, by key. */
  objects(bucket: string): S3ObjectVersion[] {
    return [...(this.buckets.get(bucket)?.values() ?? [])].map((versions) => versions[versions.length - 1]!).sort((a, b) => a.key.localeCompare(b.key));
  }

  object(bucket: string, key: string): S3ObjectVersion | undefined {
    return this.buckets.get(bucket)?.get(key)?.at(-1);
  }

  versions(bucket: string, key: string): S3ObjectVersion[] {
    return [...(this.buckets.get(bucket)?.get(key) ?? [])];
  }

  async handle(operation: string, input: OperationInput): Promise<unknown> {
    switch (operation) {
      case 'PutObject': return this.putObject(input as S3.PutObjectRequest);
      case 'GetObject': return this.getObject(input as S3.GetObjectRequest);
      case 'ListObjectsV2': return this.listObjectsV2(input as S3.ListObjectsV2Request);
      default: return undefined;
    }
  }

  private bucket(name: string | undefined): Map<string, S3ObjectVersion[]> {
    const bucket = name ? this.buckets.get(name) : undefined;
    if (!bucket) throw serviceError('s3', 'NoSuchBucket', 404, 'The specified bucket does not exist');
    return bucket;
  }

  private async putObject(input: S3.PutObjectRequest): Promise<Result<S3.PutObjectOutput>> {
    const bucket = this.bucket(input.Bucket);
    const body = await bodyText(input.Body);
    // The evidence bucket is versioned: every put of a key is a new version.
    const version: S3ObjectVersion = {
      key: input.Key!,
      body,
      versionId: hashHex(`${input.Bucket}/${input.Key}#${this.versionCounter++}`, 32),
      etag: `"${createHash('md5').update(body).digest('hex')}"`,
      contentType: input.ContentType,
      metadata: { ...input.Metadata },
      lastModified: this.now(),
    };
    bucket.set(version.key, [...(bucket.get(version.key) ?? []), version]);
    return { ETag: version.etag, VersionId: version.versionId };
  }

  private getObject(input: S3.GetObjectRequest): Result<S3.GetObjectOutput> {
    const versions = this.bucket(input.Bucket).get(input.Key ?? '') ?? [];
    const version = input.VersionId ? versions.find((v) => v.versionId === input.VersionId) : versions.at(-1);
    if (!version) throw serviceError('s3', input.VersionId && versions.length ? 'NoSuchVersion' : 'NoSuchKey', 404, 'The specified key does not exist.');
    const bytes = Buffer.from(version.body, 'utf8');
    return {
      Body: sdkStreamMixin(Readable.from([bytes])) as S3.GetObjectOutput['Body'],
      ContentLength: bytes.length,
      ContentType: version.contentType,
      ETag: version.etag,
      VersionId: version.versionId,
      Metadata: { ...version.metadata },
      LastModified: version.lastModified,
    };
  }

  private listObjectsV2(input: S3.ListObjectsV2Request): Result<S3.ListObjectsV2Output> {
    this.bucket(input.Bucket);
    const all = this.objects(input.Bucket!);
    const matching = all.filter((o) => o.key.startsWith(input.Prefix ?? '') && (!input.StartAfter || o.key > input.StartAfter));
    const start = input.ContinuationToken ? Number(Buffer.from(input.ContinuationToken, 'base64').toString()) : 0;
    const maxKeys = input.MaxKeys ?? 1000;
    const page = matching.slice(start, start + maxKeys);
    const truncated = start + maxKeys < matching.length;
    return {
      Name: input.Bucket,
      Prefix: input.Prefix,
      MaxKeys: maxKeys,
      KeyCount: page.length,
      IsTruncated: truncated,
      ContinuationToken: input.ContinuationToken,
      NextContinuationToken: truncated ? Buffer.from(String(start + maxKeys)).toString('base64') : undefined,
      Contents: page.map((o) => ({ Key: o.key, Size: Buffer.byteLength(o.body), ETag: o.etag, LastModified: o.lastModified, StorageClass: 'STANDARD' })),
    };
  }
}

async function bodyText(body: unknown): Promise<string> {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
  if (body instanceof Readable) {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
    return Buffer.concat(chunks).toString('utf8');
  }
  if (body instanceof Blob) return body.text();
  throw notModelledError(`s3:PutObject Body of type ${typeof body} is not modelled`);
}
