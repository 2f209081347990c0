import type { EventBridgeEvent } from 'aws-lambda';
import { lambdaDeps } from '../shared/lambda-deps';
import { handlerTelemetry, measured } from '../shared/response-metrics';
import { cleanUpStoppedTask } from '../shared/task-stopped';

const { logger, metrics } = handlerTelemetry('taskStopped');

/** EventBridge → ECS Task State Change (STOPPED): a stopped task's IP may be reused, so its network-ACL deny goes. */
export const handler = async (event: EventBridgeEvent<'ECS Task State Change', unknown>) => {
  const result = await measured(metrics, event, async () => cleanUpStoppedTask(event, await lambdaDeps()));
  logger().info('task stopped', { eventId: event.id, result });
  return result;
};
