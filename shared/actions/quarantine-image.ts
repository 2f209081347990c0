import type { ImageDetail } from '@aws-sdk/client-ecr';
import { deferredSdk } from '../aws/deferred';
import { awsErrorCode, refusedOrFailed } from '../aws/errors';
import { deploymentHome } from '../config';
import { imageLedgerId, isEcrRegistry, parseImageReference, type ImageInRegistry } from '../image/image-reference';
import { forgetQuarantineState, QUARANTINE_ACTION } from '../image/quarantine-state';
import type { ActionRecord } from '../ledger';
import type { ActionOutcome } from '../notification';
import { DEFAULT_SAFETY } from '../policy/policy-schema';
import { allowDestructive, withheldOutcome } from '../safety';
import { clusterTagsOf, describeTaskBrief } from '../task-state';
import type { QuarantineImageParams } from './params';
import { defineAction, type ActionRuntime, type ActionTarget, type ImageActionTarget } from './response-action';
import { stopTaskOnce } from './stop-task';

const ACTION = QUARANTINE_ACTION;

type Params = QuarantineImageParams;

export interface ImageBeforeState extends Record<string, unknown> {
  repository: string;
  digest: string;
  /** The registry's account and region (absent in records written before organization-wide response: the responder's own). */
  account?: string;
  region?: string;
  /** `ACTIVE` (standard storage) or `ARCHIVED`, as ECR reported it before the responder acted. */
  imageStatus: string;
  tags: string[];
  quarantineTag?: string;
}

/** One tag per digest, so two quarantined images in a repository never take each other's tag. */
export function quarantineTagFor(digest: string): string {
  return `quarantined-${digest.replace(/^sha256:/, '').slice(0, 12)}`;
}

/** What ECR's calls name (the clients are already the registry's account and region). */
type Image = { repository: string; digest: string };

async function describeImage(runtime: ActionRuntime, image: Image): Promise<ImageDetail | undefined> {
  try {
    const out = await runtime.clients.ecr.send(new (deferredSdk().DescribeImagesCommand)({ repositoryName: image.repository, imageIds: [{ imageDigest: image.digest }] }));
    return out.imageDetails?.[0];
  } catch (error) {
    if (awsErrorCode(error) === 'ImageNotFoundException') return undefined;
    throw error;
  }
}

async function archive(runtime: ActionRuntime, image: ImageInRegistry, detail: ImageDetail, stepSuffix: string): Promise<ActionOutcome> {
  const step = `${ACTION}:archive${stepSuffix}`;
  const target = imageLedgerId(image, deploymentHome(runtime.config));
  await runtime.ledger.writeAhead(runtime.audit, {
    step,
    action: ACTION,
    mechanism: 'archive',
    target,
    beforeState: { ...image, imageStatus: detail.imageStatus ?? 'ACTIVE', tags: detail.imageTags ?? [] } satisfies ImageBeforeState,
  });
  let outcome: ActionOutcome;
  if (detail.imageStatus === 'ARCHIVED') {
    outcome = { action: ACTION, status: 'skipped', mechanism: 'archive', detail: 'already applied (the image is archived): pulls of this digest fail; nothing changed', target };
  } else {
    try {
      await runtime.clients.ecr.send(
        new (deferredSdk().UpdateImageStorageClassCommand)({ repositoryName: image.repository, imageId: { imageDigest: image.digest }, targetStorageClass: 'ARCHIVE' }),
      );
      outcome = {
        action: ACTION,
        status: 'applied',
        mechanism: 'archive',
        detail: 'archived: pulls of this digest now fail, so ECS cannot start a task from it; the image stays as evidence (restorable)',
        target,
      };
    } catch (error) {
      outcome = refusedOrFailed(ACTION, 'archive', error, target);
    }
  }
  await runtime.ledger.recordOutcome(runtime.audit, step, outcome, target);
  return outcome;
}

/**
 * The fallback: add the quarantine tag first, then remove every other tag (removing the last tag would delete the
 * image). Tags are removed by tag alone: what ECR does when BatchDeleteImage is given tag *and* digest (untag, or
 * delete the image?) is not documented, and deleting evidence is worse. The tags are re-read just before, so only
 * tags still on this digest go; a tag CI moves in the instant between is the remaining, documented risk.
 */
async function keepOnlyQuarantineTag(runtime: ActionRuntime, image: ImageInRegistry, detail: ImageDetail, stepSuffix: string): Promise<ActionOutcome> {
  const step = `${ACTION}:tags${stepSuffix}`;
  const target = imageLedgerId(image, deploymentHome(runtime.config));
  const quarantineTag = quarantineTagFor(image.digest);
  const tags = detail.imageTags ?? [];
  await runtime.ledger.writeAhead(runtime.audit, {
    step,
    action: ACTION,
    mechanism: 'image-tags',
    target,
    beforeState: { ...image, imageStatus: detail.imageStatus ?? 'ACTIVE', tags, quarantineTag } satisfies ImageBeforeState,
  });
  let outcome: ActionOutcome;
  if (tags.length === 1 && tags[0] === quarantineTag) {
    // Quarantined already (an earlier response or command): repeated, it changes nothing, and says so.
    outcome = { action: ACTION, status: 'skipped', mechanism: 'image-tags', detail: `already applied: ${quarantineTag} is the image's only tag; nothing changed`, target };
    await runtime.ledger.recordOutcome(runtime.audit, step, outcome, target);
    return outcome;
  }
  try {
    if (!tags.includes(quarantineTag)) await putTag(runtime, image, quarantineTag);
    const others = tags.filter((t) => t !== quarantineTag);
    const kept: string[] = [];
    const current = new Set((await describeImage(runtime, image))?.imageTags ?? []);
    const removable = others.filter((t) => current.has(t) && t !== quarantineTag);
    if (removable.length && current.has(quarantineTag)) {
      const out = await runtime.clients.ecr.send(new (deferredSdk().BatchDeleteImageCommand)({ repositoryName: image.repository, imageIds: removable.map((imageTag) => ({ imageTag })) }));
      kept.push(...(out.failures ?? []).map((f) => `${f.imageId?.imageTag ?? '?'} (${f.failureCode ?? 'failed'})`));
    } else if (removable.length) {
      kept.push(...removable.map((t) => `${t} (the quarantine tag is not on the image, so the last tag is kept)`));
    }
    const removed = removable.filter((t) => !kept.some((k) => k.startsWith(`${t} `)));
    outcome = {
      action: ACTION,
      status: kept.length ? 'failed' : 'applied',
      mechanism: 'image-tags',
      detail: `tagged ${quarantineTag}${removed.length ? ` and removed ${removed.join(', ')} (kept in the ledger)` : ''}${kept.length ? `; could not remove ${kept.join(', ')}` : ''}. Pulls by digest still work: the launch guard stops tasks that start from it`,
      target,
    };
  } catch (error) {
    outcome = refusedOrFailed(ACTION, 'image-tags', error, target);
  }
  await runtime.ledger.recordOutcome(runtime.audit, step, outcome, target);
  return outcome;
}

/** Retag: the manifest from BatchGetImage, PutImage under the new tag (image-retag.html); an existing tag is success. */
async function putTag(runtime: ActionRuntime, image: Image, tag: string): Promise<void> {
  const got = await runtime.clients.ecr.send(new (deferredSdk().BatchGetImageCommand)({ repositoryName: image.repository, imageIds: [{ imageDigest: image.digest }] }));
  const found = got.images?.[0];
  if (!found?.imageManifest) throw new Error(`BatchGetImage returned no manifest for ${image.digest}: ${got.failures?.[0]?.failureReason ?? 'unknown'}`);
  try {
    await runtime.clients.ecr.send(
      new (deferredSdk().PutImageCommand)({ repositoryName: image.repository, imageManifest: found.imageManifest, imageManifestMediaType: found.imageManifestMediaType, imageTag: tag }),
    );
  } catch (error) {
    if (awsErrorCode(error) !== 'ImageAlreadyExistsException') throw error;
  }
}

/** Each stop is a destructive action of its own: protection and a blast-radius slot for its cluster, like any other. */
async function stopTasksUsingImage(runtime: ActionRuntime, target: ImageActionTarget): Promise<ActionOutcome[]> {
  const outcomes: ActionOutcome[] = [];
  // Many tasks, few clusters: read each cluster's tags once.
  const clusterTags = new Map<string, Promise<Record<string, string>>>();
  for (const running of target.tasksUsingImage) {
    const task = await describeTaskBrief(runtime.clients, { arn: running.taskArn, clusterArn: running.clusterArn });
    const step = `${ACTION}:stop-task:${running.taskArn.split('/').pop()}`;
    const cluster = running.clusterArn.split('/').pop() ?? '';
    if (!clusterTags.has(running.clusterArn)) clusterTags.set(running.clusterArn, clusterTagsOf(runtime.clients, running.clusterArn));
    const protectedBy = runtime.protectionOf?.({ clusterName: cluster, service: task.service, tags: task.tags, clusterTags: await clusterTags.get(running.clusterArn)! });
    const verdict = protectedBy
      ? ({ allowed: false, why: `Protected resource (${protectedBy}): not stopped` } as const)
      : await allowDestructive(runtime.ledger, runtime.safety ?? DEFAULT_SAFETY, { account: target.finding.account, cluster }, new Date());
    if (!verdict.allowed) {
      // A counter that could not be written transiently is `failed` (the event is retried), not a limit reached.
      const withheld = withheldOutcome(verdict, ACTION, `task:${task.taskArn}`);
      await runtime.ledger.recordOutcome(runtime.audit, step, withheld);
      outcomes.push(withheld);
      continue;
    }
    outcomes.push(await stopTaskOnce(runtime, task, step, ACTION));
  }
  return outcomes;
}

async function restoreTags(runtime: ActionRuntime, before: ImageBeforeState): Promise<string> {
  const image = { repository: before.repository, digest: before.digest };
  const restored: string[] = [];
  const lost: string[] = [];
  for (const tag of before.tags.filter((t) => t !== before.quarantineTag)) {
    try {
      await putTag(runtime, image, tag);
      restored.push(tag);
    } catch (error) {
      // An immutable repository refuses a tag that has since gone to another image.
      lost.push(`${tag} (${awsErrorCode(error)})`);
    }
  }
  if (before.quarantineTag && restored.length > 0 && !before.tags.includes(before.quarantineTag)) {
    await runtime.clients.ecr.send(new (deferredSdk().BatchDeleteImageCommand)({ repositoryName: image.repository, imageIds: [{ imageTag: before.quarantineTag }] }));
  }
  return `restored tags ${restored.join(', ') || '(none)'}${lost.length ? `; could not restore ${lost.join(', ')}` : ''}`;
}

/** Archives one image (tag fallback if refused). `stepSuffix` keeps several images of one runtime finding apart. */
async function quarantineOne(runtime: ActionRuntime, image: ImageInRegistry, params: Params, stepSuffix = ''): Promise<ActionOutcome[]> {
  const detail = await describeImage(runtime, image);
  if (!detail) return [{ action: ACTION, status: 'skipped', detail: `${image.repository}@${image.digest} not found in ECR (deleted): nothing to quarantine` }];
  const outcomes = [await archive(runtime, image, detail, stepSuffix)];
  if (outcomes[0]!.status !== 'applied' && outcomes[0]!.status !== 'skipped' && params.tagFallback) {
    outcomes.push(await keepOnlyQuarantineTag(runtime, image, detail, stepSuffix));
  }
  forgetQuarantineState(runtime.ledger, imageLedgerId(image, deploymentHome(runtime.config)));
  return outcomes;
}

/**
 * A runtime finding's images: the digests its task runs, from DescribeTasks. Only this account's ECR in this region
 * can be archived by the responder; anything else is said plainly.
 */
function runtimeImages(target: ActionTarget): { images: ImageInRegistry[]; notQuarantinable: ActionOutcome[] } {
  const images: ImageInRegistry[] = [];
  const notQuarantinable: ActionOutcome[] = [];
  for (const container of target.task.containers) {
    const reference = parseImageReference(container.image);
    const ownEcr = isEcrRegistry(reference.registry) && reference.registry!.startsWith(`${target.finding.account}.dkr.ecr.${target.finding.region}.`);
    const digest = container.imageDigest ?? reference.digest;
    if (!ownEcr || !digest) {
      const why = ownEcr ? 'no digest known (DescribeTasks gave none)' : "not in this account and region's ECR";
      notQuarantinable.push({ action: ACTION, status: 'unsupported', mechanism: 'archive', detail: `${container.image}: ${why}, so it cannot be quarantined` });
    } else if (!images.some((i) => i.repository === reference.repository && i.digest === digest)) {
      images.push({ account: target.finding.account, region: target.finding.region, repository: reference.repository, digest });
    }
  }
  return { images, notQuarantinable };
}

function describeForImage(params: Params, { finding, tasksUsingImage }: ImageActionTarget): ActionOutcome[] {
  return [
    {
      action: ACTION,
      status: 'planned',
      mechanism: 'archive',
      detail: `would archive ${finding.repository}@${finding.digest}${params.tagFallback ? `, or if refused keep only the tag ${quarantineTagFor(finding.digest)}` : ''}`,
    },
    ...(params.stopRunningTasks
      ? tasksUsingImage.map((t): ActionOutcome => ({ action: ACTION, status: 'planned', mechanism: 'stop-task', detail: `would stop ${t.taskArn}`, target: `task:${t.taskArn}` }))
      : []),
  ];
}

export const quarantineImage = defineAction<Params, ImageActionTarget | ActionTarget>({
  name: ACTION,
  summary:
    'Archive the image digest (UpdateImageStorageClass ARCHIVE: pulls fail, the image stays as evidence); if archiving is refused, keep only a quarantine tag. Idempotent per repository and digest. From an image finding it may also stop the tasks running it; from a runtime finding it quarantines what the task runs.',
  permissions: [
    { actions: ['ecr:DescribeImages', 'ecr:BatchGetImage', 'ecr:UpdateImageStorageClass', 'ecr:PutImage', 'ecr:BatchDeleteImage'], scope: 'ecr-repository' },
    // Finding the tasks that run the digest (ListClusters, ListTasks, DescribeTasks).
    { actions: ['ecs:ListClusters', 'ecs:ListTasks', 'ecs:DescribeTasks', 'ecs:DescribeClusters'], scope: 'read-only' },
    { actions: ['ecs:StopTask'], scope: 'ecs-task-in-cluster' },
  ],
  mutating: true,
  destructive: true,
  reversible: true,
  kinds: ['image', 'runtime'],
  describe(params, target, config) {
    if (!('task' in target)) return describeForImage(params, target);
    const { images, notQuarantinable } = runtimeImages(target);
    return [
      ...images.map((i): ActionOutcome => ({ action: ACTION, status: 'planned', mechanism: 'archive', detail: `would archive ${i.repository}@${i.digest}`, target: imageLedgerId(i, deploymentHome(config)) })),
      ...notQuarantinable,
    ];
  },
  async apply(params, target, runtime) {
    if ('task' in target) {
      // A running image that misbehaves: quarantine what the task runs, so ECS's replacement cannot start from it.
      const { images, notQuarantinable } = runtimeImages(target);
      const outcomes = [...notQuarantinable];
      for (const image of images) outcomes.push(...(await quarantineOne(runtime, image, params, `:${image.repository}@${image.digest}`)));
      return outcomes.length ? outcomes : [{ action: ACTION, status: 'skipped', detail: 'the task lists no container image' }];
    }
    const { account, region, repository, digest } = target.finding;
    const outcomes = await quarantineOne(runtime, { account, region, repository, digest }, params);
    if (params.stopRunningTasks) outcomes.push(...(await stopTasksUsingImage(runtime, target)));
    return outcomes;
  },
  async undo(record: ActionRecord, runtime): Promise<ActionOutcome> {
    const before = record.beforeState as ImageBeforeState | undefined;
    if (!before || (record.mechanism !== 'archive' && record.mechanism !== 'image-tags')) {
      return { action: ACTION, status: 'unsupported', mechanism: record.mechanism, detail: 'a stopped task cannot be restarted' };
    }
    // The record's target is the image's ledger id, whichever account it names.
    if (record.target) forgetQuarantineState(runtime.ledger, record.target);
    if (record.mechanism === 'image-tags') {
      return { action: ACTION, status: 'applied', mechanism: 'image-tags', detail: await restoreTags(runtime, before) };
    }
    if (before.imageStatus === 'ARCHIVED') {
      return { action: ACTION, status: 'skipped', mechanism: 'archive', detail: 'the image was archived before the responder acted: left archived' };
    }
    const now = await describeImage(runtime, { repository: before.repository, digest: before.digest });
    if (now?.imageStatus !== 'ARCHIVED') {
      return { action: ACTION, status: 'skipped', mechanism: 'archive', detail: now ? 'not archived (the archive never took effect): nothing to restore' : 'the image no longer exists' };
    }
    const out = await runtime.clients.ecr.send(
      new (deferredSdk().UpdateImageStorageClassCommand)({ repositoryName: before.repository, imageId: { imageDigest: before.digest }, targetStorageClass: 'STANDARD' }),
    );
    return { action: ACTION, status: 'applied', mechanism: 'archive', detail: `restored to standard storage (${out.imageStatus ?? 'ACTIVATING'}); pulls work again once ECR finishes` };
  },
});
