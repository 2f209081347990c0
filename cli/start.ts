import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { releaseCommand } from '../shared/notify/build-notification';
import { describeReplayLine } from './replay-report';
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

function epilogue(lines: ReplayLine[], session: ReplaySession): string {
  const out = ['', '═══ What happened ═══'];
  const handled = lines.filter((l) => l.finding && l.actions.length > 0 && !l.emittedBy);
  for (const line of handled) {
    const held = line.containment ?? 'none';
    out.push(`• ${line.finding!.type} (severity ${line.finding!.severity}) → ${line.decision?.policyRule}: ${held}`);
    const refused = line.actions.find((a) => a.status === 'unsupported');
    if (refused) out.push(`    AWS refused the ${refused.mechanism} step (${refused.errorCode ?? 'not possible'}); the fallback held.`);
    if (line.actions.some((a) => a.status === 'applied' && ['security-group', 'network-acl', 'tags'].includes(a.mechanism ?? ''))) {
      out.push(`    release: ${releaseCommand(`guardduty:${line.finding!.id}`)}`);
    }
  }
  const duplicates = lines.filter((l) => l.ignored?.startsWith('duplicate')).length;
  const rejected = lines.filter((l) => l.error).length;
  const notifications = lines.reduce((n, l) => n + l.notifications, 0);
  out.push(`• ${duplicates} repeated deliver${duplicates === 1 ? 'y' : 'ies'} acted on no more; ${rejected} malformed event${rejected === 1 ? '' : 's'} rejected with no action; ${notifications} notifications published.`);
  for (const account of session.simulated?.accounts() ?? []) {
    const stopped = [...account.ecs.tasks.values()].filter((t) => t.lastStatus === 'STOPPED').length;
    const mutations = account.calls.filter((c) => c.ok && /^(Modify|Create|Delete|Stop|Tag|Untag|Revoke|Put|Update|BatchDelete)/.test(c.operation)).length;
    out.push(`• Simulated account ${account.accountId} in ${account.region}: ${stopped} tasks stopped, ${mutations} successful changing calls, ${account.calls.length} calls in all.`);
  }
  out.push('', 'Replay your own events: npm run replay -- <file or folder>   (add --json for machine-readable lines)');
  return out.join('\n');
}

async function main(): Promise<number> {
  console.log('ecs-threat-responder: replaying every event in events/ against a fresh simulated AWS account (enforce mode).\n');
  const session = await ReplaySession.start();
  const lines: ReplayLine[] = [];
  try {
    for (const path of storyOrder('events')) {
      for (const line of await session.replayFile(path)) {
        lines.push(line);
        console.log(`${describeReplayLine(line)}\n`);
      }
    }
    console.log(epilogue(lines, session));
  } finally {
    await session.close();
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
