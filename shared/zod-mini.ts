import { config, memoizer } from 'zod/mini';
import { globalConfig } from 'zod/v4/core';
import en from 'zod/v4/locales/en.js';

/**
 * Every schema a Lambda runs is built with `zod/mini` from here (issue 10, part 4: classic zod cost ~13 ms of each
 * cold start): `import * as z from '../zod-mini'`. Classic `zod` installs English messages and the cycle-safe memoizer
 * on its first schema; `zod/mini` installs neither, so this module does, before any schema is built: the same messages
 * ("Invalid input: expected string, received number") and the same handling of input as with classic zod, in a Lambda
 * and beside classic zod in the package-time code alike. Set when absent only, as classic zod does. Named imports and
 * `export *` keep esbuild's tree shaking: re-exporting the namespace object would carry all of zod's locales.
 */
if (!globalConfig.localeError) config(en());
if (!globalConfig.memoizer) config({ memoizer: memoizer() });

export * from 'zod/mini';
