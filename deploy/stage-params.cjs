// @ts-check
/* global module */
'use strict';
/**
 * Stage parameters, validated before anything is packaged or deployed, and typed for CloudFormation.
 *
 * osls hands every `--param="name=value"` over as a string, so `${param:minSeverity}` put "4" into the GuardDuty rule's
 * numeric matcher, which EventBridge refuses ("Value of >= must be numeric", aws/event-ruler JsonRuleCompiler). Every
 * parameter in serverless.yml is read through this file instead: `${file(./deploy/stage-params.cjs):minSeverity}`.
 * osls calls the exported function with `{ options, resolveVariable }` (lib/configuration/variables/sources/file.js),
 * which resolves the raw parameter; the first call checks every parameter, so a bad one stops `osls package` and
 * `osls deploy` with a message naming it, before any template exists.
 */

/** @typedef {{ check: (raw: string) => string | undefined, value?: (raw: string) => string | number }} Rule */

/** @param {RegExp} pattern @param {string} what @returns {Rule} */
const matching = (pattern, what) => ({ check: (raw) => (pattern.test(raw) ? undefined : `must be ${what}`) });

/** @param {RegExp} item @param {string} what @returns {Rule} */
const commaList = (item, what) => ({
  check: (raw) => {
    const bad = raw.split(',').map((s) => s.trim()).filter((s) => s && !item.test(s));
    return bad.length ? `must be a comma-separated list of ${what}; not: ${bad.join(', ')}` : undefined;
  },
});

// ECS cluster names: letters, digits, hyphens and underscores, up to 255 (CreateCluster API reference). Patterns may
// also hold the IAM wildcards * and ?. ECR repository names: lowercase, digits, . _ - and / namespaces, up to 256
// (CreateRepository API reference). Secrets Manager names: letters, digits and /_+=.@-, up to 512 (CreateSecret).
const CLUSTER = /^[A-Za-z0-9_-]{1,255}$/;
const CLUSTER_PATTERN = /^[A-Za-z0-9_*?-]{1,255}$/;

/** @type {Record<string, Rule>} */
const RULES = {
  // GuardDuty's severity runs from 1.0 to 10.0: Low 1.0-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0
  // (https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings-severity.html). A number in the rule.
  minSeverity: {
    check: (raw) => (/^\d+(\.\d+)?$/.test(raw) && Number(raw) >= 1 && Number(raw) <= 10 ? undefined : 'must be a number from 1 to 10 (GuardDuty severity)'),
    value: (raw) => Number(raw),
  },
  defaultMode: matching(/^(observe|enforce)$/, 'observe or enforce'),
  forceObserve: matching(/^(true|false)$/, 'true or false'),
  // Placeholder ids such as vpc-0abc pass: the format is checked, not the length AWS gives (8 or 17 hex digits).
  quarantineSecurityGroups: {
    check: (raw) => {
      const pairs = raw.split(',').map((s) => s.trim()).filter(Boolean);
      const bad = pairs.filter((p) => !/^vpc-[0-9a-f]+=sg-[0-9a-f]+$/.test(p));
      if (bad.length) return `must be vpc-id=sg-id pairs separated by commas; not: ${bad.join(', ')}`;
      const vpcs = pairs.map((p) => p.split('=')[0]);
      const twice = vpcs.filter((v, i) => vpcs.indexOf(v) !== i);
      return twice.length ? `names a VPC twice: ${twice.join(', ')}` : undefined;
    },
  },
  protectedClusters: commaList(CLUSTER_PATTERN, 'cluster names (wildcards * and ? allowed)'),
  actOnClusters: matching(CLUSTER_PATTERN, 'one cluster name pattern (letters, digits, - _ and the wildcards * ?)'),
  quarantineRepositories: matching(/^[a-z0-9._/*?-]{1,256}$/, 'one repository name pattern (lowercase letters, digits, . _ - / and the wildcards * ?)'),
  imageTaskClusters: commaList(CLUSTER, 'cluster names'),
  slackWebhookSecretName: matching(/^[A-Za-z0-9/_+=.@-]{1,512}$/, 'a Secrets Manager secret name (letters, digits and /_+=.@-)'),
  // Organization-wide response (README, "Organization"): member account ids (12 digits), or an organization id
  // (o- and 10 to 32 lowercase letters or digits, Organizations API reference), the member role's name (IAM role names:
  // [\w+=,.@-], here at most 56 so "-runbook" fits in 64), and the external id its trust demands (sts:ExternalId: 2 to
  // 1224 of [\w+=,.@:/-], AssumeRole API reference; not a secret, as AWS says of external ids).
  memberAccounts: commaList(/^\d{12}$/, '12-digit account ids'),
  organizationId: matching(/^(o-[a-z0-9]{10,32})?$/, 'empty or an organization id (o-xxxxxxxxxx)'),
  memberRoleName: matching(/^[\w+=,.@-]{1,56}$/, 'an IAM role name of at most 56 characters'),
  memberExternalId: matching(/^([\w+=,.@:/-]{2,1224})?$/, 'empty or 2 to 1224 of letters, digits and +=,.@:/-'),
};

/**
 * @typedef {{ options: { param?: string | string[] }, resolveVariable: (address: string) => Promise<unknown> }} Resolver
 * @type {Promise<Record<string, string | number>> | undefined}
 */
let validated;

/** @param {Resolver} resolver */
async function validate({ options, resolveVariable }) {
  const problems = [];
  const given = [options.param ?? []].flat().map((p) => p.split('=')[0] ?? '');
  for (const name of given) if (!(name in RULES)) problems.push(`${name}: not a stage parameter of this service (known: ${Object.keys(RULES).join(', ')})`);
  // osls names each rule <service>-<stage>-<function>-rule-<n> and hashes names over EventBridge's 64 characters; the
  // dead-letter queue policy in infrastructure.yml lists the rules by those names.
  const stage = String(await resolveVariable('sls:stage'));
  if (`ecs-threat-responder-${stage}-taskLaunchGuard-rule-1`.length > 64) problems.push(`stage: "${stage}" is longer than 20 characters`);
  /** @type {Record<string, string | number>} */
  const values = {};
  for (const [name, rule] of Object.entries(RULES)) {
    const resolved = await resolveVariable(`param:${name}`);
    const raw = typeof resolved === 'string' || typeof resolved === 'number' ? String(resolved).trim() : '';
    const problem = rule.check(raw);
    if (problem) problems.push(`${name}: "${raw}" ${problem}`);
    else values[name] = rule.value ? rule.value(raw) : raw;
  }
  if ((values.memberAccounts || values.organizationId) && !values.memberExternalId) {
    problems.push('memberExternalId: is required with memberAccounts or organizationId (the member roles trust only it)');
  }
  if (problems.length) {
    const error = new Error(`Invalid stage parameters:\n  ${problems.join('\n  ')}`);
    error.stack = error.message; // osls prints the stack; the message is what helps
    throw error;
  }
  return values;
}

/** One resolver per parameter: `${file(./deploy/stage-params.cjs):<name>}` gives the checked, typed value. */
module.exports = Object.fromEntries(
  Object.keys(RULES).map((name) => [
    name,
    /** @param {Resolver} resolver */
    async (resolver) => {
      // osls asks again once a source it waits for (MISSING_VARIABLE_DEPENDENCY) is ready: only a verdict is kept.
      validated ??= validate(resolver).catch((/** @type {unknown} */ error) => {
        if (error instanceof Error && 'code' in error && error.code === 'MISSING_VARIABLE_DEPENDENCY') validated = undefined;
        throw error;
      });
      return (await validated)[name];
    },
  ]),
);
