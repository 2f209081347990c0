import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';

/**
 * Reads an SSM parameter, cached for maxAgeSeconds (what Powertools' SSMProvider did, without its paginators and
 * parameter transforms in the bundle). The client is built on the first call.
 */
export function cachedParameterReader(maxAgeSeconds: number): (name: string) => Promise<string | undefined> {
  let ssm: SSMClient | undefined;
  const cache = new Map<string, { value: string | undefined; until: number }>();
  return async (name) => {
    const hit = cache.get(name);
    if (hit && hit.until > Date.now()) return hit.value;
    const value = (await (ssm ??= new SSMClient({})).send(new GetParameterCommand({ Name: name }))).Parameter?.Value;
    cache.set(name, { value, until: Date.now() + maxAgeSeconds * 1000 });
    return value;
  };
}
