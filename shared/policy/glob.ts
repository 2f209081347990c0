/** `*` matches any run of characters (including `/` and `:`, which finding types contain), `?` one character. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

export function matchesAny(value: string | undefined, globs: string[] | undefined): boolean {
  if (!globs || globs.length === 0) return true;
  if (value === undefined) return false;
  return globs.some((glob) => globToRegExp(glob).test(value));
}
