import * as sdk from './sdk';

/**
 * What no first round trip needs (issue 10, part 4: cold start): the AWS clients of ./sdk and the handlers' logger and
 * metrics, reached through `deferredSdk()` where one is first made, never at module load.
 *
 * Here (tests, tsx, the simulated account) it is ./sdk imported as usual. In a Lambda bundle deploy/esbuild.cjs loads
 * this file with other contents: `deferredSdk()` requires `./deferred/sdk.js`, a cjs bundle of its own beside the
 * handler (in every function's zip), so V8 compiles that code on first use, while the first AWS calls are in flight,
 * and not at initialisation. One file rather than one per client: each bundle carries its own copy of the SDK's core,
 * so two files cost more to load than one holding both (bench/cold-start.ts, deferredLoadMs).
 */
export const deferredSdk = (): typeof sdk => sdk;
