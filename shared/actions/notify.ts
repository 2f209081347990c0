import { defineAction } from './response-action';

export const notify = defineAction({
  name: 'notify',
  summary: 'Publish one notification (finding, decision, every action with its outcome and mechanism) to the SNS topic; Slack and e-mail subscribe to it.',
  permissions: [{ actions: ['sns:Publish'], scope: 'topic' }],
  mutating: false,
  destructive: false,
  reversible: false,
  runsInObserveMode: true,
  kinds: ['runtime', 'image'],
  describe: () => [{ action: 'notify', status: 'planned', mechanism: 'sns', detail: 'would publish the notification' }],
  async apply(_params, _target, runtime) {
    const outcome = await runtime.publishNotification();
    // Each delivery that notifies gets its own audit row, so a re-evaluation's message is on record too.
    await runtime.ledger.recordOutcome(runtime.audit, `notify:${new Date().toISOString()}`, outcome, runtime.recordTarget ?? runtime.audit.ledgerId);
    return [outcome];
  },
});
