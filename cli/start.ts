import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { imageOfLedgerId } from '../shared/image/image-reference';
import { imageReleaseCommand } from '../shared/notify/build-image-notification';
import { releaseCommand } from '../shared/notify/build-notification';
import { parseCliArgs, runCli } from './cli-run';
import { describeIam, describeReplayLine } from './replay-report';
import { ReplaySession, type ReplayLine } from './replay-session';

/** Every event under events/, each folder in name order, a repeat delivery (`-update`) after the finding it repeats. */
function storyOrder(root: string): string[] {
  const key = (name: string) => name.replace(/-update\.json$/, '.json~');
  return readdirSync(root)
    .sort()
    .flatMap((name) => {
      const path = join(root, name);
      if (statSync(path).isDirectory()) return storyOrder(path);
      return name.endsWith('.json') ? [path] : [];
    })
    .sort((a, b) => (a.split('/').slice(0, -1).join('/') === b.split('/').slice(0, -1).join('/') ? key(a).localeCompare(key(b)) : 0));
}

/** One line per finding that led somewhere: what held, what AWS refused, how to undo it. */
function summaryOf(line: ReplayLine): string[] {
  const finding = line.finding!;
  const image = finding.id.startsWith('image:');
  const outcome = line.containment ?? 'none';
  const held = outcome.startsWith('contained') ? (image ? outcome.replace('contained', 'quarantined') : outcome) : outcome === 'none' ? 'notified only' : outcome;
  const out = [`• ${finding.type} (severity ${finding.severity}) → ${line.decision?.policyRule}: ${held}`];
  for (const note of line.notes ?? []) out.push(`    ${note}`);
  const refused = line.actions.find((a) => a.status === 'unsupported' && a.mechanism === 'security-group');
  if (refused && outcome.startsWith('contained')) out.push(`    The security-group swap was not possible (${refused.errorCode ?? refused.detail}); ${outcome.replace(/^contained \((.*)\)$/, '$1')} held.`);
  const reversible = line.actions.some((a) => a.status === 'applied' && ['security-group', 'network-acl', 'tags', 'archive', 'image-tags'].includes(a.mechanism ?? ''));
  // The story's account is gone when it ends: the command replays the event into a fresh simulated account first.
  const target = `--replay ${line.event}`;
  if (reversible && image) {
    // A short id is the session's own registry; a qualified one names its account (--account).
    const { repository = '', digest = '', account } = imageOfLedgerId(finding.id, { account: '', region: '' }) ?? {};
    out.push(`    release: ${imageReleaseCommand(repository, digest, target, account || undefined)}`);
  } else if (reversible) out.push(`    release: ${releaseCommand(`guardduty:${finding.id}`, target)}`);
  return out;
}

function epilogue(lines: ReplayLine[], session: ReplaySession): string {
  const out = ['', '═══ What happened ═══'];
  for (const line of lines.filter((l) => l.finding && !l.emittedBy && (l.actions.length > 0 || l.notes))) out.push(...summaryOf(line));
  const guarded = lines.filter((l) => l.rule === 'taskLaunchGuard' && l.actions.some((a) => a.mechanism === 'stop-task' && a.status === 'applied')).length;
  if (guarded) out.push(`• Launch guard: ${guarded} task${guarded === 1 ? '' : 's'} starting from a quarantined image stopped.`);
  const repeats = lines.filter((l) => /^(duplicate delivery|already handled)/.test(l.ignored ?? '')).length;
  const rejected = lines.filter((l) => l.error).length;
  const notifications = lines.reduce((n, l) => n + l.notifications, 0);
  out.push(`• ${repeats} repeated deliver${repeats === 1 ? 'y' : 'ies'} acted on no more; ${rejected} malformed event${rejected === 1 ? '' : 's'} rejected with no action; ${notifications} notifications published.`);
  for (const account of session.accounts()) {
    const stopped = [...account.ecs.tasks.values()].filter((t) => t.lastStatus === 'STOPPED').length;
    const mutations = account.calls.filter((c) => c.ok && /^(Modify|Create|Delete|Stop|Tag|Untag|Revoke|Put|Update|BatchDelete)/.test(c.operation)).length;
    out.push(`• Simulated account ${account.accountId} in ${account.region}: ${stopped} tasks stopped, ${mutations} successful changing calls, ${account.calls.length} calls in all.`);
  }
  out.push(...describeIam(session.accounts()));
  out.push('', 'Replay your own events: npm run replay -- <file or folder>   (add --json for machine-readable lines)');
  return out.join('\n');
}

const usage = `usage: npm start [-- --help]

Replays every event in events/ against a fresh simulated AWS account (nothing real; no credentials needed) and tells
the story: what was found, which rule decided, what was done and by which mechanism, what AWS refused, and the command
that releases each containment. Your own events: npm run replay -- <files or folders>.`;

async function main(): Promise<number> {
  if (parseCliArgs({ help: { type: 'boolean', short: 'h', default: false } }).values.help) {
    console.log(usage);
    return 0;
  }
  console.log('ecs-threat-responder: replaying every event in events/ against a fresh simulated AWS account (enforce mode).\n');
  const session = await ReplaySession.start();
  const lines: ReplayLine[] = [];
  try {
    for (const path of storyOrder('events')) {
      for (const line of await session.replayFile(path)) {
        lines.push(line);
        // What the account emitted in reaction is told only when the responder did something with it.
        if (!line.emittedBy || line.actions.length > 0) console.log(`${describeReplayLine(line)}\n`);
      }
    }
    console.log(epilogue(lines, session));
  } finally {
    await session.close();
  }
  return 0;
}

runCli(main, usage);
