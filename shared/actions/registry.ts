import { captureEvidence } from './capture-evidence';
import { isolateTask } from './isolate-task';
import { notify } from './notify';
import { quarantineImage } from './quarantine-image';
import type { ResponseAction } from './response-action';
import { stopTask } from './stop-task';
import { tagResources } from './tag-resources';

/** Every response action. Policy validation, the CLI's list, the README table and the IAM test all read this. */
export const ACTIONS: readonly ResponseAction<any, any>[] = [captureEvidence, tagResources, isolateTask, stopTask, quarantineImage, notify]; // eslint-disable-line @typescript-eslint/no-explicit-any

export function findAction(name: string): ResponseAction<unknown> | undefined {
  return ACTIONS.find((action) => action.name === name);
}

export function actionNames(): string[] {
  return ACTIONS.map((action) => action.name);
}
