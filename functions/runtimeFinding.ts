import type { EventBridgeEvent } from 'aws-lambda';
import { lambdaDeps } from '../shared/lambda-deps';
import { handlerTelemetry, measured } from '../shared/response-metrics';
import { respondToRuntimeFinding } from '../shared/pipeline';

const { logger, metrics } = handlerTelemetry('runtimeFinding');

/** EventBridge → GuardDuty Runtime Monitoring finding on an ECS task. */
export const handler = async (event: EventBridgeEvent<'GuardDuty Finding', unknown>) => {
  const result = await measured(metrics, event, async () => respondToRuntimeFinding(event, await lambdaDeps({ deferObserveSwitch: true })));
  if (result.error) logger().error('event rejected: no action taken; kept in the ledger', { eventId: event.id, error: result.error });
  else logger().info('finding handled', { eventId: event.id, result });
  return result;
};
