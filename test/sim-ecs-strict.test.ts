import { describe, it, expect } from 'vitest';
import {
  DescribeClustersCommand,
  DescribeTasksCommand,
  ListClustersCommand,
  ListTasksCommand,
  StopTaskCommand,
  TagResourceCommand,
} from '@aws-sdk/client-ecs';
import { SimulatedAccount } from '../sim/account';
import { findTasksUsingImage } from '../shared/image/tasks-using-image';
import { describeTaskBrief, readTaskState } from '../shared/task-state';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const IMAGE = `111122223333.dkr.ecr.us-east-1.amazonaws.com/payments-api@${DIGEST}`;

/** `count` running tasks of the payments-api image in cluster `cluster`. */
function runTasks(account: SimulatedAccount, cluster: string, count: number) {
  const definition = account.registerTaskDefinition({ family: 'payments-api', containers: [{ name: 'app', image: IMAGE }] });
  return Array.from({ length: count }, () =>
    account.runTask({ cluster, taskDefinitionArn: definition.taskDefinitionArn, launchType: 'FARGATE', containers: [{ name: 'app', image: IMAGE, imageDigest: DIGEST }] }),
  );
}

describe('simulated ECS: pagination (API_ListTasks, API_ListClusters)', () => {
  it('pages ListTasks by 100 with nextToken, honours maxResults within 1..100, refuses a forged token', async () => {
    const account = new SimulatedAccount();
    runTasks(account, 'prod', 150);
    const { ecs } = account.clients();
    const first = await ecs.send(new ListTasksCommand({ cluster: 'prod' }));
    expect(first.taskArns).toHaveLength(100);
    const second = await ecs.send(new ListTasksCommand({ cluster: 'prod', nextToken: first.nextToken }));
    expect(second.taskArns).toHaveLength(50);
    expect(second.nextToken).toBeUndefined();
    expect((await ecs.send(new ListTasksCommand({ cluster: 'prod', maxResults: 7 }))).taskArns).toHaveLength(7);
    await expect(ecs.send(new ListTasksCommand({ cluster: 'prod', maxResults: 101 }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(ecs.send(new ListTasksCommand({ cluster: 'prod', nextToken: 'forged' }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });

  it('pages ListClusters by 100', async () => {
    const account = new SimulatedAccount();
    for (let i = 0; i < 101; i++) account.addCluster({ name: `c${i}` });
    const { ecs } = account.clients();
    const first = await ecs.send(new ListClustersCommand({}));
    expect(first.clusterArns).toHaveLength(100);
    expect((await ecs.send(new ListClustersCommand({ nextToken: first.nextToken }))).clusterArns).toEqual(['arn:aws:ecs:us-east-1:111122223333:cluster/c100']);
  });

  it("runs the production paging loops over more than one page of clusters and of tasks", async () => {
    const account = new SimulatedAccount();
    for (let i = 0; i < 100; i++) account.addCluster({ name: `empty-${i}` });
    const tasks = runTasks(account, 'prod', 230);
    const found = await findTasksUsingImage(account.clients(), 'payments-api', DIGEST);
    expect(found.map((t) => t.taskArn).sort()).toEqual(tasks.map((t) => t.taskArn).sort());
    expect(account.callsTo('ecs', 'ListClusters')).toHaveLength(2);
    expect(account.callsTo('ecs', 'ListTasks').filter((c) => c.input.cluster === 'arn:aws:ecs:us-east-1:111122223333:cluster/prod')).toHaveLength(3);
    expect(account.callsTo('ecs', 'DescribeTasks').map((c) => (c.input.tasks as string[]).length)).toEqual([100, 100, 30]);
  });

  it('finds nothing, without failing, in a cluster that no longer exists', async () => {
    const account = new SimulatedAccount();
    runTasks(account, 'prod', 1);
    expect(await findTasksUsingImage(account.clients(), 'payments-api', DIGEST, ['deleted-cluster', 'prod'])).toHaveLength(1);
  });
});

describe('simulated ECS: filters and limits', () => {
  it('takes startedBy only as the only filter (API_ListTasks)', async () => {
    const account = new SimulatedAccount();
    runTasks(account, 'prod', 1);
    const ci = account.runTask({ cluster: 'prod', taskDefinitionArn: 'arn:aws:ecs:us-east-1:111122223333:task-definition/payments-api:1', launchType: 'FARGATE', containers: [], startedBy: 'ci-job-7' });
    const { ecs } = account.clients();
    expect((await ecs.send(new ListTasksCommand({ cluster: 'prod', startedBy: 'ci-job-7' }))).taskArns).toEqual([ci.taskArn]);
    await expect(ecs.send(new ListTasksCommand({ cluster: 'prod', startedBy: 'ci-job-7', desiredStatus: 'RUNNING' }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(ecs.send(new ListTasksCommand({ cluster: 'prod', startedBy: 'ci-job-7', family: 'payments-api' }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(ecs.send(new ListTasksCommand({ cluster: 'prod', serviceName: 'nope' }))).rejects.toMatchObject({ name: 'ServiceNotFoundException' });
  });

  it('describes at most 100 tasks per call (API_DescribeTasks)', async () => {
    const account = new SimulatedAccount();
    const arns = runTasks(account, 'prod', 101).map((t) => t.taskArn);
    const { ecs } = account.clients();
    expect((await ecs.send(new DescribeTasksCommand({ cluster: 'prod', tasks: arns.slice(0, 100) }))).tasks).toHaveLength(100);
    await expect(ecs.send(new DescribeTasksCommand({ cluster: 'prod', tasks: arns }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });
});

describe('simulated ECS: clusters by name or ARN', () => {
  const OTHER_ACCOUNT = 'arn:aws:ecs:us-east-1:444455556666:cluster/prod';
  const OTHER_REGION = 'arn:aws:ecs:eu-west-1:111122223333:cluster/prod';

  it('answers ClusterNotFoundException for an unknown cluster, or one of another account or region', async () => {
    const account = new SimulatedAccount();
    const [task] = runTasks(account, 'prod', 1);
    const { ecs } = account.clients();
    expect((await ecs.send(new DescribeTasksCommand({ cluster: 'arn:aws:ecs:us-east-1:111122223333:cluster/prod', tasks: [task!.taskArn] }))).tasks).toHaveLength(1);
    for (const cluster of ['gone', OTHER_ACCOUNT, OTHER_REGION]) {
      await expect(ecs.send(new DescribeTasksCommand({ cluster, tasks: [task!.taskArn] }))).rejects.toMatchObject({ name: 'ClusterNotFoundException' });
      await expect(ecs.send(new StopTaskCommand({ cluster, task: task!.taskArn }))).rejects.toMatchObject({ name: 'ClusterNotFoundException' });
      await expect(ecs.send(new ListTasksCommand({ cluster }))).rejects.toMatchObject({ name: 'ClusterNotFoundException' });
    }
    await expect(
      ecs.send(new TagResourceCommand({ resourceArn: 'arn:aws:ecs:us-east-1:111122223333:task/gone/0123456789abcdef0123456789abcdef', tags: [{ key: 'a', value: 'b' }] })),
    ).rejects.toMatchObject({ name: 'ClusterNotFoundException' });
    // DescribeClusters answers MISSING instead (api_failures_messages.html).
    const clusters = await ecs.send(new DescribeClustersCommand({ clusters: ['prod', 'gone', OTHER_ACCOUNT] }));
    expect(clusters.clusters!.map((c) => c.clusterName)).toEqual(['prod']);
    expect(clusters.failures).toEqual([
      { arn: 'arn:aws:ecs:us-east-1:111122223333:cluster/gone', reason: 'MISSING' },
      { arn: OTHER_ACCOUNT, reason: 'MISSING' },
    ]);
  });

  it('production reads a task of a cluster that does not exist as not found, saying why', async () => {
    const account = new SimulatedAccount();
    const ref = { arn: 'arn:aws:ecs:us-east-1:111122223333:task/sample-cluster/0123456789abcdef0123456789abcdef', clusterArn: 'arn:aws:ecs:us-east-1:111122223333:cluster/sample-cluster' };
    for (const state of [await readTaskState(account.clients(), ref), await describeTaskBrief(account.clients(), ref)]) {
      expect(state).toMatchObject({ found: false, notFoundReason: expect.stringContaining('ClusterNotFoundException') });
    }
  });
});
