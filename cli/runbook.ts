import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { parseArgs } from 'node:util';
import { RUNBOOK_COMMANDS, type RunbookResult } from '../shared/runbook';
import { describeReplayLine } from './replay-report';
import { ReplaySession, expandEventPaths } from './replay-session';
import { describeRecords } from './runbook-report';

const usage = `usage: npm run runbook -- <${RUNBOOK_COMMANDS.join('|')}> [target] --reason "<why>" [options]

targets:  --task <task ARN> | --finding <ledger id> | --repository <name> --digest <sha256:...>
options:  --reason <text>     required for every command that changes something
          --ticket <id>       recorded with the action
          --since <ISO time>  history: from when (default: 7 days ago)
          --force             past the blast-radius limit (with a reason; recorded); protection is never bypassed
          --ignore-min-healthy  stop: even below the service's minimum healthy tasks
          --stop-running-tasks  quarantine-image: also stop the tasks running the digest
          --json              print the result as JSON
where:    (default)           a fresh simulated account; --replay <events> sets the scene first
          --live              your AWS credentials, the deployed stack's settings (RESPONDER_TABLE, ...)
          --via-lambda        invoke the deployed runbook function (--stage, default dev)`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
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
      stage: { type: 'string', default: 'dev' },
      replay: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.error(usage);
    return values.help ? 0 : 2;
  }
  const payload = {
    runbook: command,
    taskArn: values.task,
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

  let result: RunbookResult;
  if (values['via-lambda']) {
    const identity = await new STSClient({}).send(new GetCallerIdentityCommand({}));
    const out = await new LambdaClient({}).send(
      new InvokeCommand({ FunctionName: `ecs-threat-responder-${values.stage}-runbook`, Payload: JSON.stringify({ ...payload, requestedBy: identity.Arn }) }),
    );
    if (out.FunctionError) throw new Error(`runbook function failed: ${Buffer.from(out.Payload ?? []).toString()}`);
    result = JSON.parse(Buffer.from(out.Payload ?? []).toString()) as RunbookResult;
  } else {
    const session = await ReplaySession.start({ live: values.live, mode: values.live ? 'enforce' : undefined });
    try {
      for (const path of expandEventPaths(values.replay)) {
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
    if (result.records) console.log(describeRecords(result.records));
  }
  return result.error || result.actions.some((a) => a.status === 'failed') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
