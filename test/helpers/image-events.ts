import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, type Json } from './deployment';

/** A sample event under events/ (ecr/…, ecs/…, inspector/…), freshly parsed. */
export const imageEvent = (path: string): Json => JSON.parse(readFileSync(join(ROOT, 'events', path), 'utf8'));

/** The critical scan's image: checkout-api at this digest. */
export const CHECKOUT = 'sha256:c8be7b03fd5907ed0b6fb8cd0e3f3c31c3c83ed949f136b7754005025271738f';

/** A task of prod-cluster starting from `digest` (the ECS launch sample, with its own task id). */
export function launchEvent(digest = CHECKOUT, taskId = '0123456789abcdef0123456789abcdef'): Json {
  const e = imageEvent('ecs/ecs-task-launch-quarantined-digest.json');
  const arn = `arn:aws:ecs:us-east-1:111122223333:task/prod-cluster/${taskId}`;
  e.id = `launch-${taskId}`;
  e.resources = [arn];
  e.detail.taskArn = arn;
  e.detail.group = 'family:checkout-api';
  e.detail.attachments[0].details = [{ name: 'subnetId', value: 'subnet-0b1c2d3e4f5a6b7c8' }];
  e.detail.containers[0].imageDigest = digest;
  e.detail.containers[0].taskArn = arn;
  return e;
}

/**
 * Tag, then isolate with only the network-ACL rung below the swap (a Fargate task's swap is refused), then notify: the
 * containment the retry, release and clean-up tests start from.
 */
export const NACL_POLICY_YAML = `
version: 1
rules:
  - name: contain
    match: { severity: [HIGH, CRITICAL] }
    actions:
      - tag
      - isolate-task: { fallback: [network-acl] }
      - notify
`;
