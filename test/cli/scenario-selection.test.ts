/**
 * `--scenario` selects built-in scenarios and scenario files alike, and a scenario file runs on its
 * own: alone on the command line, only it runs, in the suite of its adapter; with `--scenario <its
 * id>` it is found like any built-in one.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import type { Summary } from '../../reports/writers/summary.ts';
import { BUILTIN_DIR } from '../../scenarios/load.ts';
import { jitc } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'jitc-selection-'));

/** A copy of the quickest built-in Vault scenario under an id of its own. */
const fileScenario = join(dir, 'own-vault-scenario.yaml');
const builtin = parse(readFileSync(join(BUILTIN_DIR, 'vault', 'zero-standing-privilege.yaml'), 'utf8')) as Record<string, unknown>;
writeFileSync(fileScenario, stringify({ ...builtin, id: 'own-zero-standing-privilege', title: 'A scenario from a file' }));

function ran(out: string): string[] {
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
  return summary.scenarios.map((s) => `${s.adapter}/${s.id}=${s.verdict}`).sort();
}

describe('scenario files and --scenario', () => {
  test('a scenario file alone runs on its own, in its adapter\'s suite, with no built-in beside it', () => {
    const out = join(dir, 'alone');
    const result = jitc(['run', '--scenario-file', fileScenario, '--out', out]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stderr).toMatch(/: 1 scenarios on vault \(local targets/);
    expect(ran(out)).toEqual(['vault/own-zero-standing-privilege=pass']);
  }, 180_000);

  test('--scenario selects a scenario from --scenario-file by its id, beside a built-in one it also names', () => {
    const out = join(dir, 'selected');
    const result = jitc(['run', '--suite', 'vault', '--scenario-file', fileScenario, '--scenario', 'own-zero-standing-privilege,zero-standing-privilege', '--out', out]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(ran(out)).toEqual(['vault/own-zero-standing-privilege=pass', 'vault/zero-standing-privilege=pass']);
  }, 180_000);

  test('--scenario naming only the file\'s id runs the file alone', () => {
    const out = join(dir, 'only-file');
    const result = jitc(['run', '--scenario-file', fileScenario, '--scenario', 'own-zero-standing-privilege', '--out', out]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(ran(out)).toEqual(['vault/own-zero-standing-privilege=pass']);
  }, 180_000);
});
