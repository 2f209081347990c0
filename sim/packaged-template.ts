import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file lives in sim/). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The README's production deploy, exactly as it passes its parameters (osls hands every `--param` over as a string). */
export const README_PRODUCTION_PARAMS: Readonly<Record<string, string>> = {
  defaultMode: 'observe',
  minSeverity: '4',
  quarantineSecurityGroups: 'vpc-0abc=sg-0def',
  protectedClusters: 'payments-prod',
  actOnClusters: 'prod-*',
};

export interface PackageOptions {
  stage?: string;
  params?: Readonly<Record<string, string>>;
}

export interface PackagedStack {
  /** Folder holding cloudformation-template-update-stack.json and the functions' zips. */
  dir: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  template: any;
}

/** What the packaged stack depends on: a change to any of these packages again. */
function inputsHash(options: PackageOptions): string {
  const hash = createHash('sha256');
  // The template's inputs, and what the compiled policy is made of (cli/validate-policy.ts, run by deploy/esbuild.cjs).
  const files = ['serverless.yml', 'infrastructure.yml', 'package-lock.json', 'policy.yml', 'cli/validate-policy.ts'];
  const folders = ['shared/actions', 'shared/policy', 'deploy'];
  for (const folder of folders) {
    const path = join(ROOT, folder);
    if (existsSync(path)) for (const name of readdirSync(path).sort()) files.push(join(folder, name));
  }
  for (const file of files) {
    const path = join(ROOT, file);
    if (existsSync(path)) hash.update(file).update(readFileSync(path));
  }
  hash.update(JSON.stringify({ stage: options.stage ?? 'dev', params: Object.entries(options.params ?? {}).sort() }));
  return hash.digest('hex').slice(0, 16);
}

/**
 * The real `osls package` output for a stage and its parameters, without AWS credentials. Packaged once and cached by
 * a hash of serverless.yml, infrastructure.yml, the action registry and the options (node_modules/.cache), so a test
 * run, replay and `npm start` pay for it only when the stack changed. Parameters are passed as the README passes them:
 * `--param="name=value"`, which osls hands over as strings.
 */
export function packageStack(options: PackageOptions = {}): PackagedStack {
  const stage = options.stage ?? 'dev';
  const cacheRoot = join(ROOT, 'node_modules', '.cache', 'ecs-threat-responder');
  const dir = join(cacheRoot, `package-${stage}-${inputsHash(options)}`);
  const templateFile = join(dir, 'cloudformation-template-update-stack.json');
  if (!existsSync(templateFile)) {
    mkdirSync(cacheRoot, { recursive: true });
    const work = `${dir}.${process.pid}.${Date.now()}`;
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const key of Object.keys(env)) if (/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE)$/.test(key)) delete env[key];
    const params = Object.entries(options.params ?? {}).map(([name, value]) => `--param=${name}=${value}`);
    const osls = join(ROOT, 'node_modules', '.bin', 'osls');
    const run = spawnSync(osls, ['package', '--stage', stage, '--package', work, ...params], { cwd: ROOT, env, encoding: 'utf8', timeout: 170_000 });
    if (run.status !== 0) {
      rmSync(work, { recursive: true, force: true });
      throw new Error(`osls package --stage ${stage} failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
    }
    try {
      renameSync(work, dir);
    } catch {
      // Another process packaged the same inputs first: its result is identical.
      rmSync(work, { recursive: true, force: true });
    }
  }
  return { dir, template: JSON.parse(readFileSync(templateFile, 'utf8')) as unknown };
}
