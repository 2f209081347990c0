import type { EventBridgeEvent } from 'aws-lambda';
import { respondToImageFinding } from '../shared/image-pipeline';
import { lambdaDeps } from '../shared/lambda-deps';
import { handlerTelemetry, measured } from '../shared/response-metrics';

const { logger, metrics } = handlerTelemetry('imageFinding');

/** EventBridge → ECR basic scan, Inspector finding or Inspector scan of an image. */
export const handler = async (event: EventBridgeEvent<string, unknown>) => {
  const result = await measured(metrics, event, async () => respondToImageFinding(event, await lambdaDeps()));
  if (result.error) logger().error('event rejected: no action taken; kept in the ledger', { eventId: event.id, error: result.error });
  else logger().info('image finding handled', { eventId: event.id, result });
  return result;
};
