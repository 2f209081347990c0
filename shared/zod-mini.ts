import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

/**
 * Every schema a Lambda runs is built with `zod/mini` from here (issue 10, part 4: classic zod cost ~13 ms of each
 * cold start). Classic `zod` installs English messages and the cycle-safe memoizer on its first schema; `zod/mini`
 * installs neither, so this module does, before any schema is built: the same messages ("Invalid input: expected
 * string, received number") and the same handling of input as with classic zod, in a Lambda and beside classic zod
 * in the package-time code alike. Configured when absent only, as classic zod does it.
 */
if (!z.core.globalConfig.localeError) z.config(en());
if (!z.core.globalConfig.memoizer) z.config({ memoizer: z.memoizer() });

export { z };
