import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { respondToImageFinding } from '../shared/image-pipeline';
import { guardLaunchOrPush } from '../shared/launch-guard';
import { withObserveSwitch } from '../shared/observe-switch';
import { respondToRuntimeFinding } from '../shared/pipeline';
import type { SimulatedDeployment } from '../sim/deployment';
import { loadEvent, mutatingCalls, startDeployment } from './helpers/deployment';

const REVERSE_SHELL = loadEvent('gd-ecs-fargate-reverse-shell.json');

let deployment: SimulatedDeployment | undefined;
afterEach(async () => {
  await deployment?.close();
  deployment = undefined;
});

async function respondWithSwitch(readSwitch: () => Promise<string | undefined>) {
  deployment = await startDeployment();
  deployment.account.seedFromEvent(REVERSE_SHELL);
  const before = deployment.account.calls.length;
  const result = await respondToRuntimeFinding(REVERSE_SHELL, await withObserveSwitch(deployment.depsFor('runtimeFinding'), readSwitch));
  const changed = mutatingCalls(deployment.account, before).filter((c) => c.operation !== 'Publish');
  const message = JSON.parse(deployment.account.sns.published.at(-1)!.message);
  return { result, changed, message };
}

describe('the live observe switch (SSM parameter)', () => {
  it('"observe": the finding is decided and notified, and nothing is changed', async () => {
    const { result, changed, message } = await respondWithSwitch(() => Promise.resolve('observe'));
    expect(result.decision).toEqual({ policyRule: 'unmistakable-threats', mode: 'observe' });
    expect(result.actions.filter((a) => a.action !== 'notify').every((a) => a.status === 'planned')).toBe(true);
    expect(changed).toEqual([]);
    expect(message.notes).toContain('The observe switch (SSM parameter) is on: nothing was changed.');
  });

  it('"policy": the policy decides (enforce)', async () => {
    const { result } = await respondWithSwitch(() => Promise.resolve('policy'));
    expect(result).toMatchObject({ decision: { mode: 'enforce' }, containment: 'contained (network-acl)' });
  });

  it('fails closed: a switch that cannot be read means observe, and says why', async () => {
    const { result, changed, message } = await respondWithSwitch(() => Promise.reject(Object.assign(new Error('denied'), { name: 'AccessDeniedException' })));
    expect(result.decision).toMatchObject({ mode: 'observe' });
    expect(changed).toEqual([]);
    expect(message.notes).toContain('The observe switch could not be read (AccessDeniedException): failing closed, nothing was changed.');
  });
});

describe('the observe switch reaches the image guards too', () => {
  it('a push that restores a quarantined digest is only reported while the switch is on', async () => {
    deployment = await startDeployment();
    const scan = JSON.parse(readFileSync('events/ecr/01-ecr-image-scan-complete-critical.json', 'utf8'));
    const push = JSON.parse(readFileSync('events/ecr/07-ecr-image-action-push-quarantined-digest.json', 'utf8'));
    deployment.account.seedFromEvent(scan);
    expect((await respondToImageFinding(scan, deployment.depsFor('imageFinding'))).containment).toBe('contained (archive)');
    deployment.account.seedFromEvent(push); // the re-push restores the archived image, as ECR does
    const image = () => deployment!.account.ecr.image(push.detail['repository-name'], push.detail['image-digest'])!;
    expect(image().imageStatus).toBe('ACTIVE');

    const result = await guardLaunchOrPush(push, await withObserveSwitch(deployment.depsFor('taskLaunchGuard'), () => Promise.resolve('observe')));
    expect(result.decision).toMatchObject({ mode: 'observe' });
    expect(result.actions.find((a) => a.action === 'quarantine-image')).toMatchObject({ status: 'planned' });
    expect(image().imageStatus).toBe('ACTIVE');
    expect(result.notes).toContain('The observe switch (SSM parameter) is on: nothing was changed.');
  });
});
