import type { SlackMessage } from './slack-message';

/**
 * Posts a message to a Slack incoming webhook. Slack answers `200 ok`, `429` with `Retry-After` when rate limited
 * (1 message/s per webhook), 5xx when it is unwell, and other 4xx with a plain-text reason (`invalid_payload`,
 * `channel_not_found`, ...) that retrying cannot fix.
 *
 * The webhook URL is a secret (anyone holding it can post to the channel), so it never appears in an error message.
 */

export interface PostOptions {
  /** Total attempts, including the first. */
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Per-attempt timeout. */
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
  /** For tests: the jitter source, 0 ≤ x < 1. */
  random?: () => number;
}

export interface PostResult {
  attempts: number;
  status: number;
}

export const MAX_RETRY_AFTER_MS = 30_000;
const DEFAULT_RETRY_AFTER_MS = 1_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 8_000;

export class SlackWebhookError extends Error {
  override name = 'SlackWebhookError';
  constructor(
    message: string,
    /** HTTP status of the last response; undefined for a network error or timeout. */
    readonly status: number | undefined,
    /** Slack's plain-text error body, e.g. `invalid_payload`. */
    readonly body: string | undefined,
    readonly attempts: number,
    /** False for 4xx other than 429: the same message will be refused again. */
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Seconds (or an HTTP date) from Retry-After, capped; 1 s when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number {
  if (header === null || header.trim() === '') return DEFAULT_RETRY_AFTER_MS;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  if (!Number.isFinite(ms)) return DEFAULT_RETRY_AFTER_MS;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** Exponential backoff with "equal jitter": half fixed, half random, so retries spread out but still grow. */
function backoffMs(attempt: number, random: () => number): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Removes the URL (and its secret path) from any text that might echo it. */
function redact(text: string, url: URL, raw: string): string {
  let out = text.replaceAll(raw, '[webhook-url]').replaceAll(url.href, '[webhook-url]');
  if (url.pathname.length > 1) out = out.replaceAll(url.pathname, '/[redacted]');
  return out;
}

/** Names a network failure without its message, which can contain the URL. */
function describeNetworkError(err: unknown): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'timed out';
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  return code ? `network error ${code}` : 'network error';
}

function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SlackWebhookError('Slack webhook URL is not a valid URL', undefined, undefined, 0, false);
  }
  // Plain http only to a loopback address (tests, local replay): the URL is a bearer credential.
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new SlackWebhookError('Slack webhook URL must use https', undefined, undefined, 0, false);
  }
  return url;
}

export async function postToSlack(
  webhookUrl: string,
  message: SlackMessage | { text: string },
  options: PostOptions = {},
): Promise<PostResult> {
  const url = parseWebhookUrl(webhookUrl);
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const sleep = options.sleep ?? realSleep;
  const doFetch = options.fetchImpl ?? fetch;
  const random = options.random ?? Math.random;
  const body = JSON.stringify(message);

  let last = '';
  let lastStatus: number | undefined;
  let lastBody: string | undefined;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    let waitMs: number;
    try {
      const response = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      // Slack's error bodies are short plain-text codes; cap and flatten anything else.
      const text = redact((await response.text()).slice(0, 300).replace(/\s+/g, ' ').trim(), url, webhookUrl);
      if (response.ok) return { attempts: attempt, status: response.status };
      lastStatus = response.status;
      lastBody = text;
      last = `HTTP ${response.status}${text ? ` ${text}` : ''}`;
      if (response.status === 429) {
        waitMs = retryAfterMs(response.headers.get('retry-after'));
      } else if (response.status >= 500) {
        waitMs = backoffMs(attempt, random);
      } else {
        throw new SlackWebhookError(`Slack rejected the message: ${last}`, response.status, text, attempt, false);
      }
    } catch (err) {
      if (err instanceof SlackWebhookError) throw err;
      lastStatus = undefined;
      lastBody = undefined;
      last = describeNetworkError(err);
      waitMs = backoffMs(attempt, random);
    }
    if (attempt < maxAttempts) await sleep(waitMs);
  }
  throw new SlackWebhookError(
    `Slack webhook failed after ${maxAttempts} attempts: ${last}`,
    lastStatus,
    lastBody,
    maxAttempts,
    true,
  );
}
