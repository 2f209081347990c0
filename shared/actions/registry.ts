import { captureEvidence } from './capture-evidence';
import { isolateTask } from './isolate-task';
import { notify } from './notify';
import { quarantineImage } from './quarantine-image';
import type { ActionTarget, ImageActionTarget, ResponseAction } from './response-action';
import { stopTask } from './stop-task';
import { tagResources } from './tag-resources';

/** Every response action. Policy validation, the CLI's list, the README table and the IAM test all read this. */
export const ACTIONS: readonly ResponseAction<any, any>[] = [captureEvidence, tagResources, isolateTask, stopTask, quarantineImage, notify]; // eslint-disable-line @typescript-eslint/no-explicit-any

/** An action of either kind. The policy loader only lets a rule name actions that serve its finding kind. */
export type AnyResponseAction = ResponseAction<unknown, ActionTarget | ImageActionTarget>;

export function findAction(name: string): AnyResponseAction | undefined {
  return ACTIONS.find((action) => action.name === name);
}

export function actionNames(): string[] {
  return ACTIONS.map((action) => action.name);
}

/** Whether an action changes the workload; an unknown name counts as mutating (the safe side). */
export function isMutatingAction(name: string): boolean {
  return findAction(name)?.mutating ?? true;
}
