import type { PipelineDeps } from '../../shared/pipeline';
import { buildError } from '../../sim/faults';

/** A fault that outlasted the SDK's own retries: a throttle, a 5xx, a timeout, or the call succeeding and the function dying. */
export type FaultKind = 'throttle' | 'server' | 'timeout' | 'died';
export const FAULT_KINDS: FaultKind[] = ['throttle', 'server', 'timeout', 'died'];
/** Which call of one function fails (counted from 0 across its AWS clients and its ledger), and how. */
export interface FaultPlan {
  at: number;
  kind: FaultKind;
  seen: number;
  dead: boolean;
  /** `service:Operation` of the call that was failed, once it has been. */
  hit?: string;
}

/** The function ended (a Lambda timeout or crash): nothing after it reaches AWS or the ledger. */
export class FunctionDied extends Error {
  override readonly name = 'FunctionDied';
}

const SERVICES: Record<string, 'ec2' | 'ecs' | 'ecr' | 's3' | 'sns' | 'dynamodb'> = {
  EC2Client: 'ec2',
  ECSClient: 'ecs',
  ECRClient: 'ecr',
  S3Client: 's3',
  SNSClient: 'sns',
  DynamoDBClient: 'dynamodb',
};

type Middleware = (next: (args: unknown) => Promise<unknown>, context: { clientName?: string; commandName?: string }) => (args: unknown) => Promise<unknown>;

/**
 * Counts every call one function makes (its AWS clients and its ledger) and fails the planned one, above the SDK's own
 * retries (the initialize step), as a fault that outlasted them would. `plan.current` unset: calls pass untouched.
 */
export function interceptCalls(deps: PipelineDeps, plan: { current?: FaultPlan }): void {
  const ledgerClient = (deps.ledger as unknown as { doc: unknown }).doc;
  const stacks = [deps.clients.ec2, deps.clients.ecs, deps.clients.ecr, deps.clients.s3, deps.clients.sns, ledgerClient];
  const fault: Middleware = (next, context) => async (args) => {
    const p = plan.current;
    if (!p) return next(args);
    if (p.dead) throw new FunctionDied('the function had ended');
    const index = p.seen++;
    if (index !== p.at) return next(args);
    const service = SERVICES[context.clientName ?? ''] ?? 'ec2';
    const operation = (context.commandName ?? '').replace(/Command$/, '');
    p.hit = `${service}:${operation}`;
    if (p.kind === 'died') {
      await next(args);
      p.dead = true;
      throw new FunctionDied(`died after ${operation} succeeded`);
    }
    // Each service's own throttle and server codes, as the simulated account sends them (sim/faults.ts).
    throw buildError(service, operation, p.kind);
  };
  for (const client of stacks) {
    (client as { middlewareStack: { add: (m: Middleware, o: unknown) => void } }).middlewareStack.add(fault, { step: 'initialize', name: 'faultInjection', priority: 'high' });
  }
}
