import { deferredSdk } from '../aws/deferred';
import { eventJson } from '../events/event-json';
import { defineAction } from './response-action';

export const captureEvidence = defineAction({
  name: 'capture-evidence',
  summary: 'Store the finding, the DescribeTasks output and the task definition in the evidence bucket under the finding id, before anything destructive.',
  permissions: [{ actions: ['s3:PutObject'], scope: 'evidence-bucket' }],
  mutating: false,
  destructive: false,
  reversible: false,
  describe: (_params, { finding }, config) => [
    { action: 'capture-evidence', status: 'planned', mechanism: 's3', detail: `would store evidence in s3://${config.evidenceBucket}/findings/${finding.id}/` },
  ],
  async apply(_params, { finding, task, rawEvent }, runtime) {
    const prefix = `findings/${finding.id}`;
    // The stack's key, by name: `aws:kms` alone means the AWS-managed aws/s3 key (PutObject API reference), and the
    // bucket policy refuses any key but the stack's.
    const keyArn = runtime.config.evidenceKeyArn;
    const put = (name: string, body: unknown) =>
      runtime.clients.s3.send(
        new (deferredSdk().PutObjectCommand)({
          Bucket: runtime.config.evidenceBucket,
          Key: `${prefix}/${name}`,
          // The event as received, by an iterative serialiser: an event nested thousands deep cannot fail the capture.
          Body: name === 'event.json' ? eventJson(body).text : JSON.stringify(body, null, 2),
          ContentType: 'application/json',
          ServerSideEncryption: 'aws:kms',
          SSEKMSKeyId: keyArn,
        }),
      );
    // Each object is stored as soon as it is known: what DescribeTasks said at once, the task definition and the
    // interface as EC2 describes it once read (beside the network cut, not before it). A stop waits for all four.
    const stored = await Promise.all([
      put('event.json', rawEvent),
      put('describe-tasks.json', task.raw.task ?? { failure: 'task not found by DescribeTasks' }),
      task.details.taskDefinition().then((definition) => put('task-definition.json', definition ?? null)),
      task.details.taskInterface().then((eni) => put('network.json', { taskInterface: eni ?? task.taskInterface ?? null, hostInterface: task.hostInterface ?? null })),
    ]);
    runtime.ready?.();
    const outcome = {
      action: 'capture-evidence',
      status: 'applied' as const,
      mechanism: 's3',
      detail: `${stored.length} objects in s3://${runtime.config.evidenceBucket}/${prefix}/`,
    };
    await runtime.ledger.recordOutcome(runtime.audit, 'capture-evidence', outcome, `task:${task.taskArn}`);
    return [outcome];
  },
});
