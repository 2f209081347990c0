import { parseArgs } from 'node:util';
import { describeIam, describeReplayLine } from './replay-report';
import { ReplaySession, expandEventPaths } from './replay-session';

const usage = `usage: npm run replay -- [--json] [--mode observe|enforce] [--live] [--policy policy.yml] <event files or folders>

Replays events, in the order given, through the same code as the Lambda functions. By default against a fresh
simulated account (seeded with what the events name) in enforce mode; --live uses your AWS credentials and the
deployed stack's settings (RESPONDER_TABLE, EVIDENCE_BUCKET, NOTIFY_TOPIC_ARN) and needs an explicit --mode.`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      mode: { type: 'string' },
      live: { type: 'boolean', default: false },
      policy: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
  });
  if (values.help || positionals.length === 0) {
    console.error(usage);
    return values.help ? 0 : 2;
  }
  if (values.mode !== undefined && values.mode !== 'observe' && values.mode !== 'enforce') {
    console.error(`--mode must be observe or enforce, not "${values.mode}"`);
    return 2;
  }
  const session = await ReplaySession.start({ mode: values.mode, live: values.live, policyFile: values.policy });
  let errors = 0;
  try {
    for (const path of expandEventPaths(positionals)) {
      for (const line of await session.replayFile(path)) {
        if (line.error) errors++;
        console.log(values.json ? JSON.stringify(line) : `${describeReplayLine(line)}\n`);
      }
    }
    if (session.simulated) {
      const iam = describeIam(session.simulated.accounts());
      // On stderr with --json, so stdout stays one JSON line per event.
      (values.json ? console.error : console.log)(iam.join('\n'));
      if (session.simulated.accounts().some((a) => a.iamEvaluator?.refused.length)) errors++;
    }
  } finally {
    await session.close();
  }
  return errors > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
