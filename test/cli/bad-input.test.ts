/**
 * Bad input of every kind gets one line naming what is wrong and where, exit code 2, no stack
 * trace, and nothing started: no server process, no pid file, no output directory.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { jitc } from '../support/cli.ts';
import { serversStartedBy } from '../support/run-servers.ts';

const dir = mkdtempSync(join(tmpdir(), 'jitc-bad-input-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};


const cases: [string, string[], RegExp][] = [
  ['an unknown flag', ['run', '--frobnicate'], /unknown option '--frobnicate'/],
  ['an unknown command', ['launch'], /unknown command 'launch'/],
  ['a target mode that does not exist', ['run', '--target', 'cloud'], /--target.*cloud.*(local|choices)/],
  ['a concurrency that is not a number', ['run', '--concurrency', 'many'], /--concurrency needs a whole number/],
  ['a concurrency of zero', ['run', '--concurrency', '0'], /--concurrency needs a whole number/],
  ['an unknown suite', ['run', '--suite', 'kerberos'], /--suite: unknown suite "kerberos"/],
  ['an unknown scenario', ['run', '--suite', 'vault', '--scenario', 'nope'], /--scenario: no scenario "nope"/],
  ['a config file that does not exist', ['run', '--config', join(dir, 'missing.yaml')], /missing\.yaml: cannot read \(ENOENT\)/],
  ['a config file that is not YAML', ['run', '--config', file('broken.yaml', 'target: [local\n')], /broken\.yaml: not valid YAML/],
  ['a config file with a bad target', ['run', '--config', file('target.yaml', 'target: cloud\n')], /target\.yaml: target: /],
  ['a config file with a bad concurrency', ['run', '--config', file('conc.yaml', 'concurrency: -3\n')], /conc\.yaml: concurrency: /],
  [
    'a waiver file without a justification',
    ['run', '--suite', 'vault', '--waivers', file('w.yaml', 'waivers:\n  - id: x\n    adapter: vault\n    scenario: token-ttl-expiry\n    acceptedBy: me\n    expires: 2030-01-01\n')],
    /w\.yaml: waivers\.0\.justification: /,
  ],
  [
    'a waiver file with a bad date',
    ['run', '--suite', 'vault', '--waivers', file('d.yaml', 'waivers:\n  - id: x\n    adapter: vault\n    scenario: s\n    justification: accepted for a good reason\n    acceptedBy: me\n    expires: tomorrow\n')],
    /d\.yaml: waivers\.0\.expires: expected a date as YYYY-MM-DD/,
  ],
  ['an external Vault without an address', ['run', '--suite', 'vault', '--target', 'external'], /external vault target: set VAULT_ADDR/],
  ['a cleanup run id that is not one', ['cleanup', '--run', '../../etc'], /--run: "\.\.\/\.\.\/etc" is not a run id/],
];

describe('bad input is one line and exit code 2', () => {
  test.each(cases)('%s', (_name, args, message) => {
    const out = join(dir, `out-${Math.random().toString(36).slice(2)}`);
    const env = { VAULT_ADDR: '', BAO_ADDR: '', VAULT_TOKEN: '', BAO_TOKEN: '' };
    const result = jitc(args[0] === 'run' ? [...args, '--out', out] : args, env);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^jitc: /);
    expect(lines[0]).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.pid).toBeGreaterThan(0);
    expect(serversStartedBy(result.pid)).toEqual([]);
    expect(existsSync(out)).toBe(false);
  });

  test('an unreachable external Vault is one line and exit 2', () => {
    const result = jitc(['run', '--suite', 'vault', '--target', 'external', '--out', join(dir, 'unreachable')], {
      VAULT_ADDR: 'http://127.0.0.1:9',
      VAULT_TOKEN: 'not-a-real-token',
    });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/external vault target http:\/\/127\.0\.0\.1:9 is not usable: ECONNREFUSED/);
  });
});
