/**
 * The control catalogue is where checks meet controls: every check the code can emit is declared
 * there, every control a check names exists, and an auditor can follow each control to its text.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { CATALOGUE_PATH, checkDefinition, loadCatalogue, SEVERITIES } from '../../scenarios/catalogue.ts';
import { PROJECT_ROOT } from '../../scenarios/input.ts';

/** Every .ts file under a project folder, recursively. */
function sources(folder: string): string[] {
  return readdirSync(join(PROJECT_ROOT, folder), { withFileTypes: true }).flatMap((e) => {
    const path = join(folder, e.name);
    if (e.isDirectory()) return sources(path);
    return e.isFile() && e.name.endsWith('.ts') ? [join(PROJECT_ROOT, path)] : [];
  });
}

/**
 * Check ids written as literals where a check is emitted: `addCheck('x', …)` in the engine,
 * `check: 'x'` on reuse handles and mechanism findings, `checkDefinition('x')`.
 */
const EMITTED = [/\baddCheck\(\s*['"`]([a-z0-9-]+)['"`]/g, /\bcheck:\s*['"`]([a-z0-9-]+)['"`]/g, /\bcheckDefinition\(\s*['"`]([a-z0-9-]+)['"`]/g];

function emittedChecks(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of ['scenarios', 'adapters', 'suites', 'reports'].flatMap(sources)) {
    const text = readFileSync(file, 'utf8');
    for (const pattern of EMITTED) {
      for (const [, id] of text.matchAll(pattern)) found.set(id!, [...(found.get(id!) ?? []), relative(PROJECT_ROOT, file)]);
    }
  }
  return found;
}

describe('the control catalogue', () => {
  const catalogue = loadCatalogue();
  const raw = parse(readFileSync(CATALOGUE_PATH, 'utf8')) as {
    controls: Record<string, { url?: unknown }>;
    checks: Record<string, { controls: string[] }>;
  };

  test('every check the code can emit is in the catalogue', () => {
    const emitted = emittedChecks();
    const missing = [...emitted].filter(([id]) => !catalogue.checks.has(id)).map(([id, files]) => `${id} (${files.join(', ')})`);
    expect(missing).toEqual([]);
  });

  test('the scan finds the checks the engine and the Vault mechanisms emit, so it is not vacuous', () => {
    const emitted = [...emittedChecks().keys()];
    for (const id of [
      'zero-standing-privilege',
      'ttl-bounded',
      'privilege-width',
      'grant-usable',
      'lifecycle-completed',
      'no-residue',
      'reuse-denied',
      'credential-invalidated',
      'derived-credentials-denied',
      'session-ended-with-task',
      'holder-cannot-extend',
    ]) {
      expect(emitted, id).toContain(id);
    }
  });

  test('every control a check references exists', () => {
    for (const [id, check] of Object.entries(raw.checks)) {
      for (const control of check.controls) expect(Object.keys(raw.controls), `${id} → ${control}`).toContain(control);
    }
  });

  test('each control has a URL an auditor can follow', () => {
    expect(catalogue.controls.size).toBeGreaterThan(0);
    for (const [id, control] of catalogue.controls) {
      expect(control.url, id).toMatch(/^https:\/\/\S+$/);
      expect(control.title, id).not.toBe('');
      expect(control.framework, id).not.toBe('');
    }
  });

  test('each check names at least one control, a severity and what a failure means', () => {
    for (const [id, check] of catalogue.checks) {
      expect(check.controls.length, id).toBeGreaterThan(0);
      expect(SEVERITIES, id).toContain(check.severity);
      expect(check.meaning.length, id).toBeGreaterThan(10);
    }
  });

  test('every control is evidenced by at least one check', () => {
    const evidenced = new Set([...catalogue.checks.values()].flatMap((c) => c.controls));
    expect([...catalogue.controls.keys()].filter((id) => !evidenced.has(id))).toEqual([]);
  });

  test('the design document’s headline controls are there: OWASP NHI-03 and NIST CSF PR.AC-4', () => {
    expect(catalogue.controls.has('OWASP-NHI-03')).toBe(true);
    expect(catalogue.controls.has('NIST-CSF-PR.AC-4')).toBe(true);
  });

  test('a check outside the catalogue is refused by name', () => {
    expect(() => checkDefinition('no-such-check')).toThrow(/check "no-such-check" is not in the control catalogue/);
  });

  test('a check definition carries its id with the catalogue entry', () => {
    expect(checkDefinition('reuse-denied')).toMatchObject({ id: 'reuse-denied', severity: 'critical' });
  });
});
