import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { deferredSdk } from './aws/deferred';
import type { EventResult } from './pipeline';

/** CloudWatch namespace of every responder metric (EMF: written to the function's log, no PutMetricData call). */
const METRICS_NAMESPACE = 'ecs-threat-responder';

/** One Metrics per Lambda container; the stage and function are dimensions of every metric. */
export function createMetrics(functionName: string, stage = process.env.RESPONDER_STAGE ?? 'dev'): Metrics {
  const { Metrics } = deferredSdk();
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'ecs-threat-responder', defaultDimensions: { stage, function: functionName } });
}

/**
 * What one event came to, as metrics: findings handled, rejected events, the outcome of each action by mechanism
 * (`ActionOutcome.network-acl.applied`), AWS's refusals, safety-limit hits and, when a task was contained, the time from
 * the event to containment.
 */
export function recordResponseMetrics(metrics: Metrics, result: EventResult, eventTime?: string, now = Date.now()): void {
  const { MetricUnit } = deferredSdk();
  metrics.addMetric('EventsHandled', MetricUnit.Count, 1);
  if (result.finding) metrics.addMetric('FindingsHandled', MetricUnit.Count, 1);
  if (result.error) metrics.addMetric('EventsRejected', MetricUnit.Count, 1);
  for (const action of result.actions) metrics.addMetric(`ActionOutcome.${action.mechanism ?? action.action}.${action.status}`, MetricUnit.Count, 1);
  const refusals = result.actions.filter((a) => a.status === 'unsupported').length;
  if (refusals) metrics.addMetric('Refusals', MetricUnit.Count, refusals);
  const texts = [...(result.notes ?? []), ...result.actions.map((a) => a.detail ?? '')];
  if (texts.some((t) => t.includes('BLAST-RADIUS LIMIT'))) metrics.addMetric('SafetyLimitHits', MetricUnit.Count, 1);
  const started = eventTime ? Date.parse(eventTime) : NaN;
  if (result.containment?.startsWith('contained') && Number.isFinite(started)) {
    metrics.addMetric('TimeToContainment', MetricUnit.Seconds, Math.max(0, (now - started) / 1000));
  }
}

/**
 * A handler's logger and metrics, made on first use, after the response: their code is in the deferred bundle
 * (shared/aws/deferred), compiled while the first AWS calls are in flight rather than at initialisation.
 */
export function handlerTelemetry(functionName: string): { logger: () => Logger; metrics: () => Metrics } {
  let logger: Logger | undefined;
  let metrics: Metrics | undefined;
  return {
    logger: () => (logger ??= new (deferredSdk().Logger)({ serviceName: 'ecs-threat-responder' })),
    metrics: () => (metrics ??= createMetrics(functionName)),
  };
}

/** Runs a handler's work and publishes its metrics, whatever happens (a thrown error is still counted). */
export async function measured<R extends EventResult>(metricsOf: () => Metrics, event: unknown, work: () => Promise<R>): Promise<R> {
  const time = (event as { time?: unknown } | null)?.time;
  try {
    const result = await work();
    recordResponseMetrics(metricsOf(), result, typeof time === 'string' ? time : undefined);
    return result;
  } catch (error) {
    metricsOf().addMetric('HandlerErrors', deferredSdk().MetricUnit.Count, 1);
    throw error;
  } finally {
    metricsOf().publishStoredMetrics();
  }
}
