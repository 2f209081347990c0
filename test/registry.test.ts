import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ACTION_PARAMS } from '../shared/actions/params';
import { ACTIONS } from '../shared/actions/registry';

describe('the action registry', () => {
  it('README.md documents exactly the registered actions, with their destructive and reversible flags', () => {
    const readme = readFileSync('README.md', 'utf8');
    const table = readme.slice(readme.indexOf('| action | what it does |')).split('\n\n')[0]!;
    const rows = table
      .split('\n')
      .slice(2)
      .filter((line) => line.startsWith('| `'))
      .map((line) => line.split('|').map((cell) => cell.trim()));
    expect(rows.map((cells) => cells[1]!.replace(/`/g, ''))).toEqual(ACTIONS.map((a) => a.name));
    for (const action of ACTIONS) {
      const cells = rows.find((c) => c[1] === `\`${action.name}\``)!;
      expect(cells[4]!.startsWith(action.destructive ? 'yes' : 'no'), `${action.name} destructive`).toBe(true);
    }
  });

  it('every action declares IAM permissions, and every destructive action counts as mutating', () => {
    for (const action of ACTIONS) {
      expect(action.permissions.flatMap((p) => p.actions).length, action.name).toBeGreaterThan(0);
      if (action.destructive) expect(action.mutating, action.name).toBe(true);
      if (action.reversible) expect(typeof action.undo, action.name).toBe('function');
      // Defaults make an action usable with no parameters at all.
      expect(ACTION_PARAMS[action.name]?.safeParse({}).success, action.name).toBe(true);
    }
  });

  it('every registered action, and only those, has a parameter schema (shared/actions/params.ts)', () => {
    expect(Object.keys(ACTION_PARAMS).sort()).toEqual(ACTIONS.map((a) => a.name).sort());
  });
});
