import { wellFormed, type ActionStatus, type Notification } from '../notification';

/**
 * Renders a Notification as a Slack Block Kit message.
 *
 * Every string in a notification may be attacker-influenced (process names, command lines, domains, even finding titles),
 * so every string goes through `esc` (or `code`/`codeBlock`, which call it), every mrkdwn text object is `verbatim` (Slack
 * then neither auto-links URLs nor parses bare mentions), and only `n.links` to AWS console and documentation hosts become links.
 */

export interface SlackMessage {
  text: string;
  blocks: object[];
}

/** Slack's documented limits; a message over them is rejected with HTTP 400. */
export const SLACK_LIMITS = {
  blocks: 50,
  sectionText: 3000,
  headerText: 150,
  contextElements: 10,
  contextText: 2000,
  fields: 10,
  fieldText: 2000,
} as const;

const STATUS_EMOJI: Record<ActionStatus, string> = {
  applied: ':white_check_mark:',
  skipped: ':fast_forward:',
  failed: ':x:',
  planned: ':memo:',
  // AWS does not allow it here (a Fargate interface's groups, say): a fact the ladder works around, not a failure.
  unsupported: ':information_source:',
};

const CONTAINMENT_EMOJI: Record<Notification['containment']['state'], string> = {
  contained: ':lock:',
  'partially-contained': ':warning:',
  'not-contained': ':rotating_light:',
  observed: ':eyes:',
  released: ':unlock:',
  none: ':white_circle:',
};

// ---------------------------------------------------------------------------------------------------------------------
// Escaping and truncation

/** Escapes Slack's control characters, defangs bare broadcast mentions and replaces lone surrogates. */
export function esc(raw: string): string {
  return wellFormed(raw)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('`', 'ˋ') // a stray backtick would open a code span that swallows our own formatting
    .replace(/@(channel|here|everyone)/gi, '@\u200B$1');
}

/**
 * Cuts already-escaped text to `max` characters, ending in "…". Never cuts inside an `&amp;`-style entity or a surrogate
 * pair (a half entity would show as raw text, a lone surrogate can make the JSON invalid for Slack).
 */
export function clamp(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = Math.max(0, max - 1);
  const amp = text.lastIndexOf('&', cut - 1);
  if (amp !== -1) {
    const semi = text.indexOf(';', amp);
    if (semi === -1 || semi >= cut) cut = amp;
  }
  const last = text.charCodeAt(cut - 1);
  if (cut > 0 && last >= 0xd800 && last <= 0xdbff) cut -= 1;
  return `${text.slice(0, cut)}…`;
}

/** Escaped and cut to `max`. */
function escMax(raw: string, max: number): string {
  return clamp(esc(raw), max);
}

/** An inline code span; newlines are shown as ⏎ because inline code cannot span lines. */
function code(raw: string, max = 300): string {
  const flat = raw.replace(/\r\n|\r|\n/g, ' ⏎ ');
  return `\`${escMax(flat === '' ? ' ' : flat, max - 2)}\``;
}

function codeBlock(raw: string, max: number): string {
  return `\`\`\`${escMax(raw === '' ? ' ' : raw, max - 6)}\`\`\``;
}

/** Joins as many items as fit in `max` characters and says how many were left out. */
function list(items: string[], max: number, sep = ', '): string {
  const shown: string[] = [];
  let length = 0;
  for (const item of items) {
    const extra = (shown.length > 0 ? sep.length : 0) + item.length;
    if (length + extra > max - 16) break; // room for " (+N more)"
    shown.push(item);
    length += extra;
  }
  const rest = items.length - shown.length;
  return rest === 0 ? shown.join(sep) : `${shown.join(sep)}${shown.length > 0 ? ' ' : ''}(+${rest} more)`;
}

/**
 * Hosts a message may link to: AWS's consoles (the global one, per-region and per-service subdomains, the China and
 * GovCloud consoles) and AWS's documentation. A link to anything else is shown as text, so no value from an event can
 * become a live link (https://docs.aws.amazon.com/general/latest/gr/rande.html names the console endpoints).
 */
const LINKABLE_HOST = /^(?:(?:[a-z0-9-]+\.)?console\.aws\.amazon\.com|(?:[a-z0-9-]+\.)?console\.amazonaws\.cn|(?:[a-z0-9-]+\.)?console\.amazonaws-us-gov\.com|docs\.aws\.amazon\.com|signin\.aws\.amazon\.com)$/;

/** True for an https URL to an AWS console or documentation host, with no user name, password or port. */
export function isLinkable(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return parsed.protocol === 'https:' && parsed.username === '' && parsed.password === '' && parsed.port === '' && LINKABLE_HOST.test(parsed.hostname);
}

/** A Slack link, only to an allowed AWS host; anything else is shown as escaped text. */
function link(url: string, label: string): string {
  if (!isLinkable(url)) {
    const why = URL.canParse(url) && new URL(url).protocol === 'https:' ? 'not an AWS console or documentation URL' : 'not an https URL';
    return `${escMax(label, 200)} (link omitted: ${why})`;
  }
  // `|` and `>` would end Slack's <url|label> syntax early; URL#href already percent-encodes `<`, `>` and spaces.
  const href = new URL(url).href.replaceAll('|', '%7C').replaceAll('&', '&amp;').replaceAll('>', '%3E').replaceAll('<', '%3C');
  return `<${href}|${escMax(label, 200).replaceAll('|', '¦')}>`;
}

// ---------------------------------------------------------------------------------------------------------------------
// Blocks (each built within Slack's limits)

interface Prioritised {
  /** Higher is kept longer when the message has more than 50 blocks. */
  priority: number;
  block: object;
}

function mrkdwn(text: string, max: number) {
  return { type: 'mrkdwn', text: clamp(text, max), verbatim: true };
}

function section(text: string, fields: string[] = []): object {
  const block: Record<string, unknown> = { type: 'section', text: mrkdwn(text, SLACK_LIMITS.sectionText) };
  if (fields.length > 0) block.fields = fields.slice(0, SLACK_LIMITS.fields).map((f) => mrkdwn(f, SLACK_LIMITS.fieldText));
  return block;
}

function context(elements: string[]): object {
  return {
    type: 'context',
    elements: elements.slice(0, SLACK_LIMITS.contextElements).map((e) => mrkdwn(e, SLACK_LIMITS.contextText)),
  };
}

/** Splits lines into section texts of at most 3,000 characters each (a line longer than that is cut). */
function chunkLines(title: string, lines: string[]): string[] {
  const chunks: string[] = [];
  let current = title;
  for (const line of lines) {
    if (current !== '' && current.length + 1 + line.length > SLACK_LIMITS.sectionText) {
      chunks.push(current);
      current = '';
    }
    current = current === '' ? line : `${current}\n${line}`;
  }
  if (current !== '') chunks.push(current);
  return chunks;
}

function field(label: string, value: string | undefined): string[] {
  return value === undefined || value === '' ? [] : [`*${label}*\n${value}`];
}

function findingBlock(n: Notification): object | undefined {
  const f = n.finding;
  const r = n.resource;
  const fields = [
    ...(f
      ? [
          ...field('Type', code(f.type)),
          ...field('Severity', `${escMax(f.severityLabel, 100)} (${f.severity})`),
          ...field('Account / region', `${code(f.account, 60)} / ${code(f.region, 40)}`),
          ...field('Occurrences', `${f.count}${f.sample ? ' — *SAMPLE finding (not a real threat)*' : ''}`),
        ]
      : []),
    ...field('Cluster', r.cluster === undefined ? undefined : code(r.cluster)),
    ...field('Service', r.service === undefined ? undefined : code(r.service)),
    ...field('Task', r.taskArn === undefined ? undefined : code(r.taskArn)),
    ...field('Launch type', r.launchType === undefined ? undefined : escMax(r.launchType, 100)),
    ...field(
      r.images.length === 1 ? 'Image' : 'Images',
      r.images.length === 0 ? undefined : list(r.images.map((i) => code(i, 400)), 1900, '\n'),
    ),
  ];
  if (!f && fields.length === 0) return undefined;
  const title = f ? `*${escMax(f.title, 1000)}*` : `*${escMax(n.kind, 50)}*`;
  return section(`${title}\n_${escMax(n.kind, 50)} · ${escMax(n.at, 60)}_`, fields);
}

function imageBlocks(image: NonNullable<Notification['image']>): string[] {
  const counts = Object.entries(image.severityCounts)
    .filter(([, count]) => count > 0)
    .map(([severity, count]) => `${escMax(severity, 40)} ${count}`);
  const head = [
    `*:package: Image*`,
    `*Repository:* ${code(image.repository)}`,
    `*Digest:* ${code(image.digest, 100)}`,
    `*Tags:* ${image.tags.length === 0 ? '_untagged_' : list(image.tags.map((t) => code(t, 150)), 600)}`,
    `*Findings by severity:* ${counts.length === 0 ? '_none reported_' : counts.join(' · ')}`,
    `*Tasks using this image:* ${image.tasksUsingImage.length === 0 ? '_none running_' : list(image.tasksUsingImage.map((t) => code(t, 200)), 1000)}`,
  ];
  const cves = image.topVulnerabilities.map((v) => {
    const parts = [code(v.id, 80)];
    if (v.severity) parts.push(escMax(v.severity, 20));
    if (v.package) parts.push(`in ${code(v.package, 150)}`);
    parts.push(v.fixedVersion ? `fixed in ${code(v.fixedVersion, 100)}` : '_no fix yet_');
    if (v.exploitAvailable) parts.push(':bomb: *exploit available*');
    if (v.epss !== undefined) parts.push(`EPSS ${v.epss}`);
    return `• ${parts.join(' · ')}`;
  });
  return chunkLines(head.join('\n'), cves.length > 0 ? ['*Top vulnerabilities*', ...cves] : []);
}

function indicatorBlocks(ind: Notification['indicators']): string[] {
  const lines = [
    ...(ind.process !== undefined ? [`*Process:* ${code(ind.process)}`] : []),
    ...(ind.executablePath !== undefined ? [`*Executable:* ${code(ind.executablePath, 600)}`] : []),
    ...(ind.domains.length > 0 ? [`*Domains:* ${list(ind.domains.map((d) => code(d, 260)), 900)}`] : []),
    ...(ind.remoteIps.length > 0 ? [`*Remote IPs:* ${list(ind.remoteIps.map((ip) => code(ip, 60)), 600)}`] : []),
  ];
  if (lines.length === 0 && ind.commandLine === undefined) return [];
  const title = ':warning: *Indicators: attacker-controlled values.* Do not open, click or run them.';
  const texts = [[title, ...lines].join('\n')];
  if (ind.commandLine !== undefined) texts.push(`*Command line* (attacker-controlled)\n${codeBlock(ind.commandLine, 2900)}`);
  return texts;
}

function actionLine(a: Notification['actions'][number]): string {
  const parts = [`${STATUS_EMOJI[a.status]} *${a.status}* ${code(a.action, 120)}`];
  if (a.mechanism) parts.push(`via ${code(a.mechanism, 80)}`);
  if (a.target) parts.push(`on ${code(a.target, 300)}`);
  if (a.detail) parts.push(escMax(a.detail, 800));
  if (a.errorCode) parts.push(`(${code(a.errorCode, 80)})`);
  return parts.join(' — ');
}

/** All blocks with their priority, in display order. */
function allBlocks(n: Notification): Prioritised[] {
  const out: Prioritised[] = [];
  const add = (priority: number, block: object | undefined) => {
    if (block) out.push({ priority, block });
  };
  const observe = n.decision?.mode === 'observe';

  add(100, { type: 'header', text: { type: 'plain_text', text: escMax(n.headline, SLACK_LIMITS.headerText), emoji: true } });
  if (observe) {
    add(98, section(':eyes: *OBSERVE: nothing was changed.* The actions below are what enforce mode would have done.'));
  }
  if (n.error !== undefined) add(95, section(`:x: *Error*\n${codeBlock(n.error, 2000)}`));
  add(90, findingBlock(n));

  const decision = n.decision
    ? `*Rule:* ${code(n.decision.policyRule, 300)} · *Mode:* ${observe ? '*OBSERVE* (no changes made)' : '*ENFORCE*'}`
    : '*Rule:* _no policy decision_';
  const mechanism = n.containment.mechanism ? ` via ${code(n.containment.mechanism, 100)}` : '';
  add(88, section(`${decision}\n*Containment:* ${CONTAINMENT_EMOJI[n.containment.state]} *${n.containment.state}*${mechanism}`));

  const actionTexts = chunkLines(
    `*Actions* (${n.actions.length})`,
    n.actions.length > 0 ? n.actions.map(actionLine) : ['_none_'],
  );
  actionTexts.forEach((text, i) => add(i === 0 ? 85 : 60, section(text)));

  if (n.releaseCommand !== undefined) add(84, section(`*To release:* ${code(n.releaseCommand, 2900)}`));
  for (const text of indicatorBlocks(n.indicators)) add(75, section(text));
  if (n.image) imageBlocks(n.image).forEach((text, i) => add(i === 0 ? 75 : 55, section(text)));
  if (n.links.length > 0) add(70, section(list(n.links.map((l) => `:link: ${link(l.url, l.label)}`), 2900, '\n')));
  if (n.notes.length > 0) {
    for (const text of chunkLines('*Notes*', n.notes.map((note) => `• ${escMax(note, 1000)}`))) add(40, section(text));
  }
  const who = [
    `Requested by ${code(n.requestedBy, 200)}`,
    ...(n.reason !== undefined ? [`Reason: ${escMax(n.reason, 1000)}`] : []),
    ...(n.ticket !== undefined ? [`Ticket: ${code(n.ticket, 200)}`] : []),
  ];
  add(80, context([...who, `Ledger id ${code(n.ledgerId, 200)}`]));
  return out;
}

/** Keeps the highest-priority blocks (in display order) and says how many were dropped. */
function fitBlocks(blocks: Prioritised[]): object[] {
  if (blocks.length <= SLACK_LIMITS.blocks) return blocks.map((b) => b.block);
  const keep = SLACK_LIMITS.blocks - 1; // one slot for the "omitted" line
  const ranked = blocks
    .map((b, index) => ({ ...b, index }))
    .sort((a, b) => b.priority - a.priority || a.index - b.index)
    .slice(0, keep)
    .sort((a, b) => a.index - b.index);
  const omitted = blocks.length - keep;
  return [
    ...ranked.map((b) => b.block),
    context([`_${omitted} more blocks omitted (Slack allows ${SLACK_LIMITS.blocks}); the ledger has the full record._`]),
  ];
}

export function renderSlackMessage(n: Notification): SlackMessage {
  // The fallback text is what phones show; `text` is parsed as mrkdwn too, so it is escaped like everything else.
  const observe = n.decision?.mode === 'observe' && !/observe/i.test(n.headline) ? '[OBSERVE] ' : '';
  return { text: escMax(`${observe}${n.headline}`, 3000), blocks: fitBlocks(allBlocks(n)) };
}
