import type { ParseArgsConfig } from 'node:util';
import { UsageError, parseCliArgs, parseParams, runCli } from './cli-run';
import { readLiveStack } from './live-stack';
import { describeIam, describeReplayLine } from './replay-report';
import { DEFAULT_ACCOUNT, ReplaySession, expandEventPaths, organizationFromParams } from './replay-session';

const usage = `usage: npm run replay -- [options] <event files or folders>

Replays events, in the order given, through the same code as the Lambda functions, by default against a fresh
simulated account that adopts the events' account and region and is seeded with what they name (enforce mode).
Events as people have them: EventBridge events, JSON arrays of them, GuardDuty findings as \`aws guardduty
get-findings\` prints them ({"Findings": [...]} or one finding), Inspector findings (\`aws inspector2 list-findings\`);
findings are wrapped as EventBridge delivers them, and the output says so. Files may be gzip-compressed.

options:  --json                one JSON line per event
          --mode observe|enforce  force every rule to observe, or run the policy as written
          --param name=value    a stage parameter, as osls deploy takes it (e.g. --param defaultMode=observe);
                                memberAccounts=<id,id> or organizationId=<o-...> make the simulated account a
                                security account acting in those members through their member roles
          --without-member-role <account>
                                a member of the simulated organization that has not deployed the member role
          --policy <file>       another policy file (default policy.yml)
          --live --stage <stage> [--region <r>]
                                your AWS credentials and the deployed stack (settings read from its outputs); needs
                                --mode. It writes the ledger and publishes notifications (Slack) even in observe mode
          --help                this text`;

const OPTIONS = {
  json: { type: 'boolean', default: false },
  mode: { type: 'string' },
  live: { type: 'boolean', default: false },
  stage: { type: 'string' },
  region: { type: 'string' },
  policy: { type: 'string' },
  param: { type: 'string', multiple: true, default: [] as string[] },
  'without-member-role': { type: 'string', multiple: true, default: [] as string[] },
  help: { type: 'boolean', short: 'h', default: false },
} satisfies ParseArgsConfig['options'];

async function main(): Promise<number> {
  const { values, positionals } = parseCliArgs(OPTIONS);
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (values.mode !== undefined && values.mode !== 'observe' && values.mode !== 'enforce') throw new UsageError(`--mode must be observe or enforce, not "${values.mode}"`);
  if (values.live && (!values.mode || !values.stage)) throw new UsageError('--live needs --stage <stage> and an explicit --mode observe|enforce');
  if (values.live && values.param.length) throw new UsageError('--param is for the simulated account; --live runs with the stage as deployed');
  if (values.live && values['without-member-role'].length) throw new UsageError('--without-member-role is for the simulated organization; --live acts in your real accounts');
  for (const account of values['without-member-role']) if (!/^\d{12}$/.test(account)) throw new UsageError(`--without-member-role "${account}" is not a 12-digit account id`);
  if (positionals.length === 0) throw new UsageError('no events given');
  const paths = expandEventPaths(positionals);
  const log = values.json ? console.error : console.log;
  for (const note of paths.notes) log(`note: ${note}`);
  if (paths.files.length === 0 && paths.missing.length === 0) {
    console.error(`no events to replay: ${positionals.join(' ')} holds no .json or .json.gz files`);
    return 2;
  }
  const mode = values.mode;
  let session: ReplaySession;
  if (values.live) {
    const stack = await readLiveStack(values.stage!, values.region);
    log(`replaying against AWS account ${stack.account}, ${stack.region}, stage ${values.stage} (${mode}), with your credentials (${stack.caller})`);
    session = await ReplaySession.start({ mode, live: stack, policyFile: values.policy });
  } else {
    const params = parseParams(values.param);
    const withoutMemberRole = values['without-member-role'];
    const organization = organizationFromParams(params, withoutMemberRole);
    const where = organization
      ? `a simulated organization (nothing real): security account ${DEFAULT_ACCOUNT} acting in ${organization.members.length ? `members ${organization.members.join(', ')}` : `the accounts of organization ${organization.organizationId}`} through their member roles${withoutMemberRole.length ? ` (${withoutMemberRole.join(', ')} without the role)` : ''}`
      : 'a simulated account (nothing real)';
    log(`replaying against ${where}${Object.keys(params).length ? `, stage parameters ${values.param.join(' ')}` : ''}\n`);
    session = await ReplaySession.start({ mode, policyFile: values.policy, params, withoutMemberRole });
  }
  let errors = 0;
  try {
    for (const missing of paths.missing) {
      errors++;
      const line = { event: missing.split(': ')[0]!, rule: null, finding: null, decision: null, actions: [], notifications: 0, error: missing.slice(missing.indexOf(': ') + 2) };
      console.log(values.json ? JSON.stringify(line) : `${describeReplayLine(line)}\n`);
    }
    for (const path of paths.files) {
      for (const line of await session.replayFile(path)) {
        if (line.error) errors++;
        console.log(values.json ? JSON.stringify(line) : `${describeReplayLine(line)}\n`);
      }
    }
    const accounts = session.accounts();
    if (accounts.length) {
      // On stderr with --json, so stdout stays one JSON line per event.
      log(describeIam(accounts).join('\n'));
      if (accounts.some((a) => a.iamEvaluator?.refused.length)) errors++;
    }
  } finally {
    await session.close();
  }
  return errors > 0 ? 1 : 0;
}

runCli(main, usage);
