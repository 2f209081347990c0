import type { SimulatedAccount } from '../sim/account';
import type { ActionRecord } from '../shared/ledger';
import type { ReplayLine } from './replay-session';
import { describeRecords } from './runbook-report';

const MARK: Record<string, string> = { applied: '✔', skipped: '·', failed: '✘', planned: '○', unsupported: '⚠' };

/** A readable account of one replayed event, for people (the --json form is for machines). */
export function describeReplayLine(line: ReplayLine): string {
  const out: string[] = [];
  out.push(`${line.emittedBy ? '  ↳ then' : '▶'} ${line.event}${line.rule ? ` → ${line.rule}` : ''}`);
  const pad = line.emittedBy ? '      ' : '    ';
  if (line.input) out.push(`${pad}(read as ${line.input})`);
  if (line.error) out.push(`${pad}✘ rejected: ${line.error} (no action taken)`);
  if (line.finding) out.push(`${pad}finding  ${line.finding.type}, severity ${line.finding.severity} (${line.finding.id})`);
  if (line.decision) out.push(`${pad}rule     ${line.decision.policyRule} (${line.decision.mode})`);
  // Organization-wide, a response acts in two accounts (the member's resources, the security account's evidence and
  // topic): each step then says where.
  const accountOf = (a: object) => (a as { account?: string }).account;
  const across = new Set(line.actions.map(accountOf).filter(Boolean)).size > 1;
  for (const a of line.actions) {
    const where = across ? `(in ${accountOf(a)}) ` : '';
    out.push(`${pad}${MARK[a.status] ?? '?'} ${a.action.padEnd(16)} ${a.status.padEnd(11)} ${a.mechanism ? `[${a.mechanism}] ` : ''}${where}${a.detail ?? ''}`);
  }
  for (const note of line.notes ?? []) out.push(`${pad}! ${note}`);
  if (line.ignored) out.push(`${pad}· ${line.ignored}`);
  if (line.containment && line.containment !== 'none') out.push(`${pad}result   ${line.containment}; ${line.notifications} notification${line.notifications === 1 ? '' : 's'}`);
  else if (line.notifications) out.push(`${pad}result   ${line.notifications} notification${line.notifications === 1 ? '' : 's'}`);
  // A status or history payload among the events: what the ledger holds.
  const records = (line as { records?: ActionRecord[] }).records;
  if (records) out.push(describeRecords(records));
  return out.join('\n');
}

/**
 * What IAM said in the simulated accounts: every call was evaluated against its function's role from the packaged
 * stack, so a refusal here is one a real account would give too, and is named plainly.
 */
export function describeIam(accounts: SimulatedAccount[]): string[] {
  const evaluators = accounts.map((a) => a.iamEvaluator).filter((e) => e !== undefined);
  if (!evaluators.length) return ['• IAM: not evaluated (the simulated account runs without the stack’s roles).'];
  const evaluated = evaluators.reduce((n, e) => n + e.evaluated, 0);
  const refused = evaluators.flatMap((e) => e.refused);
  const out = [`• IAM: ${evaluated} requests evaluated against each function's own role from the packaged stack; ${refused.length ? `${refused.length} REFUSED:` : 'none refused.'}`];
  for (const d of refused) out.push(`    IAM REFUSED ${d.functionName}: ${d.action} on ${d.resource} (${d.reason ?? 'denied'})`);
  return out;
}
