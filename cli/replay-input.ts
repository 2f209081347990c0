import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** One event to replay, read from a file as people have it. */
export interface ReplayInput {
  /** The file, and which element of it when it held several. */
  label: string;
  event?: unknown;
  /** Said beside the event: how it was read (a finding wrapped as EventBridge delivers it). */
  note?: string;
  /** The file could not be read or parsed: this file fails, the run goes on. */
  error?: string;
}

export interface ExpandedPaths {
  files: string[];
  /** What was left out, and why (a folder's other files, a path that does not exist). */
  notes: string[];
  /** Paths that are not there or cannot be read: each fails on its own. */
  missing: string[];
}

const EVENT_FILE = /\.json(\.gz)?$|\.gz$/;

/** Event files in the order given; a folder contributes its .json and .json.gz files in name order, other files skipped with a note. */
export function expandEventPaths(paths: string[]): ExpandedPaths {
  const out: ExpandedPaths = { files: [], notes: [], missing: [] };
  const visit = (path: string, inFolder: boolean) => {
    let directory: boolean;
    try {
      directory = statSync(path).isDirectory();
    } catch (error) {
      out.missing.push(`${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : (error as Error).message}`);
      return;
    }
    if (!directory) {
      if (!inFolder || EVENT_FILE.test(path)) out.files.push(path);
      else out.notes.push(`skipped ${path}: not a .json or .json.gz file`);
      return;
    }
    for (const name of readdirSync(path).sort()) visit(join(path, name), true);
  };
  for (const path of paths) visit(path, false);
  return out;
}

/** GetFindings and the console print PascalCase; EventBridge delivers the same finding in camelCase (`Id` → `id`). */
function camelCased(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelCased);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key.charAt(0).toLowerCase() + key.slice(1), camelCased(v)]));
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function isGuardDutyFinding(v: Json): boolean {
  const f = camelCased(v) as Json;
  return typeof f.type === 'string' && isObject(f.resource) && typeof f.schemaVersion === 'string' && !('detail-type' in v);
}

function isInspectorFinding(v: Json): boolean {
  return typeof v.findingArn === 'string' && typeof v.awsAccountId === 'string' && !('detail-type' in v);
}

/** A GuardDuty finding as GetFindings prints it, as EventBridge delivers it ("GuardDuty Finding", detail in camelCase). */
export function wrapGuardDutyFinding(raw: Json): Json {
  const finding = camelCased(raw) as Json;
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'GuardDuty Finding',
    source: 'aws.guardduty',
    account: finding.accountId,
    time: finding.updatedAt ?? new Date().toISOString(),
    region: finding.region,
    resources: [],
    detail: finding,
  };
}

/** An Inspector finding as `aws inspector2 list-findings` prints it, as EventBridge delivers it ("Inspector2 Finding"). */
export function wrapInspectorFinding(finding: Json): Json {
  const resources = Array.isArray(finding.resources) ? (finding.resources as Json[]) : [];
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Inspector2 Finding',
    source: 'aws.inspector2',
    account: finding.awsAccountId,
    time: new Date().toISOString(),
    region: resources[0]?.region ?? (String(finding.findingArn).split(':')[3] || undefined),
    resources: resources.map((r) => r.id).filter((id) => typeof id === 'string'),
    detail: finding,
  };
}

/** The events a parsed document holds: an event, an array of events, or findings as the AWS CLI prints them. */
export function eventsIn(document: unknown, label: string): ReplayInput[] {
  const wrapped = (list: Json[], kind: 'GuardDuty' | 'Inspector'): ReplayInput[] =>
    list.map((finding, i) => ({
      label: list.length > 1 ? `${label} [${i + 1}/${list.length}]` : label,
      event: kind === 'GuardDuty' ? wrapGuardDutyFinding(finding) : wrapInspectorFinding(finding),
      note: `${kind === 'Inspector' ? 'an' : 'a'} ${kind} finding as the AWS CLI prints it, wrapped as EventBridge delivers it`,
    }));
  if (Array.isArray(document)) {
    return document.flatMap((item, i) => eventsIn(item, document.length > 1 ? `${label} [${i + 1}/${document.length}]` : label));
  }
  if (isObject(document)) {
    if (Array.isArray(document.Findings)) return wrapped(document.Findings.filter(isObject), 'GuardDuty');
    if (Array.isArray(document.findings) && document.findings.every((f) => isObject(f) && isInspectorFinding(f))) return wrapped(document.findings as Json[], 'Inspector');
    if (isGuardDutyFinding(document)) return wrapped([document], 'GuardDuty');
    if (isInspectorFinding(document)) return wrapped([document], 'Inspector');
  }
  return [{ label, event: document }];
}

/** A file's events: gzip and a UTF-8 byte-order mark are read through; a file that cannot be read fails on its own. */
export function readEventFile(path: string): ReplayInput[] {
  let text: string;
  try {
    let bytes = readFileSync(path);
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
    text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return [{ label: path, error: `cannot read it: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message}` }];
  }
  if (!text.trim()) return [{ label: path, error: 'the file is empty' }];
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    return [{ label: path, error: `not valid JSON: ${(error as Error).message}` }];
  }
  const events = eventsIn(document, path);
  return events.length ? events : [{ label: path, error: 'holds no events (an empty list)' }];
}
