import { EC2Client } from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { S3Client, type PutObjectRequest as S3PutObjectRequest } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { OrganizationsClient } from '@aws-sdk/client-organizations';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import type { AwsClients } from '../shared/aws/clients';
import { Ec2Model, type SecurityGroupRule } from './ec2';
import { EcrModel } from './ecr';
import { EcsModel, type ContainerDefinitionState, type LaunchType, type NetworkMode, type RunTaskOptions } from './ecs';
import { Faults, Latency } from './faults';
import { IdSource, deterministicUuid } from './ids';
import { S3Model } from './s3';
import { seedFromEvent } from './seed';
import { SecretsModel } from './secrets';
import { AuthorizationRequests, type AuthorizationRequest } from './iam/authorization-requests';
import type { IamDecision, IamEvaluator } from './iam/iam-evaluator';
import { accessDeniedError, notModelledError, type ServiceName } from './service-error';
import type { OperationInput } from './service-error';
import { SnsModel } from './sns';
import { SsmModel } from './ssm';
import type { SimulatedOrganization } from './organization';
import { StsModel } from './sts';

export interface SimulatedAccountOptions {
  accountId?: string;
  region?: string;
  /** What sts:GetCallerIdentity answers. */
  principalArn?: string;
  /** Clock for timestamps (default: the real one). */
  now?: () => Date;
  /** The organization the account belongs to: STS AssumeRole reaches its members' roles. */
  organization?: SimulatedOrganization;
}

export interface CallRecord {
  service: ServiceName;
  /** e.g. 'ModifyNetworkInterfaceAttribute' */
  operation: string;
  input: Record<string, unknown>;
  ok: boolean;
  /** The error's name as the SDK surfaces it, e.g. 'OperationNotPermitted', 'ThrottlingException'. */
  errorCode?: string;
  /** The function whose role made the call (absent for the unrestricted clients tests set the scene with). */
  principal?: string;
  /** IAM refused the call: the refused request, in AWS's words. */
  iamDenied?: IamDecision;
  at: string;
  /** When the call was made and when it answered (performance.now(), ms), the simulated latency included. */
  startedAt?: number;
  endedAt?: number;
}

/** An EventBridge event the account emitted, shaped like the samples in shared/events. */
export interface SimulatedEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

const clientServices: Record<string, ServiceName> = {
  EC2Client: 'ec2',
  ECSClient: 'ecs',
  ECRClient: 'ecr',
  S3Client: 's3',
  SNSClient: 'sns',
  SecretsManagerClient: 'secrets',
  STSClient: 'sts',
  SSMClient: 'ssm',
  OrganizationsClient: 'organizations',
};

interface MiddlewareClient {
  middlewareStack: { add: (middleware: unknown, options: Record<string, unknown>) => void };
}

/**
 * An in-memory AWS account: a stateful model of the operations the pipeline calls, wired into real SDK v3
 * clients by a middleware that answers after the SDK's retry middleware, so the SDK's own retry logic handles
 * injected throttling, 5xx and timeouts. A test harness and a demo, never a claim about AWS: where AWS behaviour
 * is uncertain the documented one is modelled and the code says so.
 */
export class SimulatedAccount {
  readonly accountId: string;
  readonly region: string;
  readonly calls: CallRecord[] = [];
  readonly events: SimulatedEvent[] = [];
  readonly faults = new Faults();
  readonly latency = new Latency();
  readonly ec2: Ec2Model;
  readonly ecr: EcrModel;
  readonly ecs: EcsModel;
  readonly s3: S3Model;
  readonly sns: SnsModel;
  readonly secrets: SecretsModel;
  readonly sts: StsModel;
  readonly ssm: SsmModel;
  organization?: SimulatedOrganization;
  /** IAM, when a deployment enforces its stack's roles: calls made through a function's clients are evaluated. */
  private iam?: IamEvaluator;
  private readonly now: () => Date;
  private eventCounter = 0;

  constructor(options: SimulatedAccountOptions = {}) {
    this.accountId = options.accountId ?? '111122223333';
    this.region = options.region ?? 'us-east-1';
    this.now = options.now ?? (() => new Date());
    const ids = new IdSource();
    this.ec2 = new Ec2Model(ids, this.accountId, this.region);
    this.ecr = new EcrModel(this.accountId, this.region, this.now, (type, resources, detail) => this.emit('aws.ecr', type, resources, detail));
    this.ecs = new EcsModel(ids, this.accountId, this.region, this.now, this.ec2, this.ecr, (type, resources, detail) => this.emit('aws.ecs', type, resources, detail));
    this.s3 = new S3Model(this.now, this.accountId, this.region);
    this.sns = new SnsModel(this.accountId, this.region, this.now);
    this.secrets = new SecretsModel(this.accountId, this.region, this.now);
    this.ssm = new SsmModel(this.accountId, this.region);
    this.organization = options.organization;
    this.sts = new StsModel(this.accountId, options.principalArn ?? `arn:aws:sts::${this.accountId}:assumed-role/ecs-threat-responder/simulated`);
  }

  /** An account with the event's account id and region, seeded from the event. */
  static forEvent(event: unknown, options: Omit<SimulatedAccountOptions, 'accountId' | 'region'> = {}): SimulatedAccount {
    const envelope = (event ?? {}) as { account?: unknown; region?: unknown };
    const account = new SimulatedAccount({
      ...options,
      accountId: typeof envelope.account === 'string' ? envelope.account : undefined,
      region: typeof envelope.region === 'string' ? envelope.region : undefined,
    });
    account.seedFromEvent(event);
    return account;
  }

  // ---- clients ----

  /**
   * Real SDK clients attached to this account. Retries use the SDK's strategy with 1 ms delays (default 3 attempts).
   * With `principal` (a function of the deployed stack), every call is evaluated against that function's role.
   */
  clients(options: { maxAttempts?: number; principal?: string } = {}): AwsClients {
    const maxAttempts = options.maxAttempts ?? 3;
    const config = () => ({
      region: this.region,
      credentials: { accessKeyId: 'ASIASIMULATED', secretAccessKey: 'simulated', sessionToken: 'simulated' },
      maxAttempts,
      retryStrategy: new ConfiguredRetryStrategy(maxAttempts, 1),
    });
    const principal = options.principal;
    return {
      ecs: this.attach(new ECSClient(config()), principal),
      ec2: this.attach(new EC2Client(config()), principal),
      ecr: this.attach(new ECRClient(config()), principal),
      s3: this.attach(new S3Client(config()), principal),
      sns: this.attach(new SNSClient(config()), principal),
      secrets: this.attach(new SecretsManagerClient(config()), principal),
      sts: this.attach(new STSClient(config()), principal),
    };
  }

  /** An Organizations client on this account (membership checks), evaluated as `principal` when given. */
  organizationsClient(principal?: string): OrganizationsClient {
    return this.attach(new OrganizationsClient({ region: 'us-east-1', credentials: { accessKeyId: 'ASIASIMULATED', secretAccessKey: 'simulated' }, maxAttempts: 1 }), principal);
  }

  /** An SSM client on this account (the observe switch), evaluated as `principal` when given. */
  ssmClient(principal?: string): SSMClient {
    return this.attach(new SSMClient({ region: this.region, credentials: { accessKeyId: 'ASIASIMULATED', secretAccessKey: 'simulated' }, maxAttempts: 1 }), principal);
  }

  /** Turns on IAM: from now on, calls of a function's clients are allowed only as its role allows them. */
  enforceIam(evaluator: IamEvaluator): void {
    this.iam = evaluator;
  }

  get iamEvaluator(): IamEvaluator | undefined {
    return this.iam;
  }

  /**
   * Throws the service's own access-denied error when IAM refuses the call for the principal's role. S3 writes under
   * SSE-KMS and publishes to an encrypted topic also need the key (kms:GenerateDataKey, and kms:Decrypt for SNS:
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html,
   * https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
   */
  async authorize(principal: string | undefined, service: ServiceName, operation: string, input: Record<string, unknown>): Promise<IamDecision | undefined> {
    if (!this.iam || !principal) return undefined;
    const requests = [...new AuthorizationRequests(this).for(service, operation, input), ...this.keyRequests(service, operation, input)];
    const denied = await this.iam.authorize(principal, requests);
    if (denied) throw Object.assign(accessDeniedError(service, denied.action, denied.reason ?? 'access denied'), { iamDenied: denied });
    return undefined;
  }

  private keyRequests(service: ServiceName, operation: string, input: Record<string, unknown>): AuthorizationRequest[] {
    const via = { 'kms:ViaService': `${service}.${this.region}.amazonaws.com`, 'kms:CallerAccount': this.accountId };
    if (service === 's3' && operation === 'PutObject') {
      const bucketArn = `arn:aws:s3:::${String(input.Bucket)}`;
      let key: string | undefined;
      try {
        // The key S3 would use: the request's, the bucket default's, or the AWS managed aws/s3 (one rule, in S3Model).
        key = this.s3.encryptionFor(input as unknown as S3PutObjectRequest).kmsKeyArn;
      } catch {
        return []; // an invalid request: S3 itself refuses it
      }
      // The AWS managed key's policy lets the account's principals use it through S3
      // (https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#aws-managed-key).
      if (!key || key === this.s3.awsManagedKeyArn()) return [];
      if (!this.iam?.policies.resourcePolicies[key]) throw notModelledError(`s3:PutObject with KMS key ${key}: only the stack's own key and aws/s3 are modelled`);
      return [{ action: 'kms:GenerateDataKey', resource: key, context: { ...via, 'kms:EncryptionContext:aws:s3:arn': bucketArn } }];
    }
    if (service === 'sns' && operation === 'Publish') {
      const key = this.sns.topics.get(String(input.TopicArn))?.kmsKeyArn;
      if (!key) return [];
      return ['kms:GenerateDataKey', 'kms:Decrypt'].map((action) => ({ action, resource: key, context: via }));
    }
    return [];
  }


  /** Routes every command of an SDK client to this account instead of the network, as `principal` when given. */
  attach<T>(client: T, principal?: string): T {
    (client as unknown as MiddlewareClient).middlewareStack.add(
      (_next: unknown, context: { clientName?: string; commandName?: string }) => async (args: { input: Record<string, unknown> }) => {
        const service = clientServices[context.clientName ?? ''];
        if (!service) throw notModelledError(`client ${context.clientName} is not modelled`);
        const operation = (context.commandName ?? '').replace(/Command$/, '');
        const output = await this.call(service, operation, args.input, principal);
        return {
          output: { ...output, $metadata: { httpStatusCode: 200, requestId: deterministicUuid(`request/${this.calls.length}`), attempts: 1, totalRetryDelay: 0 } },
          response: { statusCode: 200, headers: {} },
        };
      },
      { step: 'finalizeRequest', priority: 'low', name: 'simulatedAccount' },
    );
    return client;
  }

  /** One attempt of one operation: latency, then an injected fault or the model's answer, logged either way. */
  private async call(service: ServiceName, operation: string, input: Record<string, unknown>, principal?: string): Promise<Record<string, unknown>> {
    const startedAt = performance.now();
    const delay = this.latency.for(service, operation);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const record: CallRecord = { service, operation, input: { ...input }, ok: true, at: this.now().toISOString(), principal, startedAt };
    this.calls.push(record);
    try {
      await this.authorize(principal, service, operation, input);
      const fault = this.faults.errorFor(service, operation);
      if (fault) throw fault;
      const output = service === 'sts' && operation === 'AssumeRole' ? await this.assumeRole(principal, input) : await this.models()[service](operation, input);
      if (output === undefined) {
        throw notModelledError(`${service}:${operation} is not modelled`);
      }
      return output as Record<string, unknown>;
    } catch (error) {
      record.ok = false;
      record.errorCode = (error as Error).name;
      record.iamDenied = (error as { iamDenied?: IamDecision }).iamDenied;
      throw error;
    } finally {
      record.endedAt = performance.now();
    }
  }

  /** AssumeRole into another account's role: the caller is this account's function role. */
  private assumeRole(principal: string | undefined, input: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (!this.organization) throw notModelledError('sts:AssumeRole outside a simulated organization');
    const caller = principal && this.iam ? this.iam.role(principal).roleArn : this.sts.principalArn;
    return this.organization.assumeRole(caller, input);
  }

  private models(): Record<ServiceName, (operation: string, input: OperationInput) => unknown> {
    return {
      ec2: (op, input) => this.ec2.handle(op, input),
      ecs: (op, input) => this.ecs.handle(op, input),
      ecr: (op, input) => this.ecr.handle(op, input),
      s3: (op, input) => this.s3.handle(op, input),
      sns: (op, input) => this.sns.handle(op, input),
      secrets: (op, input) => this.secrets.handle(op, input),
      sts: (op) => this.sts.handle(op),
      ssm: (op, input) => this.ssm.handle(op, input),
      dynamodb: () => undefined,
      organizations: (op, input) => this.organization?.handle(op, input),
    };
  }

  callsTo(service: ServiceName, operation: string): CallRecord[] {
    return this.calls.filter((c) => c.service === service && c.operation === operation);
  }

  // ---- events ----

  private emit(source: string, detailType: string, resources: string[], detail: Record<string, unknown>): void {
    this.events.push({
      version: '0',
      id: deterministicUuid(`event/${this.eventCounter++}`),
      'detail-type': detailType,
      source,
      account: this.accountId,
      time: this.now().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: this.region,
      resources,
      detail: JSON.parse(JSON.stringify(detail)) as Record<string, unknown>,
    });
  }

  /** Returns the events emitted so far and forgets them. */
  drainEvents(): SimulatedEvent[] {
    return this.events.splice(0, this.events.length);
  }

  // ---- seeding ----

  addVpc(options?: { name?: string; cidrBlock?: string; vpcId?: string }) {
    return this.ec2.addVpc(options);
  }

  addSubnet(options?: { vpcId?: string; name?: string; cidrBlock?: string; availabilityZone?: string; subnetId?: string }) {
    return this.ec2.addSubnet(options);
  }

  addSecurityGroup(options: { name: string; vpcId?: string; description?: string; tags?: Record<string, string>; ingress?: SecurityGroupRule[]; egress?: SecurityGroupRule[] }) {
    return this.ec2.addSecurityGroup(options);
  }

  addCluster(options: { name: string; tags?: Record<string, string> }) {
    return this.ecs.addCluster(options);
  }

  addService(options: { cluster: string; name: string; desiredCount: number; taskDefinitionArn?: string; launchType?: LaunchType }) {
    return this.ecs.addService(options);
  }

  registerTaskDefinition(options: { family: string; revision?: number; networkMode?: NetworkMode; containers: ContainerDefinitionState[] }) {
    return this.ecs.registerTaskDefinition(options);
  }

  addContainerInstance(options: { cluster: string; ec2InstanceId?: string; subnetId?: string; securityGroupIds?: string[] }) {
    return this.ecs.addContainerInstance(options);
  }

  runTask(options: RunTaskOptions) {
    return this.ecs.runTask(options);
  }

  createRepository(name: string, options?: { imageTagMutability?: 'MUTABLE' | 'IMMUTABLE' }) {
    return this.ecr.createRepository(name, options);
  }

  putImage(options: { repository: string; digest?: string; tags?: string[]; manifest?: string }) {
    return this.ecr.putImage(options);
  }

  putSecret(name: string, value: string): string {
    return this.secrets.putSecret(name, value);
  }

  createTopic(name: string, options: { kmsKeyArn?: string } = {}): string {
    return this.sns.createTopic(name, options);
  }

  createBucket(name: string): void {
    this.s3.createBucket(name);
  }

  /** Creates whatever a raw EventBridge event names (cluster, service, task, images, repositories) if missing. */
  seedFromEvent(event: unknown): void {
    seedFromEvent(this, event);
  }
}
