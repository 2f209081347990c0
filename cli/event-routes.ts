import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { matchesPattern, type Pattern } from './event-pattern';

export interface EventRoute {
  functionName: string;
  pattern: Pattern;
}

/** Replaces `${param:name}` with the stage's default parameters, keeping numbers numbers (as Serverless does). */
function resolveParams(value: unknown, params: Record<string, unknown>): unknown {
  if (typeof value === 'string') {
    const whole = /^\$\{param:([\w-]+)\}$/.exec(value);
    if (whole) return params[whole[1]!];
    return value.replace(/\$\{param:([\w-]+)\}/g, (_, name: string) => String(params[name]));
  }
  if (Array.isArray(value)) return value.map((v) => resolveParams(v, params));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveParams(v, params)]));
  return value;
}

/** The EventBridge rules of serverless.yml, read from the file itself so replay routes exactly as deployed. */
export function loadEventRoutes(root = process.cwd()): EventRoute[] {
  const doc = parseYaml(readFileSync(join(root, 'serverless.yml'), 'utf8')) as {
    params?: { default?: Record<string, unknown> };
    functions: Record<string, { events?: { eventBridge?: { pattern: Pattern } }[] }>;
  };
  const params = doc.params?.default ?? {};
  const routes: EventRoute[] = [];
  for (const [functionName, fn] of Object.entries(doc.functions)) {
    for (const event of fn.events ?? []) {
      if (event.eventBridge) routes.push({ functionName, pattern: resolveParams(event.eventBridge.pattern, params) as Pattern });
    }
  }
  return routes;
}

/** The function whose rule matches the event, or null. */
export function routeEvent(event: unknown, routes: EventRoute[]): string | null {
  return routes.find((route) => matchesPattern(event, route.pattern))?.functionName ?? null;
}
