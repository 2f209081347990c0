import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { ParseArgsConfig } from 'node:util';
import { RUNBOOK_COMMANDS, type RunbookResult } from '../shared/runbook';
import { UsageError, parseCliArgs, parseParams, runCli } from './cli-run';
import { readLiveStack, stackName } from './live-stack';
import { describeReplayLine } from './replay-report';
import { DEFAULT_ACCOUNT, ReplaySession, expandEventPaths, organizationFromParams } from './replay-session';

const usage = `usage: npm run runbook -- <${RUNBOOK_COMMANDS.join('|')}> [what] --reason "<why>" <where> [options]

what:     --task <task ARN> | --finding <GuardDuty finding id, or its ledger id guardduty:<id>> | --repository <name> --digest <sha256:...>
          --account <id>      organization-wide: the member account it acts in (a task ARN names it already; with
                              --repository/--digest it selects that member's image); status and history show
                              only that account's records
where (one is required; the first line of the output says where it acts):
          --live --stage <stage> [--region <r>]        your AWS credentials; the stack's table, bucket, key and topic from its outputs
          --via-lambda --stage <stage> [--region <r>]  invoke the deployed runbook function (its role acts)
          --simulated                                  a fresh simulated account (nothing real); --replay <events> sets the scene first;
                                                       --param name=value and --without-member-role <account> as replay takes them
options:  --reason <text>     required for every command that changes something (not a placeholder such as <why>)
          --ticket <id>       recorded with the action
          --since <ISO time>  history: from when (default: 7 days ago)
          --force             past the blast-radius limit (with a reason; recorded); protection is never bypassed
          --ignore-min-healthy  stop: even below the service's minimum healthy tasks
          --stop-running-tasks  quarantine-image: also stop the tasks running the digest
          --json              print the result as JSON
          --help              this text`;

const OPTIONS = {
  task: { type: 'string' },
  finding: { type: 'string' },
  repository: { type: 'string' },
  digest: { type: 'string' },
  reason: { type: 'string' },
  ticket: { type: 'string' },
  since: { type: 'string' },
  force: { type: 'boolean', default: false },
  'stop-running-tasks': { type: 'boolean', default: false },
  'ignore-min-healthy': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  live: { type: 'boolean', default: false },
  'via-lambda': { type: 'boolean', default: false },
  simulated: { type: 'boolean', default: false },
  stage: { type: 'string' },
  region: { type: 'string' },
  replay: { type: 'string', multiple: true, default: [] as string[] },
  account: { type: 'string' },
  param: { type: 'string', multiple: true, default: [] as string[] },
  'without-member-role': { type: 'string', multiple: true, default: [] as string[] },
  help: { type: 'boolean', short: 'h', default: false },
} satisfies ParseArgsConfig['options'];

/** A result that did nothing a person asked for: an error, a failed step, or a target that matched nothing. */
function failed(result: RunbookResult): boolean {
  return !!result.error || result.actions.some((a) => a.status === 'failed') || (!!result.ignored && result.actions.length === 0 && !result.records);
}

async function main(): Promise<number> {
  const { values, positionals } = parseCliArgs(OPTIONS);
  const command = positionals[0];
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (!command) throw new UsageError('which command?');
  if (!(RUNBOOK_COMMANDS as readonly string[]).includes(command)) throw new UsageError(`unknown command "${command}"; commands: ${RUNBOOK_COMMANDS.join(', ')}`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}" (quote a reason with spaces: --reason "...")`);
  const simulated = values.simulated || values.replay.length > 0;
  const targets = [values.live && '--live', values['via-lambda'] && '--via-lambda', simulated && (values.simulated ? '--simulated' : '--replay')].filter(Boolean);
  if (targets.length === 0) throw new UsageError('where should it act? Give one of --live --stage <stage>, --via-lambda --stage <stage>, or --simulated');
  if (targets.length > 1) throw new UsageError(`give one target, not ${targets.join(' and ')}`);
  if ((values.live || values['via-lambda']) && !values.stage) throw new UsageError(`${targets[0]} needs --stage <stage> (the stage you deployed: osls deploy --stage <stage>)`);
  if (!simulated && (values.param.length || values['without-member-role'].length)) throw new UsageError('--param and --without-member-role are for the simulated account; a deployed stage has its own parameters');
  const payload = {
    runbook: command,
    taskArn: values.task,
    account: values.account,
    findingId: values.finding,
    repository: values.repository,
    imageDigest: values.digest,
    reason: values.reason,
    ticket: values.ticket,
    since: values.since,
    force: values.force || undefined,
    stopRunningTasks: values['stop-running-tasks'] || undefined,
    ignoreMinHealthy: values['ignore-min-healthy'] || undefined,
  };
  const say = (line: string) => (values.json ? console.error : console.log)(line);
  const inMember = values.account ? ` (in account ${values.account}, through its member runbook role)` : '';

  let result: RunbookResult;
  if (values['via-lambda']) {
    const lambda = new LambdaClient({ region: values.region });
    const region = await lambda.config.region().catch(() => undefined);
    if (!region) throw new Error('no AWS region: pass --region <region>, or set one in your profile (aws configure)');
    const identity = await new STSClient({ region }).send(new GetCallerIdentityCommand({}));
    const functionName = `${stackName(values.stage!)}-runbook`;
    say(`acting on AWS account ${identity.Account}, ${region}, stage ${values.stage}: invoking ${functionName} as ${identity.Arn}${inMember}`);
    const out = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: JSON.stringify({ ...payload, requestedBy: identity.Arn }) }));
    if (out.FunctionError) throw new Error(`runbook function failed: ${Buffer.from(out.Payload ?? []).toString()}`);
    result = JSON.parse(Buffer.from(out.Payload ?? []).toString()) as RunbookResult;
  } else {
    let session: ReplaySession;
    if (values.live) {
      const stack = await readLiveStack(values.stage!, values.region);
      say(`acting on AWS account ${stack.account}, ${stack.region}, stage ${values.stage}, with your credentials (${stack.caller})${inMember}`);
      session = await ReplaySession.start({ live: stack });
    } else {
      const params = parseParams(values.param);
      const withoutMemberRole = values['without-member-role'];
      const organization = organizationFromParams(params, withoutMemberRole);
      const where = organization ? `a simulated organization (nothing real; security account ${DEFAULT_ACCOUNT})` : 'a simulated account (nothing real)';
      say(`acting on ${where}${values.account ? `, in account ${values.account}` : ''}${values.replay.length ? `, after replaying ${values.replay.join(' ')}` : ': it starts empty'}`);
      session = await ReplaySession.start({ params, withoutMemberRole });
    }
    try {
      const paths = expandEventPaths(values.replay);
      for (const note of [...paths.notes, ...paths.missing]) say(`note: ${note}`);
      for (const path of paths.files) {
        for (const line of await session.replayFile(path)) if (!values.json) console.log(`${describeReplayLine(line)}\n`);
      }
      result = await session.runbook(payload);
    } finally {
      await session.close();
    }
  }

  if (values.json) console.log(JSON.stringify(result));
  else {
    console.log(describeReplayLine({ event: `runbook ${command}`, rule: 'runbook', ...result }));
  }
  return failed(result) ? 1 : 0;
}

runCli(main, usage);
