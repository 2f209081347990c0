// @ts-check
/* global module, process, __dirname */
'use strict';
// The Lambda bundles' esbuild options, in one place: serverless.yml (custom.esbuild.config, which serverless-esbuild
// requires and calls), test/lambda-bundle.test.ts and bench/cold-start.ts all build with these.
// process.getBuiltinModule rather than require: this file is type-checked and linted as the rest of deploy/ is.
const { readFileSync } = process.getBuiltinModule('node:fs');
const path = process.getBuiltinModule('node:path');
const { execFileSync } = process.getBuiltinModule('node:child_process');

/** Where `npm run package` (cli/validate-policy.ts --out) writes the validated policy the bundles carry. */
const COMPILED_POLICY_FILE = path.join(__dirname, '..', '.build', 'policy.json');

/**
 * The SDK's generated schema modules (one per client, every shape of the service) are `sideEffects: false`, yet the
 * query and XML protocols (EC2, S3, SNS, STS) give their members trait objects with computed keys, `{ [_xN]: _m }`
 * where `const _xN = "xmlName"`. esbuild treats a computed key as possibly side-effecting (it may call toString), so it
 * keeps every one of EC2's 3,405 schema statements: 552 KB for the six operations the responder calls. Writing the
 * constant's string literal in place of the key ({ "xmlName": _m }, the same object) lets esbuild drop the unused
 * schemas (552 KB -> 25 KB). https://esbuild.github.io/api/#tree-shaking
 */
/** @type {import('esbuild').Plugin} */
const sdkSchemaKeys = {
  name: 'sdk-schema-literal-keys',
  setup(build) {
    build.onLoad({ filter: /[\\/]@aws-sdk[\\/][^\\/]+[\\/]dist-es[\\/](submodules[\\/][^\\/]+[\\/])?schemas[\\/]schemas_0\.js$/ }, ({ path }) => {
      const text = readFileSync(path, 'utf8');
      const strings = new Map([...text.matchAll(/^const (_\w+) = ("[^"\\\n]*");$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
      return { contents: text.replace(/\[(_\w+)\]:/g, (key, /** @type {string} */ name) => (strings.has(name) ? `${strings.get(name)}:` : key)), loader: 'js' };
    });
  },
};

/** What of the SDK no first round trip needs (shared/aws/deferred/sdk.ts), and the module that reaches it. */
const DEFERRED_DIR = path.join(__dirname, '..', 'shared', 'aws', 'deferred');
const DEFERRED_INDEX = path.join(DEFERRED_DIR, 'index.ts');
/** Where a handler requires it from, relative to itself: in each zip, functions/deferred/sdk.js. */
const DEFERRED_REQUIRE = './deferred/sdk.js';

/** The deferred bundle's build, by output folder: serverless-esbuild builds every function at once, in one folder. */
/** @type {Map<string, Promise<unknown>>} */
const deferredBuilds = new Map();

/**
 * Issue 10, part 4 (cold start): V8 compiles at initialisation every byte a handler loads, and S3, SNS, ECR, STS,
 * Organizations, Secrets Manager and Powertools' logger and metrics are needed only after the first round trip. They
 * are a second cjs bundle
 * (shared/aws/deferred/sdk.ts, built with the same options) written beside the handler's, as deferred/sdk.js, and
 * shared/aws/deferred/index.ts is loaded with contents that `require` it on first use. esbuild leaves the `require()`
 * of an external path as it is, so none of that code is in the handler's bundle and Node loads it only when called.
 * (In a cjs bundle a dynamic import() keeps the whole client, in the same file.) serverless-esbuild builds every
 * function into one folder (.esbuild/<pid>/.build/functions) and zips each function with every file of that folder
 * but the other functions' bundles, so functions/deferred/sdk.js is in every zip: test/template.test.ts checks it.
 */
/** @type {import('esbuild').Plugin} */
const deferredSdk = {
  name: 'deferred-aws-sdk',
  setup(build) {
    const { outdir, outfile, plugins: _plugins, define: _define, stdin: _stdin, entryPoints: _entryPoints, ...options } = build.initialOptions;
    const out = path.join(outdir ?? path.dirname(outfile ?? '.'), DEFERRED_REQUIRE);
    build.onStart(async () => {
      if (!deferredBuilds.has(out)) {
        const { build: esbuild } = await import('esbuild');
        deferredBuilds.set(out, esbuild({ ...options, entryPoints: [path.join(DEFERRED_DIR, 'sdk.ts')], outfile: out, plugins: [sdkSchemaKeys], logLevel: 'error' }));
      }
      await deferredBuilds.get(out);
    });
    build.onLoad({ filter: /[\\/]shared[\\/]aws[\\/]deferred[\\/]index\.ts$/ }, ({ path: file }) =>
      path.resolve(file) === DEFERRED_INDEX
        ? { contents: `let sdk; export const deferredSdk = () => (sdk ??= require(${JSON.stringify(DEFERRED_REQUIRE)}));`, loader: 'js' }
        : undefined,
    );
    build.onResolve({ filter: /^\.\/deferred\/sdk\.js$/ }, ({ path: file, importer }) => (path.resolve(importer) === DEFERRED_INDEX ? { path: file, external: true } : undefined));
  },
};

/**
 * esbuild options for one Lambda bundle. `compiledPolicy` is the validated policy as JSON text; esbuild puts it in
 * place of `__COMPILED_POLICY__` (a define may be any JSON value: https://esbuild.github.io/api/#define), so the bundle
 * carries the checked policy and no YAML parser or policy schema.
 */
/** @param {string} compiledPolicy @returns {import('esbuild').BuildOptions} */
function lambdaBuildOptions(compiledPolicy) {
  return {
    bundle: true,
    minify: true,
    sourcemap: false,
    target: 'node22',
    platform: 'node',
    format: 'cjs',
    // dist-es (ES modules) can be tree-shaken; the SDK's default `main` is one CommonJS file per client.
    mainFields: ['module', 'main'],
    define: { __COMPILED_POLICY__: compiledPolicy },
    plugins: [sdkSchemaKeys, deferredSdk],
  };
}

/**
 * serverless-esbuild calls this (custom.esbuild.config) once per `osls package`. The policy is validated and compiled
 * here, not only by `npm run package`: sim/packaged-template.ts runs `osls package` itself, and a .build/policy.json
 * left from an earlier policy.yml must never be what ships. `exclude: []` bundles the SDK rather than expecting it on
 * Lambda.
 */
module.exports = () => {
  const root = path.join(__dirname, '..');
  execFileSync(path.join(root, 'node_modules', '.bin', 'tsx'), ['cli/validate-policy.ts', 'policy.yml', '--out', COMPILED_POLICY_FILE], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  // A work folder per osls process (serverless-esbuild's default is .esbuild, removed when packaging ends): the tests
  // package stages concurrently from this folder, and one run removing the folder another is zipping from made empty
  // zips, more often once the deferred SDK made each build longer.
  return { ...lambdaBuildOptions(readFileSync(COMPILED_POLICY_FILE, 'utf8')), exclude: [], outputWorkFolder: path.join('.esbuild', String(process.pid)) };
};
module.exports.lambdaBuildOptions = lambdaBuildOptions;
module.exports.COMPILED_POLICY_FILE = COMPILED_POLICY_FILE;
module.exports.DEFERRED_REQUIRE = DEFERRED_REQUIRE;
