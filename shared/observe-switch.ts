import { awsErrorCode } from './aws/errors';
import type { ResponderConfig } from './config';
import type { PipelineDeps } from './pipeline';
import type { Policy } from './policy/policy';

export const OBSERVE = 'observe';

const STAGE_OBSERVES =
  'This stage is deployed with defaultMode=observe: every rule only observes and nothing was changed. Redeploy with --param="defaultMode=enforce" to act.';

/**
 * The live kill switch: an SSM parameter that on-call can flip without a deployment
 * (`aws ssm put-parameter --overwrite --name … --value observe`). `observe` forces observe mode; `policy` (or any
 * other value) leaves the policy in charge. Fails closed: if the switch cannot be read, nothing destructive happens.
 */
export async function withObserveSwitch(deps: PipelineDeps, readSwitch: () => Promise<string | undefined>): Promise<PipelineDeps> {
  const observeReason = await observeSwitchReason(readSwitch);
  return observeReason ? { ...deps, config: { ...deps.config, forceObserve: true, observeReason } } : deps;
}

/** Why the live switch forces observe mode, or undefined when it leaves the policy in charge. Never throws. */
export async function observeSwitchReason(readSwitch: () => Promise<string | undefined>): Promise<string | undefined> {
  try {
    const value = (await readSwitch())?.trim();
    return value === OBSERVE ? 'The observe switch (SSM parameter) is on: nothing was changed.' : undefined;
  } catch (error) {
    return `The observe switch could not be read (${awsErrorCode(error)}): failing closed, nothing was changed.`;
  }
}

/**
 * Why every rule runs in observe mode right now (policy.yml's forceObserve, the stage's, or the live switch), or
 * undefined when the policy decides. The one place that says it, so every message says it the same way.
 */
export function forcedObserve(policy: Pick<Policy, 'forceObserve'>, config: ResponderConfig): string | undefined {
  // A stage deployed with defaultMode=observe observes whole, rules that set `mode: enforce` included, until it is
  // redeployed with defaultMode=enforce on purpose: the README's first deploy changes nothing.
  if (config.defaultMode === 'observe' && !config.observeReason) return STAGE_OBSERVES;
  if (!policy.forceObserve && !config.forceObserve) return undefined;
  return config.observeReason ?? 'The global observe switch is on: nothing was changed.';
}
