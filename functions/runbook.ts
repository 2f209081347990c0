import { lambdaDeps } from '../shared/lambda-deps';
import { handlerTelemetry, measured } from '../shared/response-metrics';
import { runRunbook, statedRequester } from '../shared/runbook';

const { logger, metrics } = handlerTelemetry('runbook');

/**
 * On-call runbook: `npx osls invoke -f runbook --data '{"runbook":"release",...}'`. Invocation is restricted by IAM.
 * Lambda does not tell a function who invoked it, so `requestedBy` is the caller's own statement (the CLI sends its
 * STS identity); CloudTrail's Lambda Invoke data events are the authority on who called.
 */
export const handler = async (payload: unknown) => {
  const result = await measured(metrics, payload, async () => runRunbook(payload, await lambdaDeps(), statedRequester(payload)));
  logger().info('runbook', { result: { ...result, records: result.records?.length } });
  return result;
};
