import type { $ZodError } from 'zod/v4/core';

/** Bad input: names the field and the problem. The pipeline takes no action on it. */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
  }

  static fromZod(error: $ZodError, prefix = ''): InvalidEventError {
    const issue = error.issues[0];
    const path = issue ? issue.path.map(String).join('.') : '';
    const field = [prefix, path].filter(Boolean).join('.') || '(event)';
    return new InvalidEventError(field, issue?.message ?? 'invalid');
  }
}

/** Reads a required field, or throws naming it. */
export function required<T>(value: T | undefined | null, field: string, problem = 'is required'): T {
  if (value === undefined || value === null || value === '') throw new InvalidEventError(field, problem);
  return value;
}
