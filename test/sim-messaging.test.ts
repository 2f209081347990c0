import { describe, it, expect } from 'vitest';
import { PublishCommand } from '@aws-sdk/client-sns';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { SimulatedAccount } from '../sim/account';
import type { PublishedMessage } from '../sim/sns';

describe('simulated SNS', () => {
  it('publishes to subscribers; rejects unknown topics, oversize messages and bad subjects', async () => {
    const account = new SimulatedAccount();
    const topicArn = account.createTopic('incident-alerts');
    const received: PublishedMessage[] = [];
    account.sns.subscribe(topicArn, (message) => {
      received.push(message);
    });
    const { sns } = account.clients();

    const attributes = { severity: { DataType: 'String', StringValue: 'HIGH' } };
    const out = await sns.send(new PublishCommand({ TopicArn: topicArn, Subject: 'Task isolated', Message: 'body', MessageAttributes: attributes }));
    expect(out.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(received).toEqual([expect.objectContaining({ topicArn, subject: 'Task isolated', message: 'body', messageAttributes: attributes })]);
    expect(account.sns.published).toHaveLength(1);

    await expect(sns.send(new PublishCommand({ TopicArn: `${topicArn}-nope`, Message: 'x' }))).rejects.toMatchObject({ name: 'NotFoundException' });

    // The 256 KiB limit counts the body plus attribute names, types and values.
    const nameAndType = 'severity'.length + 'String'.length + 'HIGH'.length;
    await sns.send(new PublishCommand({ TopicArn: topicArn, Message: 'x'.repeat(262_144 - nameAndType), MessageAttributes: attributes }));
    await expect(sns.send(new PublishCommand({ TopicArn: topicArn, Message: 'x'.repeat(262_145 - nameAndType), MessageAttributes: attributes }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
    await expect(sns.send(new PublishCommand({ TopicArn: topicArn, Subject: 's'.repeat(100), Message: 'x' }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(sns.send(new PublishCommand({ TopicArn: topicArn, Subject: 'two\nlines', Message: 'x' }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    expect(account.sns.published).toHaveLength(2);
  });
});

describe('simulated S3', () => {
  it('versions every put, reads bodies back, lists keys, and knows missing buckets', async () => {
    const account = new SimulatedAccount();
    account.createBucket('evidence');
    const { s3 } = account.clients();
    const v1 = await s3.send(new PutObjectCommand({ Bucket: 'evidence', Key: 'f-1/task.json', Body: '{"v":1}', ContentType: 'application/json' }));
    const v2 = await s3.send(new PutObjectCommand({ Bucket: 'evidence', Key: 'f-1/task.json', Body: new TextEncoder().encode('{"v":2}') }));
    expect(v1.VersionId).not.toBe(v2.VersionId);
    expect(account.s3.versions('evidence', 'f-1/task.json').map((v) => v.body)).toEqual(['{"v":1}', '{"v":2}']);
    expect(account.s3.objects('evidence').map((o) => [o.key, o.body])).toEqual([['f-1/task.json', '{"v":2}']]);

    const latest = await s3.send(new GetObjectCommand({ Bucket: 'evidence', Key: 'f-1/task.json' }));
    expect(await latest.Body!.transformToString()).toBe('{"v":2}');
    const first = await s3.send(new GetObjectCommand({ Bucket: 'evidence', Key: 'f-1/task.json', VersionId: v1.VersionId }));
    expect(await first.Body!.transformToString()).toBe('{"v":1}');

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'evidence', Prefix: 'f-1/' }));
    expect(listed.Contents!.map((o) => o.Key)).toEqual(['f-1/task.json']);
    await expect(s3.send(new GetObjectCommand({ Bucket: 'evidence', Key: 'nope' }))).rejects.toMatchObject({ name: 'NoSuchKey' });
    await expect(s3.send(new PutObjectCommand({ Bucket: 'missing', Key: 'k', Body: 'x' }))).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });
});

describe('simulated Secrets Manager and STS', () => {
  it('returns stored secrets and the configured principal', async () => {
    const account = new SimulatedAccount({ principalArn: 'arn:aws:sts::111122223333:assumed-role/responder/lambda' });
    account.putSecret('slack/webhook', 'https://hooks.slack.com/services/T/B/X');
    const { secrets, sts } = account.clients();
    const secret = await secrets.send(new GetSecretValueCommand({ SecretId: 'slack/webhook' }));
    expect(secret.SecretString).toBe('https://hooks.slack.com/services/T/B/X');
    await expect(secrets.send(new GetSecretValueCommand({ SecretId: 'nope' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    expect(identity).toMatchObject({ Account: '111122223333', Arn: 'arn:aws:sts::111122223333:assumed-role/responder/lambda' });
  });
});
