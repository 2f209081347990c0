import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { SimulatedAccount } from '../sim/account';

// ListObjectsV2 pages by ContinuationToken, and refuses a token it never issued
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html).
describe('simulated S3 ListObjectsV2 paging', () => {
  it('pages with the token it issued, and refuses one it did not', async () => {
    const account = new SimulatedAccount();
    account.createBucket('evidence');
    const s3 = account.clients().s3;
    for (const key of ['a', 'b', 'c']) await s3.send(new PutObjectCommand({ Bucket: 'evidence', Key: key, Body: key }));

    const first = await s3.send(new ListObjectsV2Command({ Bucket: 'evidence', MaxKeys: 2 }));
    expect(first.Contents?.map((o) => o.Key)).toEqual(['a', 'b']);
    const second = await s3.send(new ListObjectsV2Command({ Bucket: 'evidence', MaxKeys: 2, ContinuationToken: first.NextContinuationToken }));
    expect(second.Contents?.map((o) => o.Key)).toEqual(['c']);
    expect(second.IsTruncated).toBe(false);

    await expect(s3.send(new ListObjectsV2Command({ Bucket: 'evidence', ContinuationToken: 'forged' }))).rejects.toMatchObject({ name: 'InvalidArgument' });
  });
});
