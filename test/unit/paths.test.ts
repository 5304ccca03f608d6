/**
 * Where jitc finds its package and keeps its local state: inside a checkout as always, in a
 * per-user cache for an installed package, and the package root the same from source and dist/.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { localState, packageRoot, targetsPath } from '../../adapters/paths.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

/** A package root as a checkout holds it, or as npm installs it (under node_modules/). */
function fakePackage(as: 'checkout' | 'installed'): string {
  const base = mkdtempSync(join(tmpdir(), 'jitc-paths-'));
  const root = as === 'installed' ? join(base, 'node_modules', 'jitc') : base;
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'package.json'), '{"name":"jitc"}');
  return root;
}

describe('the package root', () => {
  test('is the directory of package.json, from a module in the sources or in dist/', () => {
    const root = fakePackage('checkout');
    mkdirSync(join(root, 'dist', 'adapters'), { recursive: true });
    expect(packageRoot(join(root, 'adapters'))).toBe(root);
    expect(packageRoot(join(root, 'dist', 'adapters'))).toBe(root);
  });

  test("is the project's own root when running from the sources", () => {
    expect(packageRoot()).toBe(PROJECT_ROOT);
  });
});

describe('the local state', () => {
  const env = { JITC_CACHE_DIR: '/srv/cache/jitc', XDG_CACHE_HOME: '/home/u/.xdg' };

  test('stays inside a checkout or a copy of the project (.targets/, .jitc/), whatever the cache settings say', () => {
    const root = fakePackage('checkout');
    const state = localState(root, env, '/home/u');
    expect(state.targets).toBe(join(root, '.targets'));
    expect(state.history).toBe(join(root, '.jitc', 'history.sqlite'));
    expect(state.why).toMatch(/checkout/);
  });

  test('of an installed package is $JITC_CACHE_DIR, else $XDG_CACHE_HOME/jitc, else ~/.cache/jitc', () => {
    const root = fakePackage('installed');
    expect(localState(root, env, '/home/u')).toMatchObject({ targets: '/srv/cache/jitc', history: '/srv/cache/jitc/history.sqlite' });
    expect(localState(root, { XDG_CACHE_HOME: '/home/u/.xdg' }, '/home/u').targets).toBe('/home/u/.xdg/jitc');
    expect(localState(root, {}, '/home/u').targets).toBe('/home/u/.cache/jitc');
  });

  test('of an installed package is never inside the package, even with a relative XDG_CACHE_HOME', () => {
    const root = fakePackage('installed');
    // The XDG spec ignores relative values; a relative one would land wherever jitc was started.
    expect(localState(root, { XDG_CACHE_HOME: 'cache' }, '/home/u').targets).toBe('/home/u/.cache/jitc');
    expect(localState(root, {}, '/home/u').targets.startsWith(root)).toBe(false);
  });

  test('is where the installed targets, pid records and history of this checkout are', () => {
    expect(targetsPath(PROJECT_ROOT, 'venv')).toBe(join(PROJECT_ROOT, '.targets', 'venv'));
    expect(localState(PROJECT_ROOT).history).toBe(join(PROJECT_ROOT, '.jitc', 'history.sqlite'));
  });
});
