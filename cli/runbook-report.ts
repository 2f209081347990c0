import type { ActionRecord } from '../shared/ledger';

/** What the responder knows, one line per action step: time, what, mechanism, outcome, mode, who, why. */
export function describeRecords(records: ActionRecord[]): string {
  if (records.length === 0) return '    (the ledger holds nothing for this target)';
  return records
    .map((r) => {
      const released = r.status === 'released' ? ` — released by ${r.releasedBy} at ${r.releasedAt}: ${r.releaseReason}` : '';
      return `    ${r.at}  ${r.action}${r.mechanism ? ` [${r.mechanism}]` : ''}  ${r.status} (${r.mode})  by ${r.requestedBy}: ${r.reason}  {${r.ledgerId}}${r.detail ? `\n        ${r.detail}` : ''}${released}`;
    })
    .join('\n');
}
