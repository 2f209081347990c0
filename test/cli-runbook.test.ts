import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderSlackMessage } from '../shared/notify/slack-message';
import { runRunbook } from '../shared/runbook';
import type { SimulatedDeployment } from '../sim/deployment';
import { ROOT, loadEvent, notifications, seedAndRespond, startDeployment } from './helpers/deployment';

const TSX = join(ROOT, 'node_modules/.bin/tsx');
const ENV = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
const HIGH = 'gd-ecs-fargate-reverse-shell.json';
const HIGH_ID = 'c4e6a8b0d2f44a6c8e0a2c4e6f8a0b1c';

function cli(script: string, args: string[]) {
  const run = spawnSync(TSX, [`cli/${script}.ts`, ...args], { cwd: ROOT, env: ENV, encoding: 'utf8', timeout: 170_000 });
  return { code: run.status, out: run.stdout, err: run.stderr };
}

/** Splits a printed command as a shell would (double quotes only, as the commands use). */
function shellWords(command: string): string[] {
  return [...command.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

let deployment: SimulatedDeployment | undefined;
afterEach(async () => {
  vi.unstubAllEnvs();
  await deployment?.close();
  deployment = undefined;
});

describe('every runbook command names its target (issue 9, item 1)', () => {
  it('without --live, --via-lambda or --simulated: exit 2 naming the three, and nothing runs', () => {
    const run = cli('runbook', ['release', '--finding', `guardduty:${HIGH_ID}`, '--reason', 'pen test']);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/--live --stage <stage>, --via-lambda --stage <stage>, or --simulated/);
    expect(run.err).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('--live and --via-lambda need the stage', () => {
    expect(cli('runbook', ['history', '--live']).err).toMatch(/--live needs --stage <stage>/);
    expect(cli('runbook', ['history', '--via-lambda']).err).toMatch(/--via-lambda needs --stage <stage>/);
  });

  it("the release command in a rendered Slack message runs as printed, only its target swapped; the first line says where it acts", async () => {
    vi.stubEnv('RESPONDER_STAGE', 'prod');
    deployment = await startDeployment();
    await seedAndRespond(deployment, loadEvent(HIGH));
    const slack = renderSlackMessage(notifications(deployment.account)[0]!);
    const block = (slack.blocks as { text?: { text?: string } }[]).find((b) => b.text?.text?.startsWith('*To release:*'))!;
    const printed = /`([^`]*)`/.exec(block.text!.text!)![1]!.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
    expect(printed).toBe(`npm run runbook -- release --finding guardduty:${HIGH_ID} --reason "<why>" --via-lambda --stage prod --region us-east-1`);

    const words = shellWords(printed).slice(4); // after `npm run runbook --`
    const swapped = (reason?: string) => {
      const args = words.join('\u0000').replace('--via-lambda\u0000--stage\u0000prod\u0000--region\u0000us-east-1', `--replay\u0000events/guardduty/${HIGH}`).split('\u0000');
      return reason ? args.map((w) => (w === '<why>' ? reason : w)) : args;
    };
    // As printed, the placeholder reason is refused: nothing is released.
    const unfilled = cli('runbook', swapped());
    expect(unfilled.code).toBe(1);
    expect(unfilled.out).toMatch(/reason: "<why>" is a placeholder/);
    expect(unfilled.out).not.toMatch(/released/);

    const filled = cli('runbook', swapped('pen test PT-7'));
    expect(filled.code).toBe(0);
    expect(filled.out.split('\n')[0]).toBe(`acting on a simulated account (nothing real), after replaying events/guardduty/${HIGH}`);
    expect(filled.out).toMatch(/▶ runbook release → runbook[\s\S]*result {3}released; 1 notification/);
  }, 240_000);
});

describe('nothing matched is a failure (issue 9, item 2)', () => {
  it('a finding the ledger does not hold: exit 1, the close match named, no "released" message', () => {
    const run = cli('runbook', ['release', '--finding', `guardduty:${HIGH_ID.slice(0, -1)}d`, '--reason', 'false positive', '--json', '--replay', `events/guardduty/${HIGH}`]);
    expect(run.code).toBe(1);
    const result = JSON.parse(run.out.trim().split('\n').at(-1)!);
    expect(result.error).toBe(`nothing matched: the ledger holds nothing for guardduty:${HIGH_ID.slice(0, -1)}d, so nothing was changed; did you mean guardduty:${HIGH_ID}?`);
    expect(result.notifications).toBe(0);
    expect(result.containment).toBeUndefined();
  }, 200_000);

  it('release-image of an image the responder never quarantined: exit 1, says so', () => {
    const run = cli('runbook', ['release-image', '--repository', 'reports-job', '--digest', `sha256:${'9'.repeat(64)}`, '--reason', 'rebuilt', '--simulated']);
    expect(run.code).toBe(1);
    expect(run.out).toMatch(/is not quarantined by the responder/);
  }, 120_000);

  it('a bare GuardDuty id works as guardduty:<id>; status of nothing fails; empty, blank and placeholder reasons are refused', async () => {
    deployment = await startDeployment();
    await seedAndRespond(deployment, loadEvent(HIGH));
    const runbook = deployment.depsFor('runbook');
    const published = deployment.account.sns.published.length;
    for (const reason of ['', '   ', '<why>', ' <reason> ', '...']) {
      const refused = await runRunbook({ runbook: 'release', findingId: HIGH_ID, reason }, runbook, 'alice');
      expect(refused.error, reason).toMatch(/^reason: /);
    }
    expect(deployment.account.sns.published).toHaveLength(published);
    expect((await runRunbook({ runbook: 'status', findingId: 'f'.repeat(32) }, runbook, 'alice')).error).toMatch(/^nothing matched: the ledger holds nothing for guardduty:f{32}, so nothing was found/);
    const status = await runRunbook({ runbook: 'status', findingId: HIGH_ID }, runbook, 'alice');
    expect(status.records?.length).toBeGreaterThan(0);
    const released = await runRunbook({ runbook: 'release', findingId: HIGH_ID, reason: 'pen test PT-7' }, runbook, 'alice');
    expect(released).toMatchObject({ containment: 'released', notifications: 1 });
  }, 60_000);
});

describe('errors for people (issue 9, item 6)', () => {
  it('an unknown flag or command names the valid ones; --help on every CLI; no stack trace', () => {
    const flag = cli('runbook', ['release', '--taks', 'x', '--simulated']);
    expect(flag.code).toBe(2);
    expect(flag.err).toMatch(/^unknown option --taks; valid options: --task, --finding/);
    const command = cli('runbook', ['relase', '--simulated']);
    expect(command.err).toMatch(/^unknown command "relase"; commands: isolate, stop, quarantine-image, release, release-image, status, history/);
    expect(cli('replay', ['--mdoe', 'observe', 'events']).err).toMatch(/^unknown option --mdoe; valid options: --json, --mode/);
    for (const script of ['runbook', 'replay', 'start', 'validate-policy', 'actions', 'notification-schema']) {
      const help = cli(script, ['--help']);
      expect(help.code, script).toBe(0);
      expect(help.out, script).toMatch(/^usage: /);
    }
    for (const run of [flag, command]) expect(run.err).not.toMatch(/\n\s+at /);
  }, 120_000);

  it('piping a CLI into head ends quietly (EPIPE): no stack trace', () => {
    const run = spawnSync('sh', ['-c', `"${TSX}" cli/replay.ts --json events | head -c 100`], { cwd: ROOT, env: ENV, encoding: 'utf8', timeout: 170_000 });
    expect(run.stdout.length).toBe(100);
    expect(run.stderr).not.toMatch(/EPIPE|\n\s+at /);
  }, 200_000);

  it('runbook --help prints the usage, exit 0', () => {
    expect(execFileSync(TSX, ['cli/runbook.ts', '--help'], { cwd: ROOT, env: ENV, encoding: 'utf8' })).toMatch(/--simulated/);
  });
});
