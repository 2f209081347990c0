import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidEventPatternError, matchesPattern } from '../cli/event-pattern';
import { ROOT } from '../sim/packaged-template';

/**
 * The replay router agrees with aws/event-ruler, the matcher EventBridge uses, on every recorded probe: MATCH, no, or
 * INVALID (PutRule refuses the pattern; the message is event-ruler's). CI copies shared/ beside the repository.
 */
interface Probe {
  name: string;
  pattern: unknown;
  event: unknown;
  ruler: 'MATCH' | 'no' | 'INVALID';
  rulerMessage?: string;
}
const { probes } = JSON.parse(readFileSync(join(ROOT, '../shared/reference/eventbridge-conformance.json'), 'utf8')) as { probes: Probe[] };

function outcome(probe: Probe): { ruler: Probe['ruler']; rulerMessage?: string } {
  try {
    return { ruler: matchesPattern(probe.event, probe.pattern) ? 'MATCH' : 'no' };
  } catch (error) {
    if (error instanceof InvalidEventPatternError) return { ruler: 'INVALID', rulerMessage: error.message };
    throw error;
  }
}

describe('EventBridge pattern conformance (aws/event-ruler outcomes)', () => {
  it('holds all 59 recorded probes', () => expect(probes).toHaveLength(59));

  it.each(probes.map((p) => [p.name, p] as const))('%s', (_name, probe) => {
    expect(outcome(probe)).toEqual({ ruler: probe.ruler, ...(probe.rulerMessage ? { rulerMessage: probe.rulerMessage } : {}) });
  });
});
