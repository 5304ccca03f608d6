/**
 * `jitc discover` refuses bad input the way every jitc command does — one line on stderr naming
 * what is wrong and where, exit 2 — before any target starts or anything is written; and its help
 * states the policy's defaults.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { expectRefused, jitc } from '../support/cli.ts';

const scratch = mkdtempSync(join(tmpdir(), 'jitc-discover-input-'));

describe.concurrent('jitc discover with bad input', () => {
  test('without --out', () => {
    expectRefused(jitc(['discover']), /required option '--out <dir>' not specified/);
  });

  test('a target mode it does not offer', () => {
    expectRefused(jitc(['discover', '--target', 'container', '--out', join(scratch, 'a')]), /--target.*container.*local, external/);
  });

  test('an unknown suite, and an adapter that has no discovery', () => {
    expectRefused(jitc(['discover', '--suite', 'vualt', '--out', join(scratch, 'b')]), /--suite: unknown suite "vualt"/);
    expectRefused(jitc(['discover', '--suite', 'broker', '--out', join(scratch, 'c')]), /--suite: adapter broker has no discovery \(adapters that have: aws, ldap, vault\)/);
    expect(existsSync(join(scratch, 'b')) || existsSync(join(scratch, 'c'))).toBe(false);
  });

  test('a policy outside the config schema', () => {
    const bad = join(scratch, 'bad-policy.yaml');
    writeFileSync(bad, 'policy:\n  maxWindowSeconds: 0\n');
    expectRefused(jitc(['discover', '--config', bad, '--out', join(scratch, 'd')]), /bad-policy\.yaml: policy\.maxWindowSeconds: /);
    const typo = join(scratch, 'typo-policy.yaml');
    writeFileSync(typo, 'policy:\n  maxWaitSecs: 10\n');
    expectRefused(jitc(['discover', '--config', typo, '--out', join(scratch, 'd')]), /typo-policy\.yaml: policy\.maxWaitSecs: unknown key/);
    expect(existsSync(join(scratch, 'd'))).toBe(false);
  });

  test('an output directory that holds files jitc did not write is left as it was', () => {
    const dir = join(scratch, 'theirs');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    expectRefused(jitc(['discover', '--suite', 'vault', '--out', dir]), /theirs is not empty and is not a jitc output directory/);
    expect(readdirSync(dir)).toEqual(['notes.txt']);
  });

  test('--help states the policy defaults and the exit codes', () => {
    const help = jitc(['discover', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/maxWindowSeconds .*\(default 3600\)/);
    expect(help.stdout).toMatch(/maxWaitSeconds .*\(default 300\)/);
    expect(help.stdout).toContain('Exit codes: 0 no static finding fails, 1 one fails, 2 bad input.');
  });
});
