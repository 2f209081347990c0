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
  /** How S3 encrypted this version: the algorithm and, for SSE-KMS, the key's ARN. */
  encryption: ObjectEncryption;
}

export interface ObjectEncryption {
  algorithm: S3.ServerSideEncryption;
  kmsKeyArn?: string;
}

/** The x-amz-server-side-encryption values PutObject accepts (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html). */
const ALGORITHMS: readonly string[] = ['AES256', 'aws:kms', 'aws:kms:dsse'];

export class S3Model {
  /** bucket → key → versions, oldest first. */
  readonly buckets = new Map<string, Map<string, S3ObjectVersion[]>>();
  /** Each bucket's default encryption; SSE-S3 when none is set, as for every bucket since January 2023. */
  readonly defaultEncryption = new Map<string, ObjectEncryption>();
  private versionCounter = 0;

  /** `accountId` and `region` name the AWS managed key `aws/s3`; the account passes them. */
  constructor(
    private readonly now: () => Date,
    private readonly accountId = '111122223333',
    private readonly region = 'us-east-1',
  ) {}

  createBucket(name: string): void {
    if (!this.buckets.has(name)) this.buckets.set(name, new Map());
  }

  /** What PutBucketEncryption would set: the algorithm (and key) objects get when a request names no encryption. */
  setDefaultEncryption(bucket: string, encryption: ObjectEncryption): void {
    this.bucket(bucket);
    this.defaultEncryption.set(bucket, { ...encryption });
  }

  /**
   * The AWS managed key `aws/s3`, which S3 uses for SSE-KMS when the request names no key id. Its real ARN is
   * key/<uuid> and differs per account and region; the simulator derives a stable one.
   */
  awsManagedKeyArn(): string {
    return `arn:aws:kms:${this.region}:${this.accountId}:key/${hashHex(`aws/s3/${this.accountId}/${this.region}`, 32).replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-')}`;
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
    const encryption = this.encryptionFor(input);
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
      encryption,
    };
    bucket.set(version.key, [...(bucket.get(version.key) ?? []), version]);
    return { ETag: version.etag, VersionId: version.versionId, ServerSideEncryption: encryption.algorithm, SSEKMSKeyId: encryption.kmsKeyArn };
  }

  /**
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html: x-amz-server-side-encryption is AES256,
   * aws:kms or aws:kms:dsse; a key id goes with aws:kms or aws:kms:dsse only, and without one S3 uses the AWS
   * managed key (aws/s3). The bucket's default applies only "If a PUT Object request doesn't specify any server-side
   * encryption" (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ServerSideEncryptionByDefault.html).
   */
  encryptionFor(input: S3.PutObjectRequest): ObjectEncryption {
    const algorithm = input.ServerSideEncryption;
    if (algorithm !== undefined && !ALGORITHMS.includes(algorithm)) {
      throw serviceError('s3', 'InvalidArgument', 400, `The encryption method specified is not supported: ${algorithm}`);
    }
    const kms = algorithm === 'aws:kms' || algorithm === 'aws:kms:dsse';
    if (input.SSEKMSKeyId !== undefined && !kms) {
      throw serviceError('s3', 'InvalidArgument', 400, 'x-amz-server-side-encryption-aws-kms-key-id is only valid with x-amz-server-side-encryption aws:kms or aws:kms:dsse');
    }
    if (algorithm === undefined) return this.defaultEncryption.get(input.Bucket!) ?? { algorithm: 'AES256' };
    if (!kms) return { algorithm };
    return { algorithm, kmsKeyArn: input.SSEKMSKeyId ? this.keyArn(input.SSEKMSKeyId) : this.awsManagedKeyArn() };
  }

  /** S3 reports the key as an ARN; a bare key id is taken to be in this account and region. Aliases are not resolved. */
  private keyArn(keyId: string): string {
    if (keyId.startsWith('arn:')) return keyId;
    if (keyId.startsWith('alias/')) throw notModelledError(`s3:PutObject with a KMS alias (${keyId}) is not modelled: name the key by id or ARN`);
    return `arn:aws:kms:${this.region}:${this.accountId}:key/${keyId}`;
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
      ServerSideEncryption: version.encryption.algorithm,
      SSEKMSKeyId: version.encryption.kmsKeyArn,
    };
  }

  private listObjectsV2(input: S3.ListObjectsV2Request): Result<S3.ListObjectsV2Output> {
    this.bucket(input.Bucket);
    const all = this.objects(input.Bucket!);
    const matching = all.filter((o) => o.key.startsWith(input.Prefix ?? '') && (!input.StartAfter || o.key > input.StartAfter));
    const start = input.ContinuationToken ? Number(Buffer.from(input.ContinuationToken, 'base64').toString()) : 0;
    // A token S3 did not issue is refused (InvalidArgument, "The continuation token provided is incorrect"), never
    // read as the first page.
    if (!Number.isSafeInteger(start) || start < 0 || start > matching.length) throw serviceError('s3', 'InvalidArgument', 400, 'The continuation token provided is incorrect');
    // "By default the action returns up to 1,000 key names … the response might contain fewer keys but will never
    // contain more" (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html): MaxKeys above 1000 gets 1000.
    const maxKeys = Math.min(input.MaxKeys ?? 1000, 1000);
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
