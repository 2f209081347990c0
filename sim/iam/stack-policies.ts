/**
 * The IAM policies of a packaged stack, made concrete for one simulated deployment: every function's execution role
 * (inline policies, as CloudFormation creates them) and the resource policies the simulated account enforces beside
 * them (the KMS key policy, the evidence bucket policy). CloudFormation intrinsics (Ref, Fn::GetAtt, Fn::Sub,
 * Fn::Join) are resolved against the simulated resources' names, the way CloudFormation would resolve them.
 */

 
type Json = any;

export interface PolicyDocument {
  Version?: string;
  Statement: Json[];
}

export interface FunctionRole {
  /** serverless.yml function name, e.g. runtimeFinding. */
  functionName: string;
  roleLogicalId: string;
  roleArn: string;
  /** The session ARN the function's calls carry (assumed-role/<role>/<function>). */
  sessionArn: string;
  policies: { name: string; policy: PolicyDocument }[];
}

export interface StackPolicies {
  functions: Record<string, FunctionRole>;
  /** Resource policies by the ARN of the resource they guard. */
  resourcePolicies: Record<string, PolicyDocument>;
}

/** What a logical id resolves to: `Ref` and its attributes. */
export interface PhysicalResource {
  ref: string;
  arn?: string;
}

export interface ResolveContext {
  partition: string;
  accountId: string;
  region: string;
  stackName: string;
  /** Physical names of the resources the roles reference; others get a generated name. */
  resources: Record<string, PhysicalResource>;
  /** The template's parameters, as a stack instance is given them. */
  parameters?: Record<string, string>;
}

function physical(logicalId: string, template: Json, context: ResolveContext): PhysicalResource {
  const known = context.resources[logicalId];
  if (known) return known;
  const type: string | undefined = template.Resources?.[logicalId]?.Type;
  const { partition, region, accountId, stackName } = context;
  const name = `${stackName}-${logicalId}-SIMULATED`;
  // ARN formats from each service's "resource types" table (Service Authorization Reference).
  switch (type) {
    case 'AWS::SQS::Queue':
      return { ref: `https://sqs.${region}.amazonaws.com/${accountId}/${name}`, arn: `arn:${partition}:sqs:${region}:${accountId}:${name}` };
    case 'AWS::IAM::Role':
      return { ref: name, arn: `arn:${partition}:iam::${accountId}:role/${name}` };
    case 'AWS::Lambda::Function':
      return { ref: name, arn: `arn:${partition}:lambda:${region}:${accountId}:function:${name}` };
    case 'AWS::Events::Rule':
      return { ref: name, arn: `arn:${partition}:events:${region}:${accountId}:rule/${name}` };
    default:
      return { ref: name };
  }
}

function resolve(value: Json, template: Json, context: ResolveContext): Json {
  if (Array.isArray(value)) return value.map((item) => resolve(item, template, context));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const [key] = keys as [string];
    const arg = value[key];
    const pseudo: Record<string, string> = {
      'AWS::Partition': context.partition,
      'AWS::Region': context.region,
      'AWS::AccountId': context.accountId,
      'AWS::StackName': context.stackName,
      'AWS::URLSuffix': 'amazonaws.com',
    };
    const attribute = (logicalId: string, name: string): string => {
      const resource = physical(logicalId, template, context);
      if (name === 'Arn' && resource.arn) return resource.arn;
      throw new Error(`simulated IAM: cannot resolve Fn::GetAtt ${logicalId}.${name}`);
    };
    const ref = (name: string): string => pseudo[name] ?? context.parameters?.[name] ?? physical(name, template, context).ref;
    if (key === 'Ref') return ref(arg as string);
    if (key === 'Fn::GetAtt') {
      const [logicalId, name] = Array.isArray(arg) ? arg : String(arg).split('.');
      return attribute(logicalId, name);
    }
    if (key === 'Fn::Sub') {
      const [text, variables] = Array.isArray(arg) ? arg : [arg, {}];
      return String(text).replace(/\$\{([^}!]+)\}/g, (_match, name: string) => {
        if (variables && name in variables) return String(resolve(variables[name], template, context));
        const [logicalId, attr] = name.split('.');
        return attr ? attribute(logicalId!, attr) : ref(name);
      });
    }
    if (key === 'Fn::Join') {
      const [separator, parts] = arg as [string, Json[]];
      return parts.map((part) => resolve(part, template, context)).join(separator);
    }
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, template, context)]));
}

/** serverless.yml's name for a function from its CloudFormation logical id (RuntimeFindingLambdaFunction → runtimeFinding). */
function functionNameOf(logicalId: string): string {
  const base = logicalId.replace(/LambdaFunction$/, '');
  return base.charAt(0).toLowerCase() + base.slice(1);
}

export function stackPolicies(template: Json, context: ResolveContext): StackPolicies {
  const functions: Record<string, FunctionRole> = {};
  const resourcePolicies: Record<string, PolicyDocument> = {};
  for (const [logicalId, resource] of Object.entries<Json>(template.Resources ?? {})) {
    if (resource.Type === 'AWS::Lambda::Function') {
      const roleLogicalId: string | undefined = resource.Properties?.Role?.['Fn::GetAtt']?.[0];
      if (!roleLogicalId) throw new Error(`simulated IAM: ${logicalId} has no role of the stack`);
      const role = template.Resources[roleLogicalId];
      const functionName = functionNameOf(logicalId);
      const roleName = physical(roleLogicalId, template, context).ref;
      functions[functionName] = {
        functionName,
        roleLogicalId,
        roleArn: `arn:${context.partition}:iam::${context.accountId}:role/${roleName}`,
        sessionArn: `arn:${context.partition}:sts::${context.accountId}:assumed-role/${roleName}/${context.stackName}-${functionName}`,
        policies: (role.Properties.Policies ?? []).map((p: Json) => ({ name: p.PolicyName, policy: resolve(p.PolicyDocument, template, context) })),
      };
    }
    if (resource.Type === 'AWS::KMS::Key') {
      const arn = physical(logicalId, template, context).arn;
      if (arn) resourcePolicies[arn] = resolve(resource.Properties.KeyPolicy, template, context);
    }
    if (resource.Type === 'AWS::S3::BucketPolicy') {
      const bucket = resolve(resource.Properties.Bucket, template, context) as string;
      resourcePolicies[`arn:${context.partition}:s3:::${bucket}`] = resolve(resource.Properties.PolicyDocument, template, context);
    }
  }
  return { functions, resourcePolicies };
}

/** An IAM role of a template (its trust and inline policies), resolved for one stack instance. */
export function roleOf(template: Json, roleLogicalId: string, context: ResolveContext): { roleName: string; trustPolicy: PolicyDocument; policies: { name: string; policy: PolicyDocument }[] } {
  const role = template.Resources?.[roleLogicalId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`simulated IAM: ${roleLogicalId} is not a role of the template`);
  const properties = resolve(role.Properties, template, context);
  return {
    roleName: properties.RoleName ?? physical(roleLogicalId, template, context).ref,
    trustPolicy: properties.AssumeRolePolicyDocument,
    policies: (properties.Policies ?? []).map((p: Json) => ({ name: p.PolicyName, policy: p.PolicyDocument })),
  };
}
