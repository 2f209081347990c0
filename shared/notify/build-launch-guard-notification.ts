import type { QuarantineState } from '../image/quarantine-state';
import { NOTIFICATION_SCHEMA_ID, NOTIFICATION_SCHEMA_VERSION, type ActionOutcome, type Notification } from '../notification';
import type { TaskState } from '../task-state';
import { imageReleaseCommand } from './build-image-notification';
import { runbookTarget } from './build-notification';

export interface LaunchGuardNotificationInput {
  task: TaskState;
  /** `account`: the registry's; released with --account when it is not `homeAccount` (the responder's). */
  image: { repository: string; digest: string; uri: string; account?: string };
  homeAccount?: string;
  quarantine: Extract<QuarantineState, { state: 'enforced' | 'observed' }>;
  mode: 'observe' | 'enforce';
  outcomes: ActionOutcome[];
  requestedBy: string;
  at: Date;
  region: string;
  /** Why observe was forced (the observe switch), said in the message. */
  observeReason?: string;
}

/** A task started from a quarantined digest: what was stopped, why (the quarantine), and how to release the image. */
export function buildLaunchGuardNotification(input: LaunchGuardNotificationInput): Notification {
  const { task, image, quarantine } = input;
  const stopped = input.outcomes.some((o) => o.mechanism === 'stop-task' && (o.status === 'applied' || o.status === 'skipped'));
  const where = `${task.clusterArn.split('/').pop()}/${task.service ?? task.taskArn.split('/').pop()}`;
  const containment: Notification['containment'] = input.mode === 'observe' ? { state: 'observed' } : stopped ? { state: 'contained', mechanism: 'stop-task' } : { state: 'not-contained' };
  const what = `task in ${where} started from quarantined image ${image.repository}@${image.digest.slice(0, 19)}…`;
  const r = input.region;
  return {
    schema: NOTIFICATION_SCHEMA_ID,
    version: NOTIFICATION_SCHEMA_VERSION,
    kind: 'launch-guard',
    headline: containment.state === 'contained' ? `Stopped: ${what}` : containment.state === 'observed' ? `Observe mode, nothing changed: ${what}` : `NOT STOPPED: ${what}`,
    at: input.at.toISOString(),
    ledgerId: quarantine.ledgerId,
    finding: null,
    resource: {
      cluster: task.clusterArn.split('/').pop(),
      service: task.service,
      taskArn: task.taskArn,
      launchType: task.launchType,
      images: task.containers.map((c) => (c.imageDigest ? `${c.image.split('@')[0]}@${c.imageDigest}` : c.image)),
    },
    indicators: { domains: [], remoteIps: [] },
    image: {
      repository: image.repository,
      digest: image.digest,
      tags: [],
      severityCounts: {},
      topVulnerabilities: [],
      tasksUsingImage: [task.taskArn],
      mechanism: quarantine.mechanism,
    },
    decision: { policyRule: quarantine.policyRule, mode: input.mode },
    containment,
    actions: input.outcomes,
    requestedBy: input.requestedBy,
    reason: `quarantined since ${quarantine.at}: ${quarantine.reason}`,
    links: [
      {
        label: 'ECS task',
        url: `https://${r}.console.aws.amazon.com/ecs/v2/clusters/${encodeURIComponent(task.clusterArn.split('/').pop() ?? '')}/tasks/${encodeURIComponent(task.taskArn.split('/').pop() ?? '')}/configuration?region=${r}`,
      },
    ],
    releaseCommand: imageReleaseCommand(image.repository, image.digest, runbookTarget(r), input.homeAccount && image.account !== input.homeAccount ? image.account : undefined),
    notes: [
      ...(input.observeReason ? [input.observeReason] : []),
      ...(task.service ? [`Service ${task.service} will keep trying to start tasks from this digest until its task definition points at a fixed image.`] : []),
    ],
  };
}
