import { afterEach, describe, expect, it } from 'vitest';
import { DescribeImagesCommand, ListImagesCommand, UpdateImageStorageClassCommand } from '@aws-sdk/client-ecr';
import { runRunbook } from '../shared/runbook';
import { SimulatedAccount } from '../sim/account';
import type { SimulatedDeployment } from '../sim/deployment';
import { startDeployment } from './helpers/deployment';

const REPOSITORY = 'orders-web';
const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('simulated ECR: refusals and paging', () => {
  it('refuses ARCHIVE where the repository is set to refuse it, and on an image still restoring', async () => {
    const account = new SimulatedAccount();
    account.putImage({ repository: REPOSITORY, digest: DIGEST, tags: ['1.0'] });
    const { ecr } = account.clients();
    const archive = () => ecr.send(new UpdateImageStorageClassCommand({ repositoryName: REPOSITORY, imageId: { imageDigest: DIGEST }, targetStorageClass: 'ARCHIVE' }));
    account.ecr.setArchiveRefused(REPOSITORY);
    await expect(archive()).rejects.toMatchObject({ name: 'ImageStorageClassUpdateNotSupportedException' });
    account.ecr.setArchiveRefused(REPOSITORY, false);
    await archive();
    await ecr.send(new UpdateImageStorageClassCommand({ repositoryName: REPOSITORY, imageId: { imageDigest: DIGEST }, targetStorageClass: 'STANDARD' }));
    await expect(archive()).rejects.toMatchObject({ name: 'ImageStorageClassUpdateNotSupportedException' });
    account.ecr.settle();
    expect((await archive()).imageStatus).toBe('ARCHIVED');
  });

  it('pages DescribeImages and ListImages by 100 (up to 1000 with maxResults); imageIds take no paging', async () => {
    const account = new SimulatedAccount();
    for (let i = 0; i < 120; i++) account.putImage({ repository: REPOSITORY, tags: [`v${i}`] });
    const { ecr } = account.clients();
    const first = await ecr.send(new DescribeImagesCommand({ repositoryName: REPOSITORY }));
    expect(first.imageDetails).toHaveLength(100);
    expect((await ecr.send(new DescribeImagesCommand({ repositoryName: REPOSITORY, nextToken: first.nextToken }))).imageDetails).toHaveLength(20);
    expect((await ecr.send(new ListImagesCommand({ repositoryName: REPOSITORY, maxResults: 1000 }))).imageIds).toHaveLength(120);
    await expect(ecr.send(new ListImagesCommand({ repositoryName: REPOSITORY, maxResults: 1001 }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(ecr.send(new DescribeImagesCommand({ repositoryName: REPOSITORY, imageIds: [{ imageTag: 'v1' }], maxResults: 5 }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
  });
});

describe('quarantine-image against ECR refusals (production)', () => {
  let deployment: SimulatedDeployment;
  afterEach(() => deployment?.close());

  const quarantine = (reason: string) =>
    runRunbook({ runbook: 'quarantine-image', repository: REPOSITORY, imageDigest: DIGEST, reason }, deployment.depsFor('runbook'), 'carol');

  it('falls back to the quarantine tag when the repository refuses ARCHIVE, with no fault injected', async () => {
    deployment = await startDeployment();
    deployment.account.putImage({ repository: REPOSITORY, digest: DIGEST, tags: ['1.0'] });
    deployment.account.ecr.setArchiveRefused(REPOSITORY);
    const result = await quarantine('malware');
    expect(result.actions.map((a) => [a.mechanism, a.status, a.errorCode])).toEqual(
      expect.arrayContaining([
        ['archive', 'unsupported', 'ImageStorageClassUpdateNotSupportedException'],
        ['image-tags', 'applied', undefined],
      ]),
    );
    expect(deployment.account.ecr.image(REPOSITORY, DIGEST)!.imageTags).toEqual([`quarantined-${'ab'.repeat(6)}`]);
  });

  // Open defect this test pins down: during a restore ECR neither archives the image (refused here; undocumented) nor
  // serves its manifest (BatchGetImage fails until ACTIVE), so neither rung holds and the digest becomes pullable when
  // the restore completes. The notification says "failed", not "contained".
  it('re-quarantined while a release is still restoring it (ACTIVATING): archive refused, the tag fallback cannot read the manifest', async () => {
    deployment = await startDeployment();
    deployment.account.putImage({ repository: REPOSITORY, digest: DIGEST, tags: ['1.0'] });
    await quarantine('malware');
    await runRunbook({ runbook: 'release-image', repository: REPOSITORY, imageDigest: DIGEST, reason: 'false positive' }, deployment.depsFor('runbook'), 'dave');
    expect(deployment.account.ecr.image(REPOSITORY, DIGEST)!.imageStatus).toBe('ACTIVATING');
    const again = await quarantine('it was malware after all');
    expect(again.actions.find((a) => a.mechanism === 'archive')).toMatchObject({ status: 'unsupported', errorCode: 'ImageStorageClassUpdateNotSupportedException' });
    expect(again.actions.find((a) => a.mechanism === 'image-tags')).toMatchObject({ status: 'failed', detail: expect.stringContaining('BatchGetImage') });
    expect(again.containment).not.toMatch(/^contained/);
  });
});
