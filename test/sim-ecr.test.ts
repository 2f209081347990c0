import { describe, it, expect } from 'vitest';
import {
  BatchDeleteImageCommand,
  BatchGetImageCommand,
  DescribeImagesCommand,
  ListImagesCommand,
  PutImageCommand,
  UpdateImageStorageClassCommand,
} from '@aws-sdk/client-ecr';
import { SimulatedAccount } from '../sim/account';

const DIGEST = `sha256:${'cd'.repeat(32)}`;

function repositoryWithImage(tags: string[], options: { imageTagMutability?: 'MUTABLE' | 'IMMUTABLE' } = {}) {
  const account = new SimulatedAccount();
  account.createRepository('orders-web', options);
  account.putImage({ repository: 'orders-web', digest: DIGEST, tags });
  return { account, ecr: account.clients().ecr };
}

describe('simulated ECR', () => {
  it('retags through BatchGetImage + PutImage; the same tag again is ImageAlreadyExistsException', async () => {
    const { account, ecr } = repositoryWithImage(['1.0']);
    const got = await ecr.send(new BatchGetImageCommand({ repositoryName: 'orders-web', imageIds: [{ imageDigest: DIGEST }] }));
    const manifest = got.images![0]!.imageManifest!;
    const put = await ecr.send(new PutImageCommand({ repositoryName: 'orders-web', imageManifest: manifest, imageTag: 'quarantine-f1' }));
    expect(put.image!.imageId).toEqual({ imageDigest: DIGEST, imageTag: 'quarantine-f1' });
    expect(account.ecr.image('orders-web', DIGEST)!.imageTags).toEqual(['1.0', 'quarantine-f1']);
    await expect(ecr.send(new PutImageCommand({ repositoryName: 'orders-web', imageManifest: manifest, imageTag: 'quarantine-f1' }))).rejects.toMatchObject({
      name: 'ImageAlreadyExistsException',
    });
    expect(account.drainEvents().map((e) => [e['detail-type'], e.detail['action-type'], e.detail['image-tag']])).toEqual([['ECR Image Action', 'PUSH', 'quarantine-f1']]);
  });

  it('refuses to move an existing tag in an IMMUTABLE repository', async () => {
    const { account, ecr } = repositoryWithImage(['1.0'], { imageTagMutability: 'IMMUTABLE' });
    account.putImage({ repository: 'orders-web', digest: `sha256:${'ef'.repeat(32)}`, tags: ['2.0'] });
    const manifest = account.ecr.image('orders-web', `sha256:${'ef'.repeat(32)}`)!.manifest;
    await expect(ecr.send(new PutImageCommand({ repositoryName: 'orders-web', imageManifest: manifest, imageTag: '1.0' }))).rejects.toMatchObject({
      name: 'ImageTagAlreadyExistsException',
    });
  });

  it('deletes the image when its last tag is removed, but only untags while other tags remain', async () => {
    const { account, ecr } = repositoryWithImage(['1.0', 'latest']);
    const first = await ecr.send(new BatchDeleteImageCommand({ repositoryName: 'orders-web', imageIds: [{ imageTag: 'latest' }] }));
    expect(first.imageIds).toEqual([{ imageDigest: DIGEST, imageTag: 'latest' }]);
    expect(account.ecr.image('orders-web', DIGEST)!.imageTags).toEqual(['1.0']);

    await ecr.send(new BatchDeleteImageCommand({ repositoryName: 'orders-web', imageIds: [{ imageTag: '1.0' }] }));
    expect(account.ecr.image('orders-web', DIGEST)).toBeUndefined();
    const missing = await ecr.send(new BatchDeleteImageCommand({ repositoryName: 'orders-web', imageIds: [{ imageDigest: DIGEST }] }));
    expect(missing.failures).toEqual([expect.objectContaining({ failureCode: 'ImageNotFound' })]);
    await expect(ecr.send(new DescribeImagesCommand({ repositoryName: 'orders-web', imageIds: [{ imageDigest: DIGEST }] }))).rejects.toMatchObject({
      name: 'ImageNotFoundException',
    });
    await expect(ecr.send(new ListImagesCommand({ repositoryName: 'nope' }))).rejects.toMatchObject({ name: 'RepositoryNotFoundException' });
  });

  it('archives an image: still described, hidden from default listings, unpullable; a re-push restores it', async () => {
    const { account, ecr } = repositoryWithImage(['1.0']);
    const manifest = account.ecr.image('orders-web', DIGEST)!.manifest;
    const archived = await ecr.send(new UpdateImageStorageClassCommand({ repositoryName: 'orders-web', imageId: { imageDigest: DIGEST }, targetStorageClass: 'ARCHIVE' }));
    expect(archived.imageStatus).toBe('ARCHIVED');

    const described = await ecr.send(new DescribeImagesCommand({ repositoryName: 'orders-web', imageIds: [{ imageDigest: DIGEST }] }));
    expect(described.imageDetails![0]).toMatchObject({ imageDigest: DIGEST, imageTags: ['1.0'], imageStatus: 'ARCHIVED' });
    expect((await ecr.send(new ListImagesCommand({ repositoryName: 'orders-web' }))).imageIds).toEqual([]);
    expect((await ecr.send(new ListImagesCommand({ repositoryName: 'orders-web', filter: { imageStatus: 'ANY' } }))).imageIds).toEqual([{ imageDigest: DIGEST, imageTag: '1.0' }]);
    expect(account.ecr.pull('orders-web', DIGEST)).toMatchObject({ ok: false });
    const got = await ecr.send(new BatchGetImageCommand({ repositoryName: 'orders-web', imageIds: [{ imageDigest: DIGEST }] }));
    expect(got.failures).toHaveLength(1);

    // Re-pushing restores the image to standard storage (archive-image.html): a CI push silently un-quarantines.
    await ecr.send(new PutImageCommand({ repositoryName: 'orders-web', imageManifest: manifest, imageTag: '1.0' }));
    expect(account.ecr.image('orders-web', DIGEST)!.imageStatus).toBe('ACTIVE');
    expect(account.ecr.pull('orders-web', DIGEST)).toEqual({ ok: true });
  });

  it('restores through UpdateImageStorageClass STANDARD (ACTIVATING, then ACTIVE)', async () => {
    const { account, ecr } = repositoryWithImage(['1.0']);
    await ecr.send(new UpdateImageStorageClassCommand({ repositoryName: 'orders-web', imageId: { imageTag: '1.0' }, targetStorageClass: 'ARCHIVE' }));
    const restored = await ecr.send(new UpdateImageStorageClassCommand({ repositoryName: 'orders-web', imageId: { imageDigest: DIGEST }, targetStorageClass: 'STANDARD' }));
    expect(restored.imageStatus).toBe('ACTIVATING');
    // "Restoring an image typically takes up to 20 minutes": still unpullable until then (restore-image.html).
    account.ecr.advance(19 * 60_000);
    const restoring = await ecr.send(new DescribeImagesCommand({ repositoryName: 'orders-web', imageIds: [{ imageDigest: DIGEST }] }));
    expect(restoring.imageDetails![0]!.imageStatus).toBe('ACTIVATING');
    expect(account.ecr.pull('orders-web', DIGEST)).toMatchObject({ ok: false });
    expect((await ecr.send(new BatchGetImageCommand({ repositoryName: 'orders-web', imageIds: [{ imageDigest: DIGEST }] }))).failures).toHaveLength(1);
    account.ecr.advance(60_000);
    expect(account.ecr.image('orders-web', DIGEST)!.imageStatus).toBe('ACTIVE');
    expect(account.ecr.pull('orders-web', DIGEST)).toEqual({ ok: true });
    await expect(
      ecr.send(new UpdateImageStorageClassCommand({ repositoryName: 'orders-web', imageId: { imageDigest: `sha256:${'00'.repeat(32)}` }, targetStorageClass: 'ARCHIVE' })),
    ).rejects.toMatchObject({ name: 'ImageNotFoundException' });
  });
});
