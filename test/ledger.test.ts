import { afterEach, describe, expect, it } from 'vitest';
import type { Audit } from '../shared/actions/response-action';
import type { SimulatedDeployment } from '../sim/deployment';
import { startDeployment } from './helpers/deployment';

const audit: Audit = { ledgerId: 'guardduty:ledger-test', policyRule: 'rule', mode: 'enforce', requestedBy: 'automation', reason: 'test' };
const step = { step: 'isolate-task:security-group', action: 'isolate-task', mechanism: 'security-group', target: 'task:arn' };

let deployment: SimulatedDeployment | undefined;
afterEach(async () => {
  await deployment?.close();
  deployment = undefined;
});

describe('the ledger (DynamoDB API through dynalite)', () => {
  it('write-ahead: the first before-state wins, so a retry never records the quarantine state as the original', async () => {
    deployment = await startDeployment();
    const { ledger } = deployment;
    await ledger.writeAhead(audit, { ...step, beforeState: { groups: ['sg-original'] } });
    const retry = await ledger.writeAhead(audit, { ...step, beforeState: { groups: ['sg-quarantine'] } });
    expect(retry.beforeState).toEqual({ groups: ['sg-original'] });
    expect(retry.status).toBe('intent');
  });

  it('after a release, the same step starts a new episode with a before-state of its own', async () => {
    deployment = await startDeployment();
    const { ledger } = deployment;
    const first = await ledger.writeAhead(audit, { ...step, beforeState: { groups: ['sg-a'] } });
    await ledger.markReleased(first, { by: 'oncall', reason: 'false positive', detail: 'restored' });
    const second = await ledger.writeAhead(audit, { ...step, beforeState: { groups: ['sg-b'] } });
    expect(second).toMatchObject({ status: 'intent', beforeState: { groups: ['sg-b'] } });
    expect(second.releasedBy).toBeUndefined();
    // The finished episode is kept, with who released it and why; only the live one counts as an action record.
    expect(await ledger.earlierEpisodes(audit.ledgerId)).toMatchObject([{ status: 'released', releasedBy: 'oncall', releaseReason: 'false positive', beforeState: { groups: ['sg-a'] } }]);
    expect(await ledger.actionRecords(audit.ledgerId)).toHaveLength(1);
  });

  it('claims a finding once; a higher severity claims again; a finished claim makes later deliveries duplicates', async () => {
    deployment = await startDeployment();
    const { ledger } = deployment;
    const claim = { ledgerId: 'guardduty:claim-test', severity: 8, count: 1, mode: 'enforce' as const };
    expect(await ledger.claim(claim)).toMatchObject({ claimed: true, reason: 'first', attempt: 1 });
    await ledger.finishClaim(claim.ledgerId, 'contained');
    expect(await ledger.claim({ ...claim, count: 4 })).toMatchObject({ claimed: false, deliveries: 2, severity: 8, state: 'done' });
    expect(await ledger.claim({ ...claim, severity: 9.5 })).toMatchObject({ claimed: true, reason: 're-evaluate', attempt: 1 });
  });

  it('a blast-radius window is atomic: 10 concurrent takers of 4 slots, exactly 4 succeed', async () => {
    deployment = await startDeployment();
    const { ledger } = deployment;
    const window = new Date('2026-11-24T01:00:00Z');
    const taken = await Promise.all(Array.from({ length: 10 }, () => ledger.takeSlot('account#1', window, 4, 60)));
    expect(taken.filter(Boolean)).toHaveLength(4);
  });
});
