import type { EventBridgeEvent } from 'aws-lambda';
import { lambdaDeps } from '../shared/lambda-deps';
import { handlerTelemetry, measured } from '../shared/response-metrics';
import { guardLaunchOrPush } from '../shared/launch-guard';

const { logger, metrics } = handlerTelemetry('taskLaunchGuard');

/** EventBridge → a task starting (stop it if its image is quarantined) or an image push (re-quarantine). */
export const handler = async (event: EventBridgeEvent<string, unknown>) => {
  const result = await measured(metrics, event, async () => guardLaunchOrPush(event, await lambdaDeps()));
  logger().info('launch guard', { eventId: event.id, result });
  return result;
};
