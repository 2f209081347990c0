import { respondToRuntimeFinding, type EventResult, type PipelineDeps } from './pipeline';
import { runRunbook } from './runbook';
import { cleanUpStoppedTask } from './task-stopped';
import { respondToImageFinding } from './image-pipeline';
import { guardLaunchOrPush } from './launch-guard';

export type EntryPoint = (event: unknown, deps: PipelineDeps, requestedBy?: string) => Promise<EventResult>;

/** Lambda function name (serverless.yml) → the pipeline entry it runs. The replay CLI dispatches through this too. */
export const ENTRY_POINTS: Record<string, EntryPoint> = {
  runtimeFinding: respondToRuntimeFinding,
  taskStopped: cleanUpStoppedTask,
  imageFinding: respondToImageFinding,
  taskLaunchGuard: guardLaunchOrPush,
  runbook: runRunbook,
};
