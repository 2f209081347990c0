import { describe, it, expect } from 'vitest';
import { DescribeNetworkInterfacesCommand, ModifyNetworkInterfaceAttributeCommand } from '@aws-sdk/client-ec2';
import { ListClustersCommand, UpdateServiceCommand, UpdateTaskProtectionCommand } from '@aws-sdk/client-ecs';
import { PublishCommand } from '@aws-sdk/client-sns';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SimulatedAccount } from '../sim/account';

describe('simulated account: fault injection', () => {
  it('a throttle is retried by the SDK and then succeeds; every attempt is logged', async () => {
    const account = new SimulatedAccount();
    account.addCluster({ name: 'prod' });
    account.faults.inject({ service: 'ecs', operation: 'ListClusters', error: 'throttle' });
    const out = await account.clients().ecs.send(new ListClustersCommand({}));
    expect(out.clusterArns).toHaveLength(1);
    expect(out.$metadata.attempts).toBe(2);
    expect(account.callsTo('ecs', 'ListClusters').map((c) => [c.ok, c.errorCode])).toEqual([
      [false, 'ThrottlingException'],
      [true, undefined],
    ]);
  });

  it('surfaces the error once the faults outlast the attempts', async () => {
    const account = new SimulatedAccount();
    account.addVpc();
    account.faults.inject({ service: 'ec2', operation: 'DescribeNetworkInterfaces', error: 'throttle', times: 5 });
    const { ec2 } = account.clients({ maxAttempts: 3 });
    await expect(ec2.send(new DescribeNetworkInterfacesCommand({}))).rejects.toMatchObject({ name: 'RequestLimitExceeded', $metadata: { attempts: 3 } });
    expect(account.callsTo('ec2', 'DescribeNetworkInterfaces')).toHaveLength(3);
    // Two of the five faults are left: the next call succeeds on its third attempt.
    const next = await ec2.send(new DescribeNetworkInterfacesCommand({}));
    expect(next.$metadata.attempts).toBe(3);
    expect(account.callsTo('ec2', 'DescribeNetworkInterfaces').map((c) => c.ok)).toEqual([false, false, false, false, false, true]);
  });

  it('retries 5xx and timeouts, not client errors; afterCalls skips matching calls', async () => {
    const account = new SimulatedAccount();
    const topicArn = account.createTopic('alerts');
    account.createBucket('evidence');
    const { sns, s3 } = account.clients();
    account.faults.inject({ service: 'sns', operation: 'Publish', error: 'server' });
    account.faults.inject({ service: 's3', operation: 'PutObject', error: 'timeout', afterCalls: 1 });
    await sns.send(new PublishCommand({ TopicArn: topicArn, Message: 'hello' }));
    expect(account.callsTo('sns', 'Publish').map((c) => c.ok)).toEqual([false, true]);
    expect(account.sns.published).toHaveLength(1);

    await s3.send(new PutObjectCommand({ Bucket: 'evidence', Key: 'a', Body: '1' }));
    await s3.send(new PutObjectCommand({ Bucket: 'evidence', Key: 'b', Body: '2' }));
    expect(account.callsTo('s3', 'PutObject').map((c) => c.errorCode ?? 'ok')).toEqual(['ok', 'TimeoutError', 'ok']);

    account.faults.inject({ service: 'sns', operation: 'Publish', error: { code: 'AuthorizationError', status: 403, message: 'denied' } });
    await expect(sns.send(new PublishCommand({ TopicArn: topicArn, Message: 'x' }))).rejects.toMatchObject({ name: 'AuthorizationErrorException', message: 'denied' });
    expect(account.callsTo('sns', 'Publish').at(-1)).toMatchObject({ ok: false, errorCode: 'AuthorizationErrorException' });
    expect(account.callsTo('sns', 'Publish')).toHaveLength(3);

    account.faults.inject({ service: 'sns', operation: 'Publish', error: 'throttle', times: 10 });
    account.faults.clear();
    await sns.send(new PublishCommand({ TopicArn: topicArn, Message: 'after clear' }));
  });

  it('delays calls by the configured latency', async () => {
    const account = new SimulatedAccount();
    account.latency.set(40, 'ecs:ListClusters');
    const started = Date.now();
    await account.clients().ecs.send(new ListClustersCommand({}));
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
  });

  it('names operations it does not model instead of succeeding silently', async () => {
    const account = new SimulatedAccount();
    const { ecs, ec2 } = account.clients();
    await expect(ecs.send(new UpdateTaskProtectionCommand({ cluster: 'prod', tasks: ['t'], protectionEnabled: true }))).rejects.toThrow(/ecs:UpdateTaskProtection is not modelled/);
    await expect(ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: 'eni-1', SourceDestCheck: { Value: false } }))).rejects.toMatchObject({
      name: 'InvalidNetworkInterfaceID.NotFound',
    });
    await expect(ecs.send(new UpdateServiceCommand({ cluster: 'prod', service: 'x', desiredCount: 0 }))).rejects.toMatchObject({ name: 'ClusterNotFoundException' });
    expect(account.calls.at(0)).toMatchObject({ service: 'ecs', operation: 'UpdateTaskProtection', ok: false, errorCode: 'NotModelledBySimulator' });
  });
});
