import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { describeReplayLine } from '../cli/replay-report';
import { ReplaySession } from '../cli/replay-session';
import { respondToImageFinding } from '../shared/image-pipeline';
import { respondToRuntimeFinding } from '../shared/pipeline';
import type { SimulatedDeployment } from '../sim/deployment';
import { EVENTS_DIR, ROOT, notifications, policyFrom, rawLedgerItem, startDeployment, type Json } from './helpers/deployment';

const REVERSE_SHELL = join(EVENTS_DIR, 'gd-ecs-fargate-reverse-shell.json');
const CRYPTO = join(EVENTS_DIR, 'gd-ecs-fargate-cryptocurrency-bitcointool-dns.json');
const read = (path: string): Json => JSON.parse(readFileSync(path, 'utf8'));

/** As `aws guardduty get-findings` prints a finding: the event's detail with PascalCase keys. */
function pascalCased(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(pascalCased);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.charAt(0).toUpperCase() + k.slice(1), pascalCased(v)]));
}

const dir = () => mkdtempSync(join(tmpdir(), 'replay-inputs-'));
let session: ReplaySession | undefined;
let deployment: SimulatedDeployment | undefined;
afterEach(async () => {
  await session?.close();
  await deployment?.close();
  session = undefined;
  deployment = undefined;
});

describe('replay takes events as people have them (issue 9, item 4)', () => {
  it('get-findings output, a single finding, a JSON array, gzip and a BOM; each finding wrapped as EventBridge delivers it, and said so', async () => {
    const folder = dir();
    const event = read(REVERSE_SHELL);
    writeFileSync(join(folder, 'get-findings.json'), JSON.stringify({ Findings: [pascalCased(event.detail)] }));
    writeFileSync(join(folder, 'one-finding.json.gz'), gzipSync(`\uFEFF${JSON.stringify(pascalCased(read(CRYPTO).detail))}`));
    writeFileSync(join(folder, 'array.json'), JSON.stringify([read(join(ROOT, 'events/ecs/ecs-task-state-change-running-fargate.json')), { not: 'an event' }]));
    session = await ReplaySession.start();
    const [fromCli] = await session.replayFile(join(folder, 'get-findings.json'));
    expect(fromCli).toMatchObject({ rule: 'runtimeFinding', finding: { id: event.detail.id }, containment: 'contained (network-acl)', input: 'a GuardDuty finding as the AWS CLI prints it, wrapped as EventBridge delivers it' });
    const [gzipped] = await session.replayFile(join(folder, 'one-finding.json.gz'));
    expect(gzipped).toMatchObject({ rule: 'runtimeFinding', decision: { policyRule: 'crypto-mining' } });
    const array = await session.replayFile(join(folder, 'array.json'));
    expect(array.map((l) => l.event)).toEqual([`${join(folder, 'array.json')} [1/2]`, `${join(folder, 'array.json')} [2/2]`]);
    expect(array[0]!.rule).toBe('taskLaunchGuard');
    expect(array[1]).toMatchObject({ rule: null, ignored: 'no EventBridge rule in serverless.yml matches this event' });
  }, 120_000);

  it('unedited events from another account and region: the simulated account adopts them', async () => {
    const foreign = readFileSync(REVERSE_SHELL, 'utf8').replaceAll('111122223333', '444455556666').replaceAll('us-east-1', 'eu-west-1');
    const file = join(dir(), 'foreign.json');
    writeFileSync(file, foreign);
    session = await ReplaySession.start();
    const [line] = await session.replayFile(file);
    expect(line).toMatchObject({ rule: 'runtimeFinding', containment: 'contained (network-acl)' });
    expect(session.account).toMatchObject({ accountId: '444455556666', region: 'eu-west-1' });
    // A person's command after the replay acts where the event went.
    const status = await session.runbook({ runbook: 'status', findingId: JSON.parse(foreign).detail.id });
    expect(status.records?.length).toBeGreaterThan(0);
  }, 120_000);

  it('Inspector findings as `aws inspector2 list-findings` prints them: wrapped as an Inspector2 Finding event', async () => {
    const event = read(join(ROOT, 'events/inspector/inspector2-finding-ecr-critical-active.json'));
    const file = join(dir(), 'list-findings.json');
    writeFileSync(file, JSON.stringify({ findings: [event.detail] }));
    session = await ReplaySession.start();
    const [line] = await session.replayFile(file);
    expect(line).toMatchObject({ rule: 'imageFinding', input: 'an Inspector finding as the AWS CLI prints it, wrapped as EventBridge delivers it' });
    expect(line!.error).toBeUndefined();
  }, 60_000);

  it('a status payload among the events prints the records it found in the readable output', async () => {
    const file = join(dir(), 'status.json');
    writeFileSync(file, JSON.stringify({ runbook: 'status', findingId: read(REVERSE_SHELL).detail.id }));
    session = await ReplaySession.start();
    await session.replayFile(REVERSE_SHELL);
    const [line] = await session.replayFile(file);
    const text = describeReplayLine(line!);
    expect(text).toMatch(/stop-task \[stop-task\] {2}applied \(enforce\) {2}by automation/);
  }, 60_000);

  it('an event no rule routes adopts no account', async () => {
    session = await ReplaySession.start();
    const [line] = await session.replayFile(join(EVENTS_DIR, 'gd-ec2-instance-blackhole-dns-sample-negative.json'));
    expect(line!.rule).toBeNull();
    expect(session.accounts().map((a) => a.accountId)).toEqual(['111122223333']);
  }, 60_000);

  it('a missing or unreadable file fails that file only; an empty file says so', async () => {
    const folder = dir();
    writeFileSync(join(folder, 'empty.json'), '');
    writeFileSync(join(folder, 'broken.json'), '{"detail-type": ');
    session = await ReplaySession.start();
    expect((await session.replayFile(join(folder, 'missing.json')))[0]).toMatchObject({ rule: null, error: 'cannot read it: no such file' });
    expect((await session.replayFile(join(folder, 'empty.json')))[0]!.error).toBe('the file is empty');
    expect((await session.replayFile(join(folder, 'broken.json')))[0]!.error).toMatch(/^not valid JSON: /);
    expect((await session.replayFile(REVERSE_SHELL))[0]!.containment).toBe('contained (network-acl)');
  }, 120_000);

  it('the CLI: folders with other files skipped with a note, empty input exit 2, a missing file fails alone (exit 1)', () => {
    const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    const replay = (...args: string[]) => spawnSync(join(ROOT, 'node_modules/.bin/tsx'), ['cli/replay.ts', ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 170_000 });
    const empty = dir();
    mkdirSync(join(empty, 'sub'));
    writeFileSync(join(empty, 'notes.txt'), 'not an event');
    const none = replay(empty);
    expect(none.status).toBe(2);
    expect(none.stdout).toContain(`note: skipped ${join(empty, 'notes.txt')}: not a .json or .json.gz file`);
    expect(none.stderr).toMatch(/^no events to replay: /);
    const mixed = replay(join(empty, 'missing.json'), REVERSE_SHELL);
    expect(mixed.status).toBe(1);
    expect(mixed.stdout).toMatch(/missing\.json\n {4}✘ rejected: no such file or folder/);
    expect(mixed.stdout).toMatch(/contained \(network-acl\)/);
  }, 200_000);
});

describe('stage parameters in replay, and a safe first deploy (items 3 and 4)', () => {
  it('--param defaultMode=observe: rules that set mode: enforce only observe, and every notification says why', async () => {
    session = await ReplaySession.start({ params: { defaultMode: 'observe' } });
    const [line] = await session.replayFile(CRYPTO);
    expect(line).toMatchObject({ decision: { policyRule: 'crypto-mining', mode: 'observe' }, containment: 'observed' });
    expect(line!.actions.filter((a) => a.status === 'applied').map((a) => a.action)).toEqual(['notify']);
    const [message] = notifications(session.account!);
    expect(message!.notes).toContain('This stage is deployed with defaultMode=observe: every rule only observes and nothing was changed. Redeploy with --param="defaultMode=enforce" to act.');
    expect(session.account!.calls.filter((c) => c.ok && c.service !== 'sns' && !/^(Describe|List|Get)/.test(c.operation))).toEqual([]);
    // A person's command on an observing stage observes too.
    const isolate = await session.runbook({ runbook: 'isolate', taskArn: read(CRYPTO).detail.resource.ecsClusterDetails.taskDetails.arn, reason: 'check' });
    expect(isolate.decision?.mode).toBe('observe');
  }, 300_000);
});

describe('routing and samples (item 5)', () => {
  it('an Inspector scan of an EC2 instance: not routed, and ignored quietly if it arrives (not recorded as malformed)', async () => {
    const scan = { version: '0', id: 'ec2-scan-1', 'detail-type': 'Inspector2 Scan', source: 'aws.inspector2', account: '111122223333', time: '2026-11-01T00:00:00Z', region: 'us-east-1', resources: ['i-0c2a343f1948d5205'], detail: { 'scan-status': 'INITIAL_SCAN_COMPLETE', 'instance-id': 'i-0c2a343f1948d5205', 'finding-severity-counts': { CRITICAL: 1, HIGH: 0, MEDIUM: 0, TOTAL: 1 }, version: '1.0' } };
    session = await ReplaySession.start();
    expect((await session.replay('ec2-scan', scan))[0]).toMatchObject({ rule: null });
    deployment = await startDeployment();
    const result = await respondToImageFinding(scan, deployment.depsFor('imageFinding'));
    expect(result).toMatchObject({ ignored: 'an Inspector scan of something other than an ECR image: not acted on', actions: [] });
    expect(result.error).toBeUndefined();
    expect(await rawLedgerItem(deployment, 'REJECTED#ec2-scan-1', 'REJECTED')).toBeUndefined();
  }, 120_000);

  it("the README's sample-finding check: a rule with samples: true, a stage in observe, GuardDuty's sample naming a cluster that does not exist", async () => {
    const policy = policyFrom('version: 1\nrules:\n  - name: samples-check\n    match: { severity: [HIGH], samples: true }\n    mode: enforce\n    actions: [capture-evidence, tag, { isolate-task: { fallback: [network-acl] } }, notify]\n');
    deployment = await startDeployment({ policy, config: { defaultMode: 'observe' } });
    // Not seeded: in a real account the sample's GeneratedFindingECSClusterName does not exist.
    const result = await respondToRuntimeFinding(read(join(EVENTS_DIR, 'gd-ecs-fargate-sample-finding.json')), deployment.depsFor('runtimeFinding'));
    expect(result.error).toBeUndefined();
    expect(result).toMatchObject({ decision: { policyRule: 'samples-check', mode: 'observe' }, containment: 'observed' });
    const [message] = notifications(deployment.account);
    expect(message!.headline).toMatch(/^Observe mode, nothing changed: /);
    const records = await deployment.ledger.actionRecords(`guardduty:${read(join(EVENTS_DIR, 'gd-ecs-fargate-sample-finding.json')).detail.id}`);
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((r) => r.status === 'planned' || r.action === 'notify')).toBe(true);
  }, 60_000);
});
