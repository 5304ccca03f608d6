/**
 * What `npm pack` ships is what an installed jitc needs: the suites and every module they import
 * (vitest compiles them from the package), the data files read at run time, the compiled CLI, and
 * nothing that would make an installed jitc try to build itself or carry the project's tests.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

/** Every project file a module imports, transitively, by relative path. */
function importGraph(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+\.ts)'/g)) visit(resolve(dirname(file), m[1]!));
  };
  entries.forEach(visit);
  return new Set([...seen].map((f) => relative(PROJECT_ROOT, f)));
}

describe('the npm package', () => {
  let packed: Set<string>;

  beforeAll(() => {
    // --ignore-scripts: the listing only, without building dist/ (checked through `files` below).
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const [pack] = JSON.parse(r.stdout) as { files: { path: string }[] }[];
    packed = new Set(pack!.files.map((f) => f.path));
  }, 120_000);

  test('holds every suite and every module the suites import', () => {
    const suites = readdirSync(join(PROJECT_ROOT, 'suites')).filter((f) => f.endsWith('.suite.ts')).map((f) => join(PROJECT_ROOT, 'suites', f));
    const needed = [...importGraph(suites)];
    expect(needed.length).toBeGreaterThan(20);
    expect(needed.filter((f) => !packed.has(f))).toEqual([]);
  });

  test('holds what the CLI reads at run time: scenarios, catalogue, waivers, the broker examples', () => {
    for (const f of ['bin/jitc', 'package.json', 'README.md', 'scenarios/controls.yaml', 'waivers/local.yaml', 'examples/brokers/vault-token/broker.sh', 'docs/broker-answer.schema.json']) expect(packed, f).toContain(f);
    const builtin = [...packed].filter((f) => f.startsWith('scenarios/builtin/') && f.endsWith('.yaml'));
    expect(builtin.length).toBeGreaterThan(20);
  });

  test('ships the compiled CLI, and neither the build settings nor the tests', () => {
    const files = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { files: string[] }).files;
    expect(files).toContain('dist');
    if (existsSync(join(PROJECT_ROOT, 'dist', 'cli', 'main.js'))) expect(packed).toContain('dist/cli/main.js');
    // Without tsconfig.build.json bin/jitc runs the dist/ it was shipped with and never builds.
    for (const f of packed) expect(f).not.toMatch(/^(test\/|tsconfig\.build\.json$|bin\/build-cli$|\.targets|\.jitc\/|dist\/build\.log$|reports\/out\/)/);
  });
});
