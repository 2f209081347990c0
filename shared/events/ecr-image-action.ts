import { z } from 'zod';
import { InvalidEventError, required } from './invalid-event';

export const EcrImageActionEvent = z.looseObject({
  id: z.string().optional(),
  source: z.literal('aws.ecr'),
  'detail-type': z.literal('ECR Image Action'),
  account: z.string().optional(),
  region: z.string().optional(),
  detail: z.looseObject({
    result: z.string().optional(),
    'action-type': z.string().optional(),
    'repository-name': z.string().optional(),
    'image-digest': z.string().optional(),
    'image-tag': z.string().optional(),
  }),
});

export interface ImagePush {
  repository: string;
  digest: string;
  tag?: string;
  result: string;
}

/** An `ECR Image Action` PUSH: re-pushing an archived image restores it, so a quarantined digest may come back. */
export function parseImagePush(event: unknown): ImagePush {
  const parsed = EcrImageActionEvent.safeParse(event);
  if (!parsed.success) throw InvalidEventError.fromZod(parsed.error);
  const { detail } = parsed.data;
  const action = required(detail['action-type'], 'detail.action-type');
  if (action !== 'PUSH') throw new InvalidEventError('detail.action-type', `is ${action}; only PUSH is handled`);
  return {
    repository: required(detail['repository-name'], 'detail.repository-name'),
    digest: required(detail['image-digest'], 'detail.image-digest'),
    tag: detail['image-tag'],
    result: detail.result ?? 'SUCCESS',
  };
}
