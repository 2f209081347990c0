import { packageStack, type PackageOptions } from '../sim/packaged-template';
import { matchesPattern, validatePattern, type Pattern } from './event-pattern';

export interface EventRoute {
  functionName: string;
  pattern: Pattern;
}

interface RuleResource {
  Type: string;
  Properties: { EventPattern: unknown; Targets: { Arn: { 'Fn::GetAtt': [string, string] } }[] };
}

/**
 * The EventBridge rules of the packaged stack (the real `osls package` output for the stage and its parameters, as
 * deployed: patterns exactly as rendered, with no conversion), each refused here if EventBridge would refuse it.
 */
export function loadEventRoutes(options: PackageOptions = {}): EventRoute[] {
  const { Resources } = packageStack(options).template as { Resources: Record<string, RuleResource> };
  return Object.values(Resources)
    .filter((r) => r.Type === 'AWS::Events::Rule')
    .map(({ Properties: { EventPattern: pattern, Targets } }) => {
      validatePattern(pattern);
      // osls names a function's resource <FunctionName>LambdaFunction, its first letter upper-cased.
      const logicalId = Targets[0]!.Arn['Fn::GetAtt'][0];
      const functionName = logicalId.charAt(0).toLowerCase() + logicalId.slice(1).replace(/LambdaFunction$/, '');
      return { functionName, pattern };
    });
}

/** The function whose rule matches the event, or null. */
export function routeEvent(event: unknown, routes: EventRoute[]): string | null {
  return routes.find((route) => matchesPattern(event, route.pattern))?.functionName ?? null;
}
