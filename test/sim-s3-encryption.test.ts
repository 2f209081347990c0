import { describe, expect, it } from 'vitest';
import { PutObjectCommand, type ServerSideEncryption } from '@aws-sdk/client-s3';
import { SimulatedAccount } from '../sim/account';

const BUCKET = 'evidence';
const STACK_KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

function bucketWithDefault() {
  const account = new SimulatedAccount();
  account.createBucket(BUCKET);
  account.s3.setDefaultEncryption(BUCKET, { algorithm: 'aws:kms', kmsKeyArn: STACK_KEY });
  return { account, s3: account.clients().s3 };
}

describe('simulated S3: PutObject encryption (API_PutObject)', () => {
  it('applies the bucket default only when the request names no encryption', async () => {
    const { account, s3 } = bucketWithDefault();
    const out = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'a', Body: 'x' }));
    expect(out).toMatchObject({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: STACK_KEY });
    expect(account.s3.object(BUCKET, 'a')!.encryption).toEqual({ algorithm: 'aws:kms', kmsKeyArn: STACK_KEY });
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'b', Body: 'x', ServerSideEncryption: 'AES256' }));
    expect(account.s3.object(BUCKET, 'b')!.encryption).toEqual({ algorithm: 'AES256' });
  });

  it('uses the AWS managed key aws/s3, not the bucket key, for aws:kms without a key id', async () => {
    const { account, s3 } = bucketWithDefault();
    const out = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'a', Body: 'x', ServerSideEncryption: 'aws:kms' }));
    expect(out.SSEKMSKeyId).toBe(account.s3.awsManagedKeyArn());
    expect(out.SSEKMSKeyId).not.toBe(STACK_KEY);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'b', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: STACK_KEY }));
    expect(account.s3.object(BUCKET, 'b')!.encryption.kmsKeyArn).toBe(STACK_KEY);
  });

  it('refuses an unknown algorithm, and a key id without aws:kms', async () => {
    const { s3 } = bucketWithDefault();
    await expect(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'a', Body: 'x', ServerSideEncryption: 'bogus' as ServerSideEncryption }))).rejects.toMatchObject({ name: 'InvalidArgument' });
    await expect(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'a', Body: 'x', ServerSideEncryption: 'AES256', SSEKMSKeyId: STACK_KEY }))).rejects.toMatchObject({ name: 'InvalidArgument' });
    await expect(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'a', Body: 'x', SSEKMSKeyId: STACK_KEY }))).rejects.toMatchObject({ name: 'InvalidArgument' });
  });
});
