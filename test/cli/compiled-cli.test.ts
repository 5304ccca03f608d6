/**
 * bin/jitc runs the compiled CLI, and never a stale one: a copy of the sources without dist/
 * builds on its first start, starts again without building, builds again when a source changes,
 * and, shipped as a package (no build settings), runs what it ships.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

const SOURCES = ['bin', 'cli', 'adapters', 'scenarios', 'reports', 'suites', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];

function help(root: string): string {
  const r = spawnSync(join(root, 'bin', 'jitc'), ['--help'], { encoding: 'utf8', timeout: 180_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

const built = (root: string): number => statSync(join(root, 'dist', '.built')).mtimeMs;

/** Edit the CLI's description, dated a moment later than the last build started. */
function editDescription(root: string, to: string): void {
  const file = join(root, 'cli', 'main.ts');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/\.description\('Proves[^']*'\)/, `.description('${to}')`));
  const later = new Date(built(root) + 2_000);
  utimesSync(file, later, later);
}

describe('the compiled command line', () => {
  let root: string;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'jitc-compiled-'));
    for (const entry of SOURCES) cpSync(join(PROJECT_ROOT, entry), join(root, entry), { recursive: true, filter: (f) => !/\/reports\/out(\/|$)/.test(f) });
    symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(root, 'node_modules'));
  });

  test('is built on the first start of a tree without dist/, and runs', () => {
    expect(existsSync(join(root, 'dist'))).toBe(false);
    expect(help(root)).toMatch(/Proves that just-in-time privilege really vanishes/);
    expect(existsSync(join(root, 'dist', 'cli', 'main.js'))).toBe(true);
  }, 180_000);

  test('is not built again while no source changed', () => {
    const before = built(root);
    help(root);
    expect(built(root)).toBe(before);
  }, 60_000);

  test('is not built again once a run has written its outputs into reports/out', () => {
    const before = built(root);
    // A run's first outputs make reports/out, which changes reports/'s own time: no source changed.
    mkdirSync(join(root, 'reports', 'out'), { recursive: true });
    const later = new Date(before + 2_000);
    utimesSync(join(root, 'reports', 'out'), later, later);
    utimesSync(join(root, 'reports'), later, later);
    help(root);
    expect(built(root)).toBe(before);
  }, 60_000);

  test('is built again when a source is newer than the build: the change shows at once', () => {
    editDescription(root, 'Edited since the last build.');
    expect(help(root)).toMatch(/Edited since the last build\./);
  }, 180_000);

  test('is built again when a source file is deleted (its directory changed)', () => {
    const before = built(root);
    const orphan = join(root, 'cli', 'orphan.ts');
    writeFileSync(orphan, 'export const orphan = 1;\n');
    // Not imported by anything, so not compiled; its removal still dates its directory.
    const later = new Date(before + 2_000);
    utimesSync(orphan, later, later);
    rmSync(orphan);
    utimesSync(join(root, 'cli'), later, later);
    help(root);
    expect(built(root)).toBeGreaterThan(before);
  }, 180_000);

  test('shipped without build settings, runs what it ships and never builds', () => {
    rmSync(join(root, 'tsconfig.build.json'));
    const before = built(root);
    editDescription(root, 'Changed in an installed package.');
    expect(help(root)).toMatch(/Edited since the last build\./);
    expect(built(root)).toBe(before);
  }, 60_000);
});
