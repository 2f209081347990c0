import { awsErrorCode } from './aws/errors';
import type { PipelineDeps } from './pipeline';

export const OBSERVE = 'observe';

/**
 * The live kill switch: an SSM parameter that on-call can flip without a deployment
 * (`aws ssm put-parameter --overwrite --name … --value observe`). `observe` forces observe mode; `policy` (or any
 * other value) leaves the policy in charge. Fails closed: if the switch cannot be read, nothing destructive happens.
 */
export async function withObserveSwitch(deps: PipelineDeps, readSwitch: () => Promise<string | undefined>): Promise<PipelineDeps> {
  let observeReason: string | undefined;
  try {
    const value = (await readSwitch())?.trim();
    if (value === OBSERVE) observeReason = 'The observe switch (SSM parameter) is on: nothing was changed.';
  } catch (error) {
    observeReason = `The observe switch could not be read (${awsErrorCode(error)}): failing closed, nothing was changed.`;
  }
  return observeReason ? { ...deps, config: { ...deps.config, forceObserve: true, observeReason } } : deps;
}
