import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** A mistake in how a CLI was called: said in one line with the usage, exit 2, never a stack trace. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** `--param name=value` flags, as osls deploy takes them. */
export function parseParams(given: string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const p of given) {
    const at = p.indexOf('=');
    if (at < 1) throw new UsageError(`--param "${p}" is not name=value`);
    params[p.slice(0, at)] = p.slice(at + 1);
  }
  return params;
}

/**
 * `util.parseArgs`, strict, with errors for people: an unknown flag names the valid ones (Node's own message advises
 * `-- "--taks"`), a missing value names the flag.
 */
export function parseCliArgs<const O extends Options>(options: O, args: string[] = process.argv.slice(2)) {
  try {
    return parseArgs({ args, options, allowPositionals: true as const, strict: true as const });
  } catch (error) {
    const code = (error as { code?: string }).code;
    const flag = /'(-[^']*)'/.exec((error as Error).message)?.[1] ?? '';
    const valid = Object.keys(options).map((name) => `--${name}`).join(', ');
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${flag.split(' ')[0]}; valid options: ${valid}`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`${flag.split(' ')[0] || 'an option'} needs a value`);
    throw new UsageError((error as Error).message);
  }
}

/**
 * Runs a CLI's main: its exit code, no stack trace for anything (a usage mistake prints the usage and exits 2; any
 * other error its message and exits 2). A closed pipe (`| head`) ends the run quietly, as Unix tools do.
 */
export function runCli(main: () => Promise<number> | number, usage: string): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(0);
      throw error;
    });
  }
  Promise.resolve()
    .then(main)
    .then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof UsageError) console.error(`${error.message}\n${usage.split('\n')[0]}   (--help for more)`);
      else console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(2);
    },
  );
}
