import * as z from '../zod-mini';
import { IMAGE_DIGEST, IMAGE_TAG, matching, REPOSITORY_NAME } from './aws-formats';
import { envelopeOrigin, eventEnvelope } from './ecr-image-scan';
import type { Home } from './home';
import { InvalidEventError, required } from './invalid-event';

/** `ECR Image Action` (https://docs.aws.amazon.com/AmazonECR/latest/userguide/ecr-eventbridge.html): PUSH or DELETE, SUCCESS or FAILURE. */
export const EcrImageActionEvent = z.looseObject({
  ...eventEnvelope,
  source: z.literal('aws.ecr'),
  'detail-type': z.literal('ECR Image Action'),
  detail: z.looseObject({
    result: z.optional(z.enum(['SUCCESS', 'FAILURE'])),
    'action-type': z.optional(z.enum(['PUSH', 'DELETE'])),
    'repository-name': z.optional(matching(REPOSITORY_NAME, 'an ECR repository name')),
    'image-digest': z.optional(matching(IMAGE_DIGEST, 'sha256: and 64 lowercase hex characters')),
    'image-tag': z.optional(matching(IMAGE_TAG, 'an image tag')),
  }),
});

export interface ImagePush {
  id?: string;
  account: string;
  region: string;
  repository: string;
  digest: string;
  tag?: string;
  result: string;
}

/** An `ECR Image Action` PUSH: re-pushing an archived image restores it, so a quarantined digest may come back. */
export function parseImagePush(event: unknown, home?: Home): ImagePush {
  const parsed = EcrImageActionEvent.safeParse(event);
  if (!parsed.success) throw InvalidEventError.fromZod(parsed.error);
  const { detail, ...envelope } = parsed.data;
  const origin = envelopeOrigin(envelope, home);
  const action = required(detail['action-type'], 'detail.action-type');
  if (action !== 'PUSH') throw new InvalidEventError('detail.action-type', `is ${action}; only PUSH is handled`);
  return {
    id: envelope.id,
    ...origin,
    repository: required(detail['repository-name'], 'detail.repository-name'),
    digest: required(detail['image-digest'], 'detail.image-digest'),
    tag: detail['image-tag'],
    result: detail.result ?? 'SUCCESS',
  };
}
