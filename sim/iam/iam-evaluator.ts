import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { AuthorizationRequest } from './authorization-requests';
import type { FunctionRole, PolicyDocument, StackPolicies } from './stack-policies';

/** One evaluated authorization: which function asked for what, and which statement (policy/Sid) allowed it. */
export interface IamDecision {
  functionName: string;
  action: string;
  resource: string;
  allowed: boolean;
  /** `policyName/Sid` of each identity statement that allowed the request. */
  allowedBy: string[];
  /** Why it was refused, in AWS's words. */
  reason?: string;
}

export interface IamEvaluatorOptions {
  /** Where each evaluation is appended (JSONL), for the suite-wide check that every grant is used and none is denied. */
  recordDir?: string;
  /** A policy set a test wrote on purpose (not the shipped stack): its decisions are recorded apart. */
  synthetic?: boolean;
}

/**
 * Evaluates a simulated call against the calling function's role from the packaged stack, the way IAM does, with
 * @cloud-copilot/iam-simulate (an implementation of AWS's policy evaluation logic:
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html). Resource policies of
 * the stack (the KMS key policy, the evidence bucket policy) take part where the resource has one.
 */
export class IamEvaluator {
  private readonly cache = new Map<string, Promise<IamDecision>>();
  private readonly recorded = new Set<string>();
  /** How many requests were evaluated, and the ones IAM refused (what replay and `npm start` report). */
  evaluated = 0;
  readonly refused: IamDecision[] = [];

  constructor(
    readonly policies: StackPolicies,
    private readonly accountId: string,
    private readonly options: IamEvaluatorOptions = {},
  ) {}

  role(functionName: string): FunctionRole {
    const role = this.policies.functions[functionName];
    if (!role) throw new Error(`simulated IAM: the stack has no function "${functionName}" (known: ${Object.keys(this.policies.functions).join(', ')})`);
    return role;
  }

  /** The first refused request's decision, or undefined when every request is allowed. */
  async authorize(functionName: string, requests: AuthorizationRequest[]): Promise<IamDecision | undefined> {
    for (const request of requests) {
      const decision = await this.decide(functionName, request);
      this.evaluated++;
      this.record(decision);
      if (!decision.allowed) {
        this.refused.push(decision);
        return decision;
      }
    }
    return undefined;
  }

  private decide(functionName: string, request: AuthorizationRequest): Promise<IamDecision> {
    const key = JSON.stringify([functionName, request]);
    let decision = this.cache.get(key);
    if (!decision) {
      decision = this.simulate(this.role(functionName), request);
      this.cache.set(key, decision);
    }
    return decision;
  }

  private resourcePolicy(resource: string): PolicyDocument | undefined {
    const bucket = /^arn:aws:s3:::([^/]+)/.exec(resource)?.[0];
    return this.policies.resourcePolicies[bucket ?? resource];
  }

  private async simulate(role: FunctionRole, request: AuthorizationRequest): Promise<IamDecision> {
    const base = { functionName: role.functionName, action: request.action, resource: request.resource };
    const response = await runSimulation(
      {
        identityPolicies: role.policies.map(({ name, policy }) => ({ name, policy })),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: this.resourcePolicy(request.resource),
        request: {
          action: request.action,
          principal: role.roleArn,
          resource: { accountId: this.accountId, resource: request.resource },
          contextVariables: { 'aws:PrincipalArn': role.roleArn, 'aws:PrincipalAccount': this.accountId, ...request.context },
        },
      },
      {},
    );
    if (response.resultType === 'error') throw new Error(`simulated IAM: cannot evaluate ${request.action} on ${request.resource}: ${JSON.stringify(response.errors)}`);
    const allowed = response.overallResult === 'Allowed';
    const results = response.resultType === 'single' ? [response.result] : response.results;
    const allowedBy = results.flatMap((r) => r.analysis?.identityAnalysis?.allowStatements ?? []).map((s) => `${s.policyId}/${s.statement.sid() ?? s.statement.index()}`);
    const why = response.overallResult === 'ExplicitlyDenied' ? 'with an explicit deny' : 'because no identity-based policy allows the action';
    return { ...base, allowed, allowedBy: [...new Set(allowedBy)], reason: allowed ? undefined : `User: ${role.sessionArn} is not authorized to perform: ${request.action} on resource: ${request.resource} ${why}` };
  }

  private record(decision: IamDecision): void {
    if (!this.options.recordDir) return;
    const line = JSON.stringify({ ...decision, synthetic: this.options.synthetic ?? false });
    if (this.recorded.has(line)) return;
    this.recorded.add(line);
    mkdirSync(this.options.recordDir, { recursive: true });
    appendFileSync(join(this.options.recordDir, `${process.pid}.jsonl`), `${line}\n`);
  }
}
