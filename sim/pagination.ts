import { serviceError, type ServiceName } from './service-error';

export interface PageLimits {
  /** What the call returns when the request names no maxResults. */
  defaultSize: number;
  /** The largest maxResults the API reference allows. */
  maxSize: number;
}

/**
 * One page of `items` as List/Describe calls page them: at most `maxResults` (within the API's bounds, otherwise
 * InvalidParameterException) or the API's default page size, with a `nextToken` while more remain. The token is
 * opaque to callers; a token the simulator did not hand out is refused.
 */
export function pageOf<T>(service: ServiceName, items: T[], request: { maxResults?: number; nextToken?: string }, limits: PageLimits): { page: T[]; nextToken?: string } {
  const size = request.maxResults ?? limits.defaultSize;
  if (!Number.isInteger(size) || size < 1 || size > limits.maxSize) {
    throw serviceError(service, 'InvalidParameterException', 400, `maxResults must be between 1 and ${limits.maxSize}.`);
  }
  const start = request.nextToken === undefined ? 0 : decodeToken(service, request.nextToken);
  const end = start + size;
  return { page: items.slice(start, end), nextToken: end < items.length ? Buffer.from(`offset:${end}`).toString('base64') : undefined };
}

function decodeToken(service: ServiceName, token: string): number {
  const match = /^offset:(\d+)$/.exec(Buffer.from(token, 'base64').toString());
  if (!match) throw serviceError(service, 'InvalidParameterException', 400, 'Invalid nextToken.');
  return Number(match[1]);
}

/** Batch calls (DescribeTasks, BatchGetImage, ...) take between 1 and `max` ids; anything else is refused. */
export function checkBatchSize(service: ServiceName, field: string, ids: unknown[] | undefined, max: number): void {
  const count = ids?.length ?? 0;
  if (count < 1 || count > max) throw serviceError(service, 'InvalidParameterException', 400, `${field} must contain between 1 and ${max} items (got ${count}).`);
}
