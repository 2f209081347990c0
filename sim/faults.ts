import { serviceError, timeoutError, type ServiceName } from './service-error';

export type FaultKind = 'throttle' | 'server' | 'timeout' | { code: string; status: number; message?: string };

export interface FaultSpec {
  service: ServiceName;
  /** e.g. 'ModifyNetworkInterfaceAttribute'; '*' matches every operation of the service. */
  operation: string;
  error: FaultKind;
  /** How many matching calls fail (default 1). */
  times?: number;
  /** Let the first N matching calls through before failing. */
  afterCalls?: number;
}

interface ActiveFault extends Required<FaultSpec> {
  seen: number;
  fired: number;
}

/**
 * Throttle codes as each service sends them. SNS sends wire code `Throttled`, which the SDK surfaces as
 * `ThrottledException`, the name the SDK's retry classification treats as throttling.
 */
const throttle: Record<ServiceName, { code: string; status: number }> = {
  ec2: { code: 'RequestLimitExceeded', status: 503 },
  ecs: { code: 'ThrottlingException', status: 400 },
  ecr: { code: 'ThrottlingException', status: 400 },
  s3: { code: 'SlowDown', status: 503 },
  sns: { code: 'ThrottledException', status: 429 },
  secrets: { code: 'ThrottlingException', status: 400 },
  sts: { code: 'ThrottlingException', status: 400 },
  ssm: { code: 'ThrottlingException', status: 400 },
  dynamodb: { code: 'ThrottlingException', status: 400 },
  organizations: { code: 'TooManyRequestsException', status: 400 },
};

const serverErrorCode: Record<ServiceName, string> = {
  ec2: 'InternalError',
  s3: 'InternalError',
  ecs: 'ServerException',
  ecr: 'ServerException',
  sns: 'InternalErrorException',
  secrets: 'InternalServiceError',
  sts: 'InternalFailure',
  ssm: 'InternalServerError',
  dynamodb: 'InternalServerError',
  organizations: 'ServiceException',
};

export class Faults {
  private active: ActiveFault[] = [];

  inject(spec: FaultSpec): void {
    this.active.push({ times: 1, afterCalls: 0, ...spec, seen: 0, fired: 0 });
  }

  clear(): void {
    this.active = [];
  }

  /** The error this call must fail with, if an injected fault applies to it. */
  errorFor(service: ServiceName, operation: string): Error | undefined {
    let chosen: ActiveFault | undefined;
    for (const fault of this.active) {
      if (fault.service !== service || (fault.operation !== '*' && fault.operation !== operation)) continue;
      fault.seen++;
      if (!chosen && fault.seen > fault.afterCalls && fault.fired < fault.times) chosen = fault;
    }
    if (!chosen) return undefined;
    chosen.fired++;
    return buildError(service, operation, chosen.error);
  }
}

/** The error a service sends for a fault: its own throttle and server codes (the tables above). */
export function buildError(service: ServiceName, operation: string, kind: FaultKind): Error {
  if (kind === 'timeout') return timeoutError(operation);
  if (kind === 'throttle') {
    const { code, status } = throttle[service];
    return serviceError(service, code, status, `Rate exceeded (simulated) for ${operation}`);
  }
  if (kind === 'server') {
    return serviceError(service, serverErrorCode[service], 500, `Internal error (simulated) for ${operation}`);
  }
  return serviceError(service, kind.code, kind.status, kind.message ?? `${kind.code} (simulated)`);
}

/** Simulated network latency: a real delay per call, by 'service:Operation', 'service' or for every call. */
export class Latency {
  private readonly delays = new Map<string, number>();

  set(ms: number, key?: string): void {
    this.delays.set(key ?? '*', ms);
  }

  clear(): void {
    this.delays.clear();
  }

  for(service: ServiceName, operation: string): number {
    return this.delays.get(`${service}:${operation}`) ?? this.delays.get(service) ?? this.delays.get('*') ?? 0;
  }
}
